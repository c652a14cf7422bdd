"""`rollout abort NAME`: the baseline restored and verified, or `rollout.abort/v1`; and the loud
message when it could not be."""

from __future__ import annotations

from typing import Any

from rollout.records import Run, Weights

SCHEMA = "rollout.abort/v1"


def data(run: Run, weights: Weights) -> dict[str, Any]:
    return {
        "name": run.name,
        "phase": run.phase.value,
        "weights": weights.model_dump(),
        "verified": True,
    }


def human(run: Run, weights: Weights) -> list[str]:
    return [f"{run.name}: {run.phase.value}; router verified at {weights}"]


def incomplete(name: str, problem: str, *, recorded: bool = True) -> str:
    """For `output.loud`: a person must not miss that traffic may still reach the candidate."""
    said = "the abort is recorded" if recorded else "the abort could not even be recorded"
    return (
        f"ABORT INCOMPLETE for {name}: {said}, but the baseline could not be restored: "
        f"{problem}\nTraffic may still reach the candidate. Run `rollout abort {name}` again, or "
        "restore the baseline in the router by hand; the next look at the rollout (apply, "
        "status, abort) re-asserts it."
    )


def unrecorded(name: str, problem: str) -> str:
    """For `output.loud`: traffic is safe, the record is not."""
    return (
        f"ABORT NOT RECORDED for {name}: traffic is at the baseline (verified at the router), "
        f"but the state store could not be written: {problem}\n"
        "A running `rollout apply` cannot move traffic while it cannot read the store, and when "
        "the store is back it pauses rather than push traffic back to the candidate. Run "
        f"`rollout abort {name}` again once the store is reachable to record the abort."
    )
