"""`rollout status NAME`: where a rollout is, for people and as `rollout.status/v1`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.llm import units
from rollout.records import Holder, Run
from rollout.views import runs
from rollout.views._format import ago, iso

SCHEMA = "rollout.status/v1"


def data(run: Run, now: datetime, holder: Holder | None = None) -> dict[str, Any]:
    return {
        **runs.data(run),
        "holder": str(holder) if holder is not None else None,
        # the cost gate's per-request change at 100 % and a month of it (rollout.llm.units)
        "cost_projection": units.cost_projection(run.plan.spec, run.verdicts),
    }


def human(run: Run, now: datetime, holder: Holder | None = None) -> list[str]:
    lines = runs.summary(run, now)
    projection = units.cost_projection(run.plan.spec, run.verdicts)
    if projection is not None:
        lines.append("  " + units.projection_line(projection))
    if run.intent is not None:
        lines.append(f"  pending intent: {run.intent.action} by {run.intent.actor}")
    if holder is not None:
        lines.append(f"  being applied by {holder}")
    since = (now - run.updated_at).total_seconds()
    lines.append(f"  updated {iso(run.updated_at)} ({ago(since)})")
    return lines
