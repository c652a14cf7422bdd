"""`rollout list`: one row per rollout, or `rollout.list/v1`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout.engine import current_step
from rollout.records import Run
from rollout.views import runs
from rollout.views._format import iso, step_of

SCHEMA = "rollout.list/v1"
EMPTY = "no rollouts yet (rollout apply PLAN starts one)"


def data(items: Sequence[Run]) -> dict[str, Any]:
    return {"rollouts": [runs.data(r) for r in items]}


def human(items: Sequence[Run]) -> list[str]:
    if not items:
        return [EMPTY]
    head = f"{'NAME':<28} {'ATTEMPT':>7}  {'PHASE':<18} {'STEP':>7}  {'STAGE':<12} {'CANDIDATE':>9}"
    lines = [f"{head}  UPDATED"]
    for r in items:
        step = current_step(r.plan, r)
        stage = step.stage if step is not None and step.stage else "-"
        w = f"{r.desired.candidate}%" if r.desired is not None else "-"
        x, y = step_of(r)
        lines.append(
            f"{r.name:<28} {r.attempt:>7}  {r.phase.value:<18} {f'{x}/{y}':>7}  {stage:<12} "
            f"{w:>9}  {iso(r.updated_at)}"
        )
    return lines
