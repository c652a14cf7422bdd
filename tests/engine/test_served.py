"""The split the router serves against the split it was set to: a mismatch halts, naming why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout.engine import Observation, advance
from rollout.gates.evaluate import Tick
from rollout.records import Phase, Weights
from rollout.runner import new_run
from tests.helpers.plans import make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _pilot():
    plan = make_plan()
    run = new_run(plan, T0)
    run = advance(
        plan, run, Observation(weights=Weights.all_baseline(), preflight={"r": "ok"}), T0
    ).run
    run = advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run
    return plan, run.model_copy(update={"verified": Weights.of(5)})


def _tick() -> dict[str, Tick]:
    readings = {
        "baseline": {"events": 10.0, "total": 1000.0},
        "candidate": {"events": 0.5, "total": 50.0},
    }
    return {"error-rate": Tick(at=T0, stage="pilot", weight=5, readings=readings)}


def test_a_router_that_serves_nothing_to_the_candidate_halts_with_its_cause() -> None:
    plan, run = _pilot()
    cause = "APIM: the candidate backend gpt41 is in priority group 2; group 1 serves all traffic"
    obs = Observation(weights=Weights.of(5), ticks=_tick(), served=Weights.of(0), causes=(cause,))
    d = advance(plan, run, obs, T0 + timedelta(seconds=20))
    assert d.run.phase == Phase.PAUSED and not d.actions
    assert "serves 0 % to the candidate but is set to 5 %" in d.run.message
    assert "priority group 2" in d.run.message


def test_a_served_split_within_tolerance_goes_on() -> None:
    plan, run = _pilot()
    obs = Observation(weights=Weights.of(5), ticks=_tick(), served=Weights.of(6))
    d = advance(plan, run, obs, T0 + timedelta(seconds=20))
    assert d.run.phase == Phase.PROGRESSING
