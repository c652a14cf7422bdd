"""What the runner hands the engine after running the eval command: pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from rollout.evaluation.scores import Scores


@dataclass(frozen=True)
class VariantRun:
    variant: str
    scores: Scores | None = None  # metric -> item id -> value
    error: str | None = None  # why there are no scores (exit code, timeout, malformed output)
    items: int = 0  # items the output held


@dataclass(frozen=True)
class EvaluationRun:
    """Both variants' runs of the eval command over the dataset."""

    runs: dict[str, VariantRun] = field(default_factory=dict)
    dataset: str = ""  # the path, as the plan gives it
    dataset_sha256: str | None = None
    dataset_ids: tuple[str, ...] | None = None  # item ids the dataset lists, when it can say
    simulated: bool = False  # `rollout simulate`: nothing was run (offline step, no traffic)

    @property
    def error(self) -> str | None:
        for r in self.runs.values():
            if r.error is not None:
                return r.error
        if not self.simulated and set(self.runs) != {"baseline", "candidate"}:
            return "the evaluation did not run for both variants"
        return None


# `rollout simulate` drives the engine in virtual time and runs no command: this marks the
# offline step as not run (the engine says so in an event and goes on; apply never sends it).
SIMULATED = EvaluationRun(simulated=True)
