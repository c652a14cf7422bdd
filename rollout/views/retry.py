"""`rollout retry NAME`: the new attempt, or `rollout.retry/v1`."""

from __future__ import annotations

from typing import Any

from rollout.records import Run
from rollout.views import runs

SCHEMA = "rollout.retry/v1"


def data(run: Run, previous_attempt: int) -> dict[str, Any]:
    return {**runs.data(run), "previous_attempt": previous_attempt, "source": run.plan.source}


def human(run: Run, previous_attempt: int) -> list[str]:
    return [
        f"{run.name}: attempt {run.attempt} is ready (attempt {previous_attempt} stays in the "
        f"history); run `rollout apply {run.plan.source or 'PLAN'}` to drive it"
    ]
