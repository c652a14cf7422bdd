"""The step kinds other than analysis: preflight, set_weight, approval, promote; and rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.engine.types import Decision, Observation, SetWeights, ev, next_step
from rollout.records import Phase, Plan, Run, Step, Weights


def preflight(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    if obs.preflight is None:
        return Decision(run=run, wake_at=now)  # the runner runs the checks on its next pass
    baseline = obs.weights or Weights.all_baseline()
    e = ev(
        "preflight",
        now,
        "preflight passed: " + ", ".join(f"{k} {v}" for k, v in obs.preflight.items()),
        checks=obs.preflight,
        weights_before=baseline.model_dump(),
    )
    return Decision(run=next_step(run, now, message="preflight passed"), events=(e,), wake_at=now)


def set_weight(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    w = Weights.of(step.weight or 0)
    e = ev(
        "weights",
        now,
        f"stage {step.stage}: shifting to {w}",
        stage=step.stage,
        weights=w.model_dump(),
    )
    return Decision(
        run=next_step(
            run, now, desired=w, message=f"{step.stage}: {step.weight}% on the candidate"
        ),
        actions=(SetWeights(w, f"stage {step.stage}"),),
        events=(e,),
        wake_at=now,
    )


def approval(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    if step.stage in run.approved:
        e = ev("approval", now, f"stage {step.stage} approved", stage=step.stage)
        new = next_step(run, now, phase=Phase.PROGRESSING, message=f"{step.stage} approved")
        return Decision(run=new, events=(e,), wake_at=now)
    if run.phase == Phase.AWAITING_APPROVAL:
        return Decision(run=run, wake_at=None)
    msg = f"waiting for approval to start stage {step.stage}: rollout promote {plan.name}"
    e = ev("phase", now, msg, phase=Phase.AWAITING_APPROVAL.value, stage=step.stage)
    # last_tick_at stays: the watch over the candidate goes on from the last analysed moment.
    waiting = run.model_copy(update={"phase": Phase.AWAITING_APPROVAL, "message": msg})
    return Decision(run=waiting, events=(e,), wake_at=None)


def promote(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    w = Weights.of(100)
    events = []
    if run.desired != w:
        events.append(ev("weights", now, f"promoting: {w}", weights=w.model_dump()))
    d = finish(run.model_copy(update={"desired": w}), now)
    actions = (SetWeights(w, "promote"),) if run.desired != w else ()
    return Decision(run=d.run, actions=actions, events=(*events, *d.events), wake_at=None)


def finish(run: Run, now: datetime) -> Decision:
    msg = "completed: the candidate serves 100 % and is the new baseline"
    e = ev("phase", now, msg, phase=Phase.COMPLETED.value)
    done = run.model_copy(
        update={"phase": Phase.COMPLETED, "step_index": len(run.plan.steps), "message": msg}
    )
    return Decision(run=done, events=(e,), wake_at=None)


def rollback(
    run: Run,
    now: datetime,
    reason: str,
    *,
    phase: Phase = Phase.ROLLING_BACK,
    actor: str | None = None,
    **data: Any,
) -> Decision:
    """Restore the baseline. The runner marks ROLLED_BACK once the router confirms it.

    Pending intents are dropped (a rollback outranks a queued pause or promote); the event
    names them so the audit trail shows what was not acted on."""
    base = Weights.all_baseline()
    if run.intents:
        data["dropped_intents"] = [i.action for i in run.intents]
    e = ev(
        "phase",
        now,
        f"{phase.value}: {reason}",
        actor=actor,
        phase=phase.value,
        reason=reason,
        **data,
    )
    new = run.model_copy(update={"phase": phase, "desired": base, "message": reason, "intents": ()})
    return Decision(run=new, actions=(SetWeights(base, reason),), events=(e,), wake_at=None)


def evaluate(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    from rollout.evaluation.step import evaluate_step  # the offline paired evaluation

    return evaluate_step(plan, run, step, obs, now)


STEPS = {
    "evaluate": evaluate,
    "preflight": preflight,
    "set_weight": set_weight,
    "approval": approval,
    "promote": promote,
}
