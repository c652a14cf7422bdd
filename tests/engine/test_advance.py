"""The pure engine: table-style tests of advance(), with time passed in (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rollout import engine
from rollout.engine import Observation, SetWeights, advance, wanted
from rollout.gates.evaluate import Tick
from rollout.records import Intent, Phase, Run, Weights
from rollout.runner import new_run
from tests.helpers.plans import make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tick(stage: str, weight: int, cand_err: float, base_err: float = 0.01, n: float = 1000) -> Tick:
    return Tick(
        at=T0,
        stage=stage,
        weight=weight,
        readings={
            "baseline": {"events": n * base_err, "total": n},
            "candidate": {"events": n * cand_err, "total": n},
        },
    )


def step_through(plan, run: Run, now: datetime, obs: Observation) -> tuple[Run, list]:
    """Advance while the engine wants to go on at once; collect actions."""
    actions = []
    for _ in range(20):
        d = advance(plan, run, obs, now)
        actions += d.actions
        run = d.run
        if d.wake_at is None or d.wake_at > now or not (d.actions or d.events):
            break
        obs = Observation(weights=run.desired or obs.weights)
    return run, actions


def test_preflight_waits_for_checks_then_shifts_to_the_pilot():
    plan = make_plan()
    run = new_run(plan, T0)
    assert wanted(plan, run, T0).preflight
    d = advance(plan, run, Observation(weights=Weights.all_baseline()), T0)
    assert d.run.step_index == 0 and not d.actions  # no checks yet: nothing moves
    d = advance(
        plan, run, Observation(weights=Weights.all_baseline(), preflight={"router": "ok"}), T0
    )
    assert d.run.step_index == 1 and d.run.phase == Phase.PROGRESSING
    d = advance(plan, d.run, Observation(weights=Weights.all_baseline()), T0)
    assert d.actions == (SetWeights(Weights.of(5), "stage pilot"),)
    assert d.run.desired == Weights.of(5)  # recorded in the decision, before the runner acts
    assert plan.steps[d.run.step_index].kind == "analyze"


def _at_pilot_analysis(plan) -> Run:
    run = new_run(plan, T0)
    run = advance(
        plan, run, Observation(weights=Weights.all_baseline(), preflight={"router": "ok"}), T0
    ).run
    return advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run


def test_analysis_ticks_every_interval_and_advances_after_the_bake():
    plan = make_plan()
    run = _at_pilot_analysis(plan)
    assert wanted(plan, run, at(10)).tick is None
    req = wanted(plan, run, at(20)).tick
    assert (
        req is not None and req.start == T0 and req.end == at(20) and req.gates == ("error-rate",)
    )
    for s in (20, 40):
        d = advance(
            plan,
            run,
            Observation(weights=Weights.of(5), ticks={"error-rate": tick("pilot", 5, 0.01)}),
            at(s),
        )
        assert d.run.step_index == 2 and d.wake_at == at(s + 20)
        run = d.run
    d = advance(
        plan,
        run,
        Observation(weights=Weights.of(5), ticks={"error-rate": tick("pilot", 5, 0.01)}),
        at(60),
    )
    assert d.run.step_index == 3  # bake over, gate passes: on to expansion
    assert [e.kind for e in d.events] == ["verdict", "step"]


def test_a_failing_gate_rolls_back_with_its_numbers():
    plan = make_plan()
    run = _at_pilot_analysis(plan)
    d = advance(
        plan,
        run,
        Observation(weights=Weights.of(5), ticks={"error-rate": tick("pilot", 5, 0.05)}),
        at(20),
    )
    assert d.run.phase == Phase.ROLLING_BACK
    assert d.actions == (SetWeights(Weights.all_baseline(), d.run.message),)
    assert d.run.desired == Weights.all_baseline()
    fail = next(e for e in d.events if e.kind == "verdict")
    assert fail.data["status"] == "fail" and fail.data["evidence"]["candidate"] == pytest.approx(
        0.05
    )
    assert d.wake_at is None


def test_drift_is_healed_before_anything_else():
    plan = make_plan()
    run = _at_pilot_analysis(plan)
    d = advance(plan, run, Observation(weights=Weights.all_baseline()), at(5))
    assert d.actions == (SetWeights(Weights.of(5), "drift"),)
    assert d.events[0].kind == "drift" and d.run.step_index == run.step_index


def test_approval_waits_then_promote_intent_continues():
    plan = make_plan(
        stages=[
            {"name": "pilot", "weight": 5, "bake": "60s"},
            {"name": "full", "weight": 100, "approval": True},
        ]
    )
    run = _at_pilot_analysis(plan)
    run = run.model_copy(
        update={"step_index": plan.steps.index(next(s for s in plan.steps if s.kind == "approval"))}
    )
    d = advance(plan, run, Observation(weights=Weights.of(5)), at(70))
    assert d.run.phase == Phase.AWAITING_APPROVAL and d.wake_at is None and not d.actions
    intent = Intent(action="promote", actor="oncall@host", at=at(80))
    d = advance(
        plan,
        d.run.model_copy(update={"intents": (intent,)}),
        Observation(weights=Weights.of(5)),
        at(80),
    )
    assert not d.run.intents and d.run.phase == Phase.PROGRESSING and "full" in d.run.approved
    d = advance(plan, d.run, Observation(weights=Weights.of(5)), at(80))
    assert (
        d.run.step_index
        == plan.steps.index(next(s for s in plan.steps if s.kind == "approval")) + 1
    )


def test_abort_intent_restores_the_baseline_and_is_idempotent():
    plan = make_plan()
    run = _at_pilot_analysis(plan).model_copy(
        update={"intents": (Intent(action="abort", actor="a@b", at=at(5), reason="pager"),)}
    )
    d = advance(plan, run, Observation(weights=Weights.of(5)), at(5))
    assert d.run.phase == Phase.ABORTED and d.actions == (
        SetWeights(Weights.all_baseline(), d.run.message),
    )
    assert "pager" in d.run.message and d.events[0].actor == "a@b"
    again = advance(
        plan,
        d.run.model_copy(update={"intents": (Intent(action="abort", actor="a@b", at=at(6)),)}),
        Observation(weights=Weights.all_baseline()),
        at(6),
    )
    assert again.run.phase == Phase.ABORTED and not again.actions


def test_pause_and_resume():
    plan = make_plan()
    run = _at_pilot_analysis(plan)
    d = advance(
        plan,
        run.model_copy(update={"intents": (Intent(action="pause", actor="x@y", at=at(1)),)}),
        Observation(weights=Weights.of(5)),
        at(1),
    )
    assert d.run.phase == Phase.PAUSED
    # A paused rollout whose candidate still takes traffic is still watched.
    watch = wanted(plan, d.run, at(40)).tick
    assert watch is not None and watch.gates == ("error-rate",) and watch.weight == 5
    assert (
        advance(plan, d.run, Observation(weights=Weights.of(5)), at(40)).run.phase == Phase.PAUSED
    )
    r = advance(
        plan,
        d.run.model_copy(update={"intents": (Intent(action="resume", actor="x@y", at=at(41)),)}),
        Observation(weights=Weights.of(5)),
        at(41),
    )
    assert r.run.phase == Phase.PROGRESSING


def test_promote_full_skips_to_100():
    plan = make_plan()
    run = _at_pilot_analysis(plan).model_copy(
        update={"intents": (Intent(action="promote_full", actor="x@y", at=at(1)),)}
    )
    run, actions = step_through(plan, run, at(1), Observation(weights=Weights.of(5)))
    assert run.phase == Phase.COMPLETED and actions[-1] == SetWeights(Weights.of(100), "promote")


@pytest.mark.parametrize(
    ("policy", "phase", "moves_on"),
    [
        # proceed never proceeds from a stage that was never measured
        ("proceed", Phase.PAUSED, False),
        ("rollback", Phase.ROLLING_BACK, False),
    ],
)
def test_inconclusive_at_the_end_of_the_bake(policy, phase, moves_on):
    plan = make_plan(analysis={"interval": "20s", "method": "threshold", "on_inconclusive": policy})
    run = _at_pilot_analysis(plan)
    no_data = Tick(at=T0, stage="pilot", weight=5, readings=None)
    d = advance(
        plan, run, Observation(weights=Weights.of(5), ticks={"error-rate": no_data}), at(60)
    )
    assert d.run.phase == phase
    assert (d.run.step_index == run.step_index + 1) is moves_on


def test_extend_then_pause_for_a_person():
    plan = make_plan(
        analysis={
            "interval": "20s",
            "method": "threshold",
            "on_inconclusive": "extend",
            "max_extensions": 1,
        }
    )
    run = _at_pilot_analysis(plan)
    no_data = Tick(at=T0, stage="pilot", weight=5, readings=None)
    d = advance(
        plan, run, Observation(weights=Weights.of(5), ticks={"error-rate": no_data}), at(60)
    )
    assert d.run.extensions == 1 and d.run.phase == Phase.PROGRESSING
    assert engine.bake_end(plan.steps[d.run.step_index], d.run) == at(120)
    d = advance(
        plan, d.run, Observation(weights=Weights.of(5), ticks={"error-rate": no_data}), at(120)
    )
    assert d.run.phase == Phase.PAUSED and "rollout promote demo" in d.run.message
    # promote accepts the inconclusive stage
    d = advance(
        plan,
        d.run.model_copy(update={"intents": (Intent(action="promote", actor="x@y", at=at(130)),)}),
        Observation(weights=Weights.of(5)),
        at(130),
    )
    assert d.run.phase == Phase.PROGRESSING and d.run.step_index == run.step_index + 1


def test_min_requests_holds_a_stage_that_saw_too_little_traffic():
    plan = make_plan(
        stages=[
            {"name": "pilot", "weight": 5, "bake": "60s", "min_requests": 5000},
            {"name": "full", "weight": 100},
        ],
        analysis={"interval": "60s", "method": "threshold", "on_inconclusive": "rollback"},
    )
    run = _at_pilot_analysis(plan)
    d = advance(
        plan,
        run,
        Observation(weights=Weights.of(5), ticks={"error-rate": tick("pilot", 5, 0.01, n=100)}),
        at(60),
    )
    assert d.run.phase == Phase.ROLLING_BACK and "min_requests 5000" in d.run.message


def test_until_index_is_just_past_the_stage():
    plan = make_plan()
    i = engine.stage_end_index(plan, "pilot")
    assert plan.steps[i - 1].stage == "pilot" and plan.steps[i].stage == "expansion"
    with pytest.raises(ValueError):
        engine.stage_end_index(plan, "nope")


def test_a_run_of_another_plan_is_refused():
    plan, other = make_plan(), make_plan(name="other")
    with pytest.raises(ValueError):
        advance(plan, new_run(other, T0), Observation(weights=None), T0)


def test_a_100_percent_bake_passes_unless_a_gate_fails():
    """No baseline runs alongside at 100 %: inconclusive relative gates do not hold the stage."""
    plan = make_plan(
        stages=[{"name": "full", "weight": 100, "bake": "20s"}],
        analysis={"interval": "20s", "method": "threshold", "on_inconclusive": "rollback"},
    )
    run = _at_pilot_analysis(plan)
    no_baseline = Tick(
        at=T0, stage="full", weight=100, readings={"candidate": {"events": 1, "total": 1000}}
    )
    d = advance(
        plan, run, Observation(weights=Weights.of(100), ticks={"error-rate": no_baseline}), at(20)
    )
    assert d.run.phase == Phase.PROGRESSING and d.run.step_index == run.step_index + 1
    plan2 = make_plan(
        stages=[{"name": "full", "weight": 100, "bake": "20s"}],
        gates=[
            {"name": "error-rate", "kind": "proportion", "events": "e", "total": "t", "max": 0.01}
        ],
        analysis={"interval": "20s", "method": "threshold"},
    )
    run2 = _at_pilot_analysis(plan2)
    over = Tick(
        at=T0, stage="full", weight=100, readings={"candidate": {"events": 50, "total": 1000}}
    )
    d2 = advance(
        plan2, run2, Observation(weights=Weights.of(100), ticks={"error-rate": over}), at(20)
    )
    assert d2.run.phase == Phase.ROLLING_BACK  # an absolute ceiling still fires at 100 %
