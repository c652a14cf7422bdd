"""Exceptions and the exit-code contract (README: CI scripts depend on these)."""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes: a public contract. Never renumber.
EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_INVALID = 2
EXIT_ROLLED_BACK = 3
EXIT_ABORTED = 4
EXIT_WAITING = 5
EXIT_LOCKED = 6
EXIT_UNRECORDED = 7  # abort: baseline restored and verified, but the state store not written
EXIT_INTERRUPTED = 130


class RolloutError(Exception):
    """An expected failure with a message the user can act on (exit 1)."""

    exit_code = EXIT_RUNTIME


class InvalidInput(RolloutError):
    """Bad plan, bad arguments, unknown rollout: nothing was changed (exit 2)."""

    exit_code = EXIT_INVALID


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file: `plan.yaml:14:7: stages[1].weights[0]: ...`."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SpecError(InvalidInput):
    """A plan that does not validate; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownRollout(InvalidInput):
    pass


class ProviderError(RolloutError):
    """A router, metrics source or cloud API failed (after retries)."""


class NoData(Exception):
    """A metrics query returned no series / no samples. Not an error: gates read it as
    inconclusive (and a gap: missing data is never evidence)."""


class StateError(RolloutError):
    """The state store could not be read or written."""


class StaleState(StateError):
    """A commit lost a race: the stored revision moved on. Reload and decide again."""


class Fenced(RolloutError):
    """A router write lost the race: the run moved on (abort, pause, a newer revision) before it
    was sent. The write is not sent; the runner reloads and decides again."""


class LeaseHeld(RolloutError):
    """Another live process holds this rollout's lease (exit 6)."""

    exit_code = EXIT_LOCKED


class PlanRuleErrors(ValueError):
    """Several cross-field problems at once, each with its own field path (spec and the signal
    catalog raise it; loading turns it into located diagnostics)."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(m for _, m in problems))
