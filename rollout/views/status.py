"""`rollout status NAME`: where a rollout is, for people and as `rollout.status/v1`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.durations import format_duration
from rollout.engine.types import current_step, judged_end, settle_of
from rollout.llm import units
from rollout.records import Holder, Run, Step
from rollout.views import runs
from rollout.views._format import ago, iso

SCHEMA = "rollout.status/v1"


def data(run: Run, now: datetime, holder: Holder | None = None) -> dict[str, Any]:
    return {
        **runs.data(run),
        "holder": str(holder) if holder is not None else None,
        # the cost gate's per-request change at 100 % and a month of it (rollout.llm.units)
        "cost_projection": units.cost_projection(run.plan.spec, run.verdicts),
        # a baking step with settled gates moves on only once its outcomes settle (or null)
        "settled_in_seconds": settled_in(run, now),
    }


def human(run: Run, now: datetime, holder: Holder | None = None) -> list[str]:
    lines = runs.summary(run, now)
    projection = units.cost_projection(run.plan.spec, run.verdicts)
    if projection is not None:
        lines.append("  " + units.projection_line(projection))
    settled = settled_in(run, now)
    if settled is not None:
        settle = settle_of(run.plan, _step(run).gates)
        lines.append(
            f"  bake + settle {format_duration(settle)}: judged to its end in "
            f"{format_duration(int(settled))}"
        )
    if run.intent is not None:
        lines.append(f"  pending intent: {run.intent.action} by {run.intent.actor}")
    if holder is not None:
        lines.append(f"  being applied by {holder}")
    since = (now - run.updated_at).total_seconds()
    lines.append(f"  updated {iso(run.updated_at)} ({ago(since)})")
    return lines


def _step(run: Run) -> Step:
    step = current_step(run.plan, run)
    assert step is not None
    return step


def settled_in(run: Run, now: datetime) -> float | None:
    """Seconds until the current bake has been judged to its end: the bake left plus the
    slowest `settle` of its gates (engine.types.judged_end); None when not baking or nothing
    settles."""
    if runs.bake_left(run, now) is None or not settle_of(run.plan, _step(run).gates):
        return None
    return max(0.0, (judged_end(run.plan, _step(run), run) - now).total_seconds())
