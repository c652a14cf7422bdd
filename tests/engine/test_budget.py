"""The spend cap (rollout.engine.budget): the candidate's spend is counted from the cost gate's
readings each tick; reaching the cap rolls back, and a tick without a cost reading never lets
a stage pass. Time is passed in; no clock, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.engine import Observation, advance
from rollout.engine import budget as budget_mod
from rollout.gates.evaluate import Tick
from rollout.records import Phase, Plan, Run, Weights
from rollout.runner import new_run
from tests.helpers.plans import ERROR_GATE, make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
COST_GATE = {"name": "cost", "signal": "cost-per-request", "max_ratio": 1.1, "required": False}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def plan_with(cap: float | None, **over: Any) -> Plan:
    extra: dict[str, Any] = {"budget": {"max_candidate_cost": cap}} if cap is not None else {}
    return make_plan(gates=[ERROR_GATE, COST_GATE], **extra, **over)


def ticks(stage: str, weight: int, spend: float | None, *, error: str | None = None) -> dict:
    n = 1000.0
    err = Tick(
        at=T0,
        stage=stage,
        weight=weight,
        readings={
            "baseline": {"events": 10.0, "total": n},
            "candidate": {"events": 10.0, "total": n},
        },
    )
    if spend is None:
        cost = Tick(at=T0, stage=stage, weight=weight, readings=None, error=error)
    else:
        mean = spend / n
        side = {"count": n, "sum": spend, "sum_squares": n * mean * mean * 1.1}
        cost = Tick(
            at=T0, stage=stage, weight=weight, readings={"baseline": side, "candidate": side}
        )
    return {"error-rate": err, "cost": cost}


def at_pilot(plan: Plan) -> Run:
    run = new_run(plan, T0)
    obs = Observation(weights=Weights.all_baseline(), preflight={"router": "ok"})
    run = advance(plan, run, obs, T0).run
    run = advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run
    assert plan.steps[run.step_index].kind == "analyze" and run.desired == Weights.of(5)
    return run


def look(plan: Plan, run: Run, s: float, spend: float | None, **kw: Any) -> Any:
    stage = plan.steps[run.step_index].stage or ""
    w = run.desired.candidate if run.desired else 0
    return advance(
        plan, run, Observation(weights=run.desired, ticks=ticks(stage, w, spend, **kw)), at(s)
    )


def test_rolls_back_when_the_spend_reaches_the_cap_and_not_before() -> None:
    plan = plan_with(1.0)
    run = at_pilot(plan)
    for i, s in enumerate((20, 40), 1):
        d = look(plan, run, s, 0.3)
        assert d.run.phase == Phase.PROGRESSING, d.run.message
        assert d.run.gates[budget_mod.KEY]["spent"] == pytest.approx(0.3 * i)
        run = d.run
    d = look(plan, run, 60, 0.3)  # 0.9 of 1.0: the bake ends and the pilot passes
    assert d.run.phase == Phase.PROGRESSING and d.run.step_index > run.step_index
    run = d.run
    while plan.steps[run.step_index].kind != "analyze":  # on to expansion at 25 %
        run = advance(plan, run, Observation(weights=run.desired), at(60)).run
    d = look(plan, run, 80, 0.15)  # 1.05 >= 1.0
    assert d.run.phase == Phase.ROLLING_BACK
    assert d.run.desired == Weights.all_baseline()
    assert d.run.message == "budget: candidate spent $1.05 of $1.00 (budget.max_candidate_cost)"
    back = next(e for e in d.events if e.kind == "phase")
    assert back.data["reason"] == d.run.message
    assert back.data["budget"]["spent"] == pytest.approx(1.05) and back.data["budget"]["cap"] == 1


def test_the_spend_is_shown_on_the_cost_gates_verdict() -> None:
    plan = plan_with(250.0)
    d = look(plan, at_pilot(plan), 20, 1.5)
    shown = d.run.verdicts["cost"]["budget"]
    assert shown == {"spent": 1.5, "cap": 250.0, "unmeasured_ticks": 0}


def test_without_a_budget_nothing_is_counted() -> None:
    plan = plan_with(None)
    d = look(plan, at_pilot(plan), 20, 1e6)
    assert budget_mod.KEY not in d.run.gates and "budget" not in d.run.verdicts["cost"]
    assert d.run.phase == Phase.PROGRESSING


@pytest.mark.parametrize("missing", ["no data", "failed query"])
def test_a_tick_without_a_cost_reading_never_lets_the_stage_pass(missing: str) -> None:
    error = "HTTP 503" if missing == "failed query" else None
    for cap, passes in ((None, True), (250.0, False)):
        plan = plan_with(cap)
        run = at_pilot(plan)
        run = look(plan, run, 20, 0.1).run
        run = look(plan, run, 40, None, error=error).run  # the spend of this window is unknown
        d = look(plan, run, 60, 0.1)  # bake over: the error-rate gate passes
        if passes:  # an advisory cost gate without a budget does not hold the stage
            assert d.run.step_index > run.step_index
            continue
        assert d.run.step_index == run.step_index and d.run.phase == Phase.PROGRESSING
        extend = next(e for e in d.events if e.kind == "extend")
        assert "budget: 1 interval(s) without a cost reading" in extend.message
        assert d.run.gates[budget_mod.KEY]["spent"] == pytest.approx(0.2)  # never a guess


def test_missing_cost_readings_never_proceed_nor_promote_at_100() -> None:
    plan = plan_with(
        250.0,
        stages=[{"name": "full", "weight": 100, "bake": "60s"}],
        analysis={"interval": "20s", "method": "threshold", "on_inconclusive": "proceed"},
    )
    run = at_pilot_full(plan)
    run = look(plan, run, 20, 0.1).run
    run = look(plan, run, 40, None).run
    d = look(plan, run, 60, 0.1)
    assert d.run.phase == Phase.PAUSED  # a person decides; nothing is promoted on a guess
    assert "without a cost reading" in d.run.message and "not proceeding" in d.run.message


def at_pilot_full(plan: Plan) -> Run:
    run = new_run(plan, T0)
    obs = Observation(weights=Weights.all_baseline(), preflight={"router": "ok"})
    run = advance(plan, run, obs, T0).run
    run = advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run
    assert plan.steps[run.step_index].kind == "analyze" and run.desired == Weights.of(100)
    return run


def test_blind_cost_ticks_count_as_no_data_and_pause() -> None:
    plan = plan_with(250.0)
    run = at_pilot(plan)
    for s in (20, 40, 60):
        d = look(plan, run, s, None)
        run = d.run
    assert run.no_data == 3 and run.phase == Phase.PAUSED
    assert "cost had no usable reading" in run.message


def test_a_paused_run_keeps_counting_and_rolls_back_at_the_cap() -> None:
    plan = plan_with(1.0)
    run = at_pilot(plan).model_copy(update={"phase": Phase.PAUSED, "last_tick_at": T0})
    run = run.model_copy(update={"verified": run.desired})
    d = look(plan, run, 20, 0.6)
    assert d.run.phase == Phase.PAUSED
    d = look(plan, d.run, 40, 0.6)
    assert d.run.phase == Phase.ROLLING_BACK and d.run.message.startswith("budget: candidate")


def test_spend_of_refuses_impossible_readings() -> None:
    def one(**cand: float) -> Tick:
        return Tick(at=T0, stage="s", weight=5, readings={"candidate": cand})

    assert budget_mod.spend_of(one(count=10, sum=0.5)) == 0.5
    for bad in (
        one(count=0, sum=0.0),
        one(count=10, sum=-1.0),
        one(count=10, sum=float("nan")),
        one(count=10),
        None,
    ):
        assert budget_mod.spend_of(bad) is None
