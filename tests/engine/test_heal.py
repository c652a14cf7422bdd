"""engine.heal: the router against the record, in the three cases the module names."""

from __future__ import annotations

from datetime import UTC, datetime

from rollout.engine import Observation, SetWeights, advance
from rollout.engine.heal import heal
from rollout.records import Phase, Weights
from rollout.runner import new_run
from tests.helpers.plans import make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _run(desired: int, verified: int | None, phase: Phase = Phase.PROGRESSING):
    plan = make_plan()
    run = new_run(plan, T0).model_copy(
        update={
            "phase": phase,
            "step_index": 3,
            "step_started_at": T0,
            "desired": Weights.of(desired),
            "verified": None if verified is None else Weights.of(verified),
        }
    )
    return plan, run


def test_an_act_that_was_never_confirmed_is_made_again() -> None:
    _, run = _run(desired=25, verified=5)  # died between commit and act
    d = heal(run, Observation(weights=Weights.of(5)), T0, wake=T0)
    assert d.actions == (SetWeights(Weights.of(25), "drift"),)
    assert d.events[0].data["action"] == "reasserted"


def test_more_candidate_traffic_than_recorded_is_always_taken_back() -> None:
    _, run = _run(desired=5, verified=5)
    d = heal(run, Observation(weights=Weights.of(50)), T0, wake=T0)  # a stale writer
    assert d.actions == (SetWeights(Weights.of(5), "drift"),)


def test_traffic_moved_toward_the_baseline_outside_rollout_pauses_instead_of_pushing_back() -> None:
    plan, run = _run(desired=25, verified=25)
    d = advance(plan, run, Observation(weights=Weights.all_baseline()), T0)
    assert not d.actions  # never push candidate traffic back over someone's safety action
    assert d.run.phase == Phase.PAUSED and d.run.desired == Weights.all_baseline()
    assert "outside rollout" in d.events[0].message and "rollout resume demo" in d.events[0].message


def test_an_aborted_run_keeps_the_baseline_whoever_moved_it() -> None:
    plan, run = _run(desired=0, verified=0, phase=Phase.ABORTED)
    d = advance(plan, run, Observation(weights=Weights.of(5)), T0)
    assert d.actions == (SetWeights(Weights.all_baseline(), "drift"),)


def test_a_completed_run_is_left_alone() -> None:
    plan, run = _run(desired=100, verified=100, phase=Phase.COMPLETED)
    d = advance(plan, run, Observation(weights=Weights.of(80)), T0)
    assert not d.actions and not d.events


def test_agreement_records_the_verification_lazily() -> None:
    _, run = _run(desired=25, verified=5)
    d = heal(run, Observation(weights=Weights.of(25)), T0, wake=T0)
    assert not d.actions and d.run.verified == Weights.of(25)
