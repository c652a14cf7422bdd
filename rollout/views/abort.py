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


def incomplete(name: str, problem: str) -> str:
    """For `output.loud`: a person must not miss that traffic may still reach the candidate."""
    return (
        f"ABORT INCOMPLETE for {name}: the abort is recorded, but the baseline could not be "
        f"restored: {problem}\nTraffic may still reach the candidate. Run `rollout abort {name}` "
        "again, or restore the baseline in the router by hand."
    )
