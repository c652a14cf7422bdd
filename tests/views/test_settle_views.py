"""`settle:` in the views: `rollout status` says when a baking step with settled gates is judged
to its end (its bake plus the slowest settle, engine.types.judged_end), and `rollout plan`'s
minimum total time adds each bake's settle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rollout.loading import Loaded
from rollout.records import Phase, Plan, Run
from rollout.runner import new_run
from rollout.views import plan as plan_view
from rollout.views import status
from tests.helpers.plans import ERROR_GATE, make_plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def settled_plan(settle: str | None = "90s", **over: Any) -> Plan:
    gate = {**ERROR_GATE, "settle": settle} if settle else ERROR_GATE
    slow = {**ERROR_GATE, "name": "slow", "settle": "3m"}
    return make_plan(gates=[gate, slow], **over) if settle else make_plan(**over)


def baking(plan: Plan, now_in: int) -> tuple[Run, datetime]:
    first = next(i for i, s in enumerate(plan.steps) if s.kind == "analyze")
    run = new_run(plan, T0).model_copy(
        update={"phase": Phase.PROGRESSING, "step_index": first, "step_started_at": T0}
    )
    return run, T0 + timedelta(seconds=now_in)


def test_status_adds_the_slowest_settle_to_the_bake_left() -> None:
    run, now = baking(settled_plan(), 20)  # a 60s bake, gates settling 90s and 3m
    lines = status.human(run, now)
    assert "bake 40s left" in lines[0]
    assert "  bake + settle 3m: judged to its end in 3m40s" in lines
    assert status.data(run, now)["settled_in_seconds"] == 220.0


def test_status_counts_down_the_settle_once_the_bake_has_ended() -> None:
    run, now = baking(settled_plan(), 100)
    assert "  bake + settle 3m: judged to its end in 2m20s" in status.human(run, now)


def test_status_without_settle_says_nothing_more() -> None:
    run, now = baking(settled_plan(None), 20)
    assert not any("settle" in line for line in status.human(run, now))
    assert status.data(run, now)["settled_in_seconds"] is None


def test_plan_minimum_total_time_adds_each_bakes_settle() -> None:
    plan = settled_plan()  # three 60s bakes (pilot, 25 %, 50 %), each judged 3m after its end
    loaded = Loaded(spec=plan.spec, plan=plan, path=Path("plan.yaml"))
    lines = plan_view.human(loaded, None)
    assert "minimum total time: 12m (bakes and 9m of settle; approvals wait for a person)" in lines
    assert plan_view.data(loaded, None)["min_total_seconds"] == 3 * 60 + 3 * 180
    plain = make_plan()
    loaded = Loaded(spec=plain.spec, plan=plain, path=loaded.path)
    assert "minimum total time: 3m (bakes only; approvals wait for a person)" in plan_view.human(
        loaded, None
    )
