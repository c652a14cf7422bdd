"""Control verbs are a queue: none erases another, each is consumed in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout.engine import Observation, SetWeights, advance
from rollout.records import Intent, Phase, Weights
from rollout.runner import new_run
from tests.helpers.plans import make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _at_pilot(plan):
    run = new_run(plan, T0)
    run = advance(
        plan, run, Observation(weights=Weights.all_baseline(), preflight={"r": "ok"}), T0
    ).run
    return advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run


def _intent(action: str, s: int) -> Intent:
    return Intent(action=action, actor="oncall@laptop", at=T0 + timedelta(seconds=s))


def test_pause_then_promote_before_anyone_looks_are_both_honoured_in_order() -> None:
    plan = make_plan()
    run = _at_pilot(plan).model_copy(update={"verified": Weights.of(5)})
    run = run.model_copy(update={"intents": (_intent("pause", 1), _intent("promote", 2))})
    first = advance(plan, run, Observation(weights=Weights.of(5)), T0)
    assert first.run.phase == Phase.PAUSED and len(first.run.intents) == 1
    second = advance(plan, first.run, Observation(weights=Weights.of(5)), T0)
    # promote on a rollout paused in its analysis step accepts the step (as Argo does)
    assert not second.run.intents and second.run.phase == Phase.PROGRESSING
    assert second.run.step_index == run.step_index + 1
    kinds = [e.data.get("phase") or e.kind for e in (*first.events, *second.events)]
    assert kinds == ["paused", "approval"]


def test_resume_after_an_outside_move_re_applies_the_stage_weight() -> None:
    plan = make_plan()
    run = _at_pilot(plan).model_copy(update={"verified": Weights.of(5)})
    paused = advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run
    assert paused.phase == Phase.PAUSED and paused.desired == Weights.all_baseline()
    resumed = advance(
        plan,
        paused.model_copy(update={"intents": (_intent("resume", 5),)}),
        Observation(weights=Weights.all_baseline()),
        T0,
    )
    assert resumed.actions == (SetWeights(Weights.of(5), "resume"),)
    assert resumed.run.phase == Phase.PROGRESSING


def test_a_rollback_drops_queued_intents_and_says_which() -> None:
    from rollout.engine import rollback

    plan = make_plan()
    run = _at_pilot(plan).model_copy(update={"intents": (_intent("promote", 1),)})
    d = rollback(run, T0, "gate failed")
    assert not d.run.intents and d.events[0].data["dropped_intents"] == ["promote"]
