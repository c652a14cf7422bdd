"""Control verbs as a queue: each intent (who, when, why) is consumed in order, one per call.

None erases another: `pause` then `promote` before the runner looks are both honoured, in that
order, and each one's effect is an event in the history. `abort` is recorded by the verb itself
(it needs no runner), so it does not go through the queue; a queued one is still honoured.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollout.engine.steps import rollback
from rollout.engine.types import (
    POLL_SECONDS,
    Decision,
    SetWeights,
    current_step,
    ev,
    next_step,
    step_weight,
)
from rollout.records import Intent, Phase, Plan, Run, Weights


def consume(plan: Plan, run: Run, now: datetime) -> Decision:
    intent = run.intents[0]
    rest = run.model_copy(update={"intents": run.intents[1:]})
    return _act(plan, rest, intent, now)


def _act(plan: Plan, run: Run, intent: Intent, now: datetime) -> Decision:
    who = intent.actor
    why = f" ({intent.reason})" if intent.reason else ""
    if intent.action == "abort":
        if run.phase == Phase.ABORTED:
            return Decision(run=run, wake_at=now)
        return rollback(run, now, f"aborted by {who}{why}", phase=Phase.ABORTED, actor=who)
    if run.phase.finished or run.phase == Phase.ROLLING_BACK:
        e = ev(
            "intent",
            now,
            f"{intent.action} by {who} ignored: the rollout is {run.phase.value}",
            actor=who,
        )
        return Decision(run=run, events=(e,), wake_at=now)
    if intent.action == "pause":
        msg = f"paused by {who}{why}"
        e = ev("phase", now, msg, actor=who, phase=Phase.PAUSED.value)
        paused = run.model_copy(update={"phase": Phase.PAUSED, "message": msg})
        return Decision(run=paused, events=(e,), wake_at=now + timedelta(seconds=POLL_SECONDS))
    if intent.action == "resume":
        return _resume(plan, run, who, why, now)
    if intent.action == "promote_full":
        e = ev(
            "intent",
            now,
            f"promoted to full by {who}{why}: skipping the remaining steps",
            actor=who,
        )
        new = run.model_copy(
            update={
                "phase": Phase.PROGRESSING,
                "step_index": len(plan.steps) - 1,
                "step_started_at": now,
            }
        )
        return Decision(run=new, events=(e,), wake_at=now)
    return _promote(plan, run, who, why, now)


def _resume(plan: Plan, run: Run, who: str, why: str, now: datetime) -> Decision:
    if run.phase != Phase.PAUSED:
        e = ev("intent", now, f"resume by {who}: the rollout was not paused", actor=who)
        return Decision(run=run, events=(e,), wake_at=now)
    e = ev("phase", now, f"resumed by {who}{why}", actor=who, phase=Phase.PROGRESSING.value)
    update = {"phase": Phase.PROGRESSING, "message": f"resumed by {who}", "no_data": 0}
    resumed = run.model_copy(update=update)
    # Paused because traffic was moved toward the baseline outside rollout: resume re-applies
    # the weight the steps taken so far stand for.
    want = Weights.of(step_weight(plan, run))
    if run.desired is not None and run.desired != want:
        resumed = resumed.model_copy(update={"desired": want})
        return Decision(
            run=resumed, actions=(SetWeights(want, "resume"),), events=(e,), wake_at=now
        )
    return Decision(run=resumed, events=(e,), wake_at=now)


def _promote(plan: Plan, run: Run, who: str, why: str, now: datetime) -> Decision:
    """Approve the approval step we wait at, or the next one ahead of time; on a rollout paused in
    an analysis step (inconclusive, halted, or by hand), accept that step (as Argo does)."""
    step = current_step(plan, run)
    if run.phase == Phase.PAUSED and step is not None and step.kind == "analyze":
        e = ev(
            "approval",
            now,
            f"stage {step.stage} at {step.weight}% accepted by {who}{why}",
            actor=who,
            stage=step.stage,
        )
        return Decision(
            run=next_step(run, now, phase=Phase.PROGRESSING, no_data=0), events=(e,), wake_at=now
        )
    upcoming = [
        s
        for s in plan.steps[run.step_index :]
        if s.kind == "approval" and s.stage not in run.approved
    ]
    if not upcoming:
        e = ev("intent", now, f"promote by {who}: no approval step left to approve", actor=who)
        return Decision(run=run, events=(e,), wake_at=now)
    stage = upcoming[0].stage or ""
    e = ev("approval", now, f"stage {stage} approved by {who}{why}", actor=who, stage=stage)
    new = run.model_copy(update={"approved": (*run.approved, stage)})
    if run.phase == Phase.AWAITING_APPROVAL:
        new = new.model_copy(update={"phase": Phase.PROGRESSING})
    return Decision(run=new, events=(e,), wake_at=now)
