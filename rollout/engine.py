"""The rollout state machine. Pure: no clock, network, database or terminal in here.

    wanted(plan, run, now)              -> what the runner must observe before deciding
    advance(plan, run, obs, now)        -> Decision(run', actions, events, wake_at)

`advance` makes at most one transition per call so that every transition is its own commit;
the runner calls it again at once while `wake_at <= now`. Actions are idempotent: the runner
commits the decision first, then acts, then verifies on the next tick (drift heals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rollout.gates.evaluate import Settings, Tick, Verdict, evaluate
from rollout.records import Event, Intent, Phase, Plan, Run, Step, Weights
from rollout.spec import Gate

POLL_SECONDS = 2.0  # how often a waiting runner looks for intents


@dataclass(frozen=True)
class SetWeights:
    weights: Weights
    reason: str


Action = SetWeights


@dataclass(frozen=True)
class TickRequest:
    """Query these gates over [start, end) for both variants."""

    start: datetime
    end: datetime
    gates: tuple[str, ...]
    stage: str
    weight: int


@dataclass(frozen=True)
class Wants:
    preflight: bool = False
    tick: TickRequest | None = None


@dataclass(frozen=True)
class Observation:
    weights: Weights | None  # what the router says now (None: not read)
    ticks: dict[str, Tick] = field(default_factory=dict)  # gate -> readings for the window
    preflight: dict[str, str] | None = None  # check -> result, when preflight ran and passed


@dataclass(frozen=True)
class Decision:
    run: Run
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    wake_at: datetime | None = None  # None: nothing more to do (finished or waiting for a person)


def gate_specs(plan: Plan) -> dict[str, Gate]:
    return {g.name: g for g in plan.spec.gates}


def alpha_share(plan: Plan) -> float:
    """Each gate's share of the plan's family-wise alpha (Bonferroni: valid uniformly over time).

    Under `method: sequential`, `value` gates keep threshold semantics and spend no alpha."""
    gates = list(plan.spec.gates)
    if plan.spec.analysis.method == "sequential":
        gates = [g for g in gates if g.kind != "value"]
    return plan.spec.analysis.alpha / max(1, len(gates))


def current_step(plan: Plan, run: Run) -> Step | None:
    return plan.steps[run.step_index] if run.step_index < len(plan.steps) else None


def _ev(kind: str, now: datetime, message: str, actor: str | None = None, **data: Any) -> Event:
    # The engine builds these fields itself; skipping validation matters on the simulate hot path.
    return Event.model_construct(
        kind=kind, at=now, message=message, actor=actor, data=data, seq=None, attempt=None
    )


def _bake_end(step: Step, run: Run) -> datetime:
    assert run.step_started_at is not None and step.duration is not None
    return run.step_started_at + timedelta(seconds=step.duration * (1 + run.extensions))


def wanted(plan: Plan, run: Run, now: datetime) -> Wants:
    if run.phase.finished or run.phase in (
        Phase.PAUSED,
        Phase.AWAITING_APPROVAL,
        Phase.ROLLING_BACK,
    ):
        return Wants()
    if run.intent is not None:
        return Wants()
    step = current_step(plan, run)
    if step is None:
        return Wants()
    if step.kind == "preflight":
        return Wants(preflight=True)
    if step.kind == "analyze" and step.gates and run.step_started_at is not None:
        last = run.last_tick_at or run.step_started_at
        due = min(last + timedelta(seconds=step.interval or 60), max(_bake_end(step, run), last))
        if now >= due and now > last:
            return Wants(
                tick=TickRequest(
                    start=last,
                    end=now,
                    gates=step.gates,
                    stage=step.stage or "",
                    weight=step.weight or 0,
                )
            )
    return Wants()


def advance(plan: Plan, run: Run, obs: Observation, now: datetime) -> Decision:
    if run.plan_hash != plan.plan_hash:
        raise ValueError(
            "run and plan disagree; the runner starts a new attempt for a changed plan"
        )
    if run.intent is not None:
        return _intent(plan, run, run.intent, now)
    if run.phase.finished:
        return _heal(run, obs, now, wake=None)
    if run.phase == Phase.ROLLING_BACK:
        if obs.weights is not None and obs.weights == run.desired:
            # A rollback interrupted after the router took the baseline (e.g. the process died
            # before recording it): the observation is the verification.
            ev = _ev(
                "phase",
                now,
                "rolled back: baseline restored and verified",
                phase=Phase.ROLLED_BACK.value,
            )
            return Decision(
                run=run.model_copy(update={"phase": Phase.ROLLED_BACK}), events=(ev,), wake_at=None
            )
        return _heal(run, obs, now, wake=None)  # set it again; the runner marks it rolled back
    if run.phase in (Phase.PAUSED, Phase.AWAITING_APPROVAL):
        return _heal(run, obs, now, wake=now + timedelta(seconds=POLL_SECONDS))
    healed = _heal(run, obs, now, wake=now)
    if healed.actions:
        return healed
    step = current_step(plan, run)
    if step is None:  # all steps done but not marked: finish
        return _finish(run, now)
    if run.phase == Phase.PENDING:
        run = run.model_copy(update={"phase": Phase.PROGRESSING})
    return _STEPS[step.kind](plan, run, step, obs, now)


def _heal(run: Run, obs: Observation, now: datetime, *, wake: datetime | None) -> Decision:
    """Observed weights differ from what we recorded: put the recorded ones back."""
    if run.desired is not None and obs.weights is not None and obs.weights != run.desired:
        ev = _ev(
            "drift",
            now,
            f"router holds {obs.weights}, recorded {run.desired}: setting it again",
            observed=obs.weights.model_dump(),
            desired=run.desired.model_dump(),
        )
        return Decision(
            run=run, actions=(SetWeights(run.desired, "drift"),), events=(ev,), wake_at=now
        )
    return Decision(run=run, wake_at=wake)


def _next(run: Run, now: datetime, **update: Any) -> Run:
    base = {
        "step_index": run.step_index + 1,
        "step_started_at": now,
        "last_tick_at": None,
        "extensions": 0,
    }
    base.update(update)
    return run.model_copy(update=base)


def _preflight(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    if obs.preflight is None:
        return Decision(run=run, wake_at=now)  # the runner runs the checks on its next pass
    baseline = obs.weights or Weights.all_baseline()
    ev = _ev(
        "preflight",
        now,
        "preflight passed: " + ", ".join(f"{k} {v}" for k, v in obs.preflight.items()),
        checks=obs.preflight,
        weights_before=baseline.model_dump(),
    )
    return Decision(run=_next(run, now, message="preflight passed"), events=(ev,), wake_at=now)


def _set_weight(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    w = Weights.of(step.weight or 0)
    ev = _ev(
        "weights",
        now,
        f"stage {step.stage}: shifting to {w}",
        stage=step.stage,
        weights=w.model_dump(),
    )
    return Decision(
        run=_next(run, now, desired=w, message=f"{step.stage}: {step.weight}% on the candidate"),
        actions=(SetWeights(w, f"stage {step.stage}"),),
        events=(ev,),
        wake_at=now,
    )


def _approval(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    if step.stage in run.approved:
        ev = _ev("approval", now, f"stage {step.stage} approved", stage=step.stage)
        return Decision(
            run=_next(run, now, phase=Phase.PROGRESSING, message=f"{step.stage} approved"),
            events=(ev,),
            wake_at=now,
        )
    if run.phase == Phase.AWAITING_APPROVAL:
        return Decision(run=run, wake_at=None)
    msg = f"waiting for approval to start stage {step.stage}: rollout promote {plan.name}"
    ev = _ev("phase", now, msg, phase=Phase.AWAITING_APPROVAL.value, stage=step.stage)
    return Decision(
        run=run.model_copy(update={"phase": Phase.AWAITING_APPROVAL, "message": msg}),
        events=(ev,),
        wake_at=None,
    )


def _promote(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    w = Weights.of(100)
    events = []
    if run.desired != w:
        events.append(_ev("weights", now, f"promoting: {w}", weights=w.model_dump()))
    d = _finish(run.model_copy(update={"desired": w}), now)
    actions = (SetWeights(w, "promote"),) if run.desired != w else ()
    return Decision(run=d.run, actions=actions, events=(*events, *d.events), wake_at=None)


def _finish(run: Run, now: datetime) -> Decision:
    msg = "completed: the candidate serves 100 % and is the new baseline"
    ev = _ev("phase", now, msg, phase=Phase.COMPLETED.value)
    return Decision(
        run=run.model_copy(
            update={"phase": Phase.COMPLETED, "step_index": len(run.plan.steps), "message": msg}
        ),
        events=(ev,),
        wake_at=None,
    )


def rollback(
    run: Run,
    now: datetime,
    reason: str,
    *,
    phase: Phase = Phase.ROLLING_BACK,
    actor: str | None = None,
    **data: Any,
) -> Decision:
    """Restore the baseline. The runner marks ROLLED_BACK once the router confirms it."""
    base = Weights.all_baseline()
    ev = _ev(
        "phase",
        now,
        f"{phase.value}: {reason}",
        actor=actor,
        phase=phase.value,
        reason=reason,
        **data,
    )
    new = run.model_copy(
        update={"phase": phase, "desired": base, "message": reason, "intent": None}
    )
    return Decision(run=new, actions=(SetWeights(base, reason),), events=(ev,), wake_at=None)


def _analyze(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    assert run.step_started_at is not None
    end = _bake_end(step, run)
    if not step.gates:
        if now >= end:
            ev = _ev(
                "step",
                now,
                f"stage {step.stage}: bake of {step.duration}s done (no gates)",
                stage=step.stage,
            )
            return Decision(run=_next(run, now), events=(ev,), wake_at=now)
        return Decision(run=run, wake_at=end)
    if not obs.ticks:
        last = run.last_tick_at or run.step_started_at
        return Decision(
            run=run, wake_at=min(last + timedelta(seconds=step.interval or 60), max(end, now))
        )

    gates = gate_specs(plan)
    settings = Settings(
        method=plan.spec.analysis.method,
        alpha=alpha_share(plan),
        failure_limit=plan.spec.analysis.failure_limit,
        stage_complete=now >= end,
    )
    states = dict(run.gates)
    verdicts = dict(run.verdicts)
    events: list[Event] = []
    results: list[Verdict] = []
    exposure = dict(run.exposure)
    seen = 0.0
    for name in step.gates:
        tick = obs.ticks.get(name)
        if tick is None:
            continue
        states[name], verdict = evaluate(gates[name], states.get(name, {}), tick, settings)
        results.append(verdict)
        verdicts[name] = verdict.model_dump()
        events.append(
            _ev(
                "verdict",
                now,
                verdict.summary,
                gate=name,
                status=verdict.status,
                halt=verdict.halt,
                stage=step.stage,
                evidence=verdict.evidence,
            )
        )
        cand = (tick.readings or {}).get("candidate", {})
        seen = max(seen, cand.get("total", 0.0), cand.get("count", 0.0))
    stage = step.stage or ""
    exposure[stage] = exposure.get(stage, 0.0) + seen
    run = run.model_copy(
        update={"gates": states, "verdicts": verdicts, "last_tick_at": now, "exposure": exposure}
    )

    failed = [v for v in results if v.status == "fail" and gates[v.gate].required]
    if failed:
        reason = "; ".join(v.summary for v in failed)
        d = rollback(
            run,
            now,
            f"gate failed: {reason}",
            gates=[v.gate for v in failed],
            evidence={v.gate: v.evidence for v in failed},
        )
        return Decision(run=d.run, actions=d.actions, events=(*events, *d.events), wake_at=None)
    halted = [v for v in results if v.halt]
    if halted:
        msg = (
            "halted for a person: "
            + "; ".join(v.summary for v in halted)
            + f" (rollout resume {plan.name} or rollout abort {plan.name})"
        )
        ev = _ev("phase", now, msg, phase=Phase.PAUSED.value, gates=[v.gate for v in halted])
        return Decision(
            run=run.model_copy(update={"phase": Phase.PAUSED, "message": msg}),
            events=(*events, ev),
            wake_at=None,
        )
    if now < end:
        return Decision(
            run=run,
            events=tuple(events),
            wake_at=min(now + timedelta(seconds=step.interval or 60), end),
        )

    # The bake is over: the stage passes if every required gate passes and exposure suffices.
    required = [g for g in step.gates if gates[g].required]
    pending = [g for g in required if (verdicts.get(g) or {}).get("status") != "pass"]
    if step.weight == 100:
        # No baseline runs alongside at 100 %: relative tests cannot gain evidence here, so this
        # bake is judged by what can still fire (a failure, an absolute ceiling) and passes without.
        pending = []
    short = step.min_requests is not None and exposure.get(stage, 0.0) < step.min_requests
    if not pending and not short:
        ev = _ev(
            "step",
            now,
            f"stage {stage} at {step.weight}%: all gates pass",
            stage=stage,
            verdicts={g: verdicts[g]["status"] for g in step.gates if g in verdicts},
        )
        return Decision(
            run=_next(run, now, message=f"{stage}: gates pass"), events=(*events, ev), wake_at=now
        )
    why = (f"gates not yet conclusive: {', '.join(pending)}" if pending else "") + (
        f"{'; ' if pending else ''}candidate requests {exposure.get(stage, 0.0):.0f} < min_requests {step.min_requests}"
        if short
        else ""
    )
    policy = plan.spec.analysis.on_inconclusive
    max_ext = plan.spec.analysis.max_extensions
    if policy == "extend" and run.extensions < max_ext:
        ev = _ev(
            "extend",
            now,
            f"stage {stage}: {why}; extending the bake ({run.extensions + 1}/{max_ext})",
            stage=stage,
        )
        new = run.model_copy(update={"extensions": run.extensions + 1, "message": why})
        return Decision(
            run=new, events=(*events, ev), wake_at=now + timedelta(seconds=step.interval or 60)
        )
    if policy == "proceed":
        ev = _ev(
            "step", now, f"stage {stage}: {why}; proceeding (on_inconclusive: proceed)", stage=stage
        )
        return Decision(run=_next(run, now), events=(*events, ev), wake_at=now)
    if policy == "rollback":
        d = rollback(
            run, now, f"inconclusive at the end of {stage}: {why} (on_inconclusive: rollback)"
        )
        return Decision(run=d.run, actions=d.actions, events=(*events, *d.events), wake_at=None)
    msg = f"inconclusive after {run.extensions} extensions of {stage}: {why}; rollout promote {plan.name} to go on, rollout abort {plan.name} to stop"
    ev = _ev("phase", now, msg, phase=Phase.PAUSED.value)
    return Decision(
        run=run.model_copy(update={"phase": Phase.PAUSED, "message": msg}),
        events=(*events, ev),
        wake_at=None,
    )


def _intent(plan: Plan, run: Run, intent: Intent, now: datetime) -> Decision:
    cleared = run.model_copy(update={"intent": None})
    who = intent.actor
    why = f" ({intent.reason})" if intent.reason else ""
    if intent.action == "abort":
        if run.phase == Phase.ABORTED:
            return Decision(run=cleared, wake_at=None)
        return rollback(cleared, now, f"aborted by {who}{why}", phase=Phase.ABORTED, actor=who)
    if run.phase.finished:
        ev = _ev(
            "intent",
            now,
            f"{intent.action} by {who} ignored: the rollout is {run.phase.value}",
            actor=who,
        )
        return Decision(run=cleared, events=(ev,), wake_at=None)
    if intent.action == "pause":
        msg = f"paused by {who}{why}"
        ev = _ev("phase", now, msg, actor=who, phase=Phase.PAUSED.value)
        return Decision(
            run=cleared.model_copy(update={"phase": Phase.PAUSED, "message": msg}),
            events=(ev,),
            wake_at=now + timedelta(seconds=POLL_SECONDS),
        )
    if intent.action == "resume":
        if run.phase != Phase.PAUSED:
            ev = _ev("intent", now, f"resume by {who}: the rollout was not paused", actor=who)
            return Decision(run=cleared, events=(ev,), wake_at=now)
        ev = _ev("phase", now, f"resumed by {who}{why}", actor=who, phase=Phase.PROGRESSING.value)
        return Decision(
            run=cleared.model_copy(
                update={"phase": Phase.PROGRESSING, "message": f"resumed by {who}"}
            ),
            events=(ev,),
            wake_at=now,
        )
    if intent.action == "promote_full":
        ev = _ev(
            "intent",
            now,
            f"promoted to full by {who}{why}: skipping the remaining steps",
            actor=who,
        )
        promote_index = len(plan.steps) - 1
        new = cleared.model_copy(
            update={"phase": Phase.PROGRESSING, "step_index": promote_index, "step_started_at": now}
        )
        return Decision(run=new, events=(ev,), wake_at=now)
    # promote: approve the approval step we wait at, or the next one ahead of time; on a rollout
    # paused in an analysis step (inconclusive, halted, or by hand), accept that step (as Argo).
    step = current_step(plan, run)
    if run.phase == Phase.PAUSED and step is not None and step.kind == "analyze":
        ev = _ev(
            "approval",
            now,
            f"stage {step.stage} at {step.weight}% accepted by {who}{why}",
            actor=who,
            stage=step.stage,
        )
        return Decision(run=_next(cleared, now, phase=Phase.PROGRESSING), events=(ev,), wake_at=now)
    upcoming = [
        s
        for s in plan.steps[run.step_index :]
        if s.kind == "approval" and s.stage not in run.approved
    ]
    if not upcoming:
        ev = _ev("intent", now, f"promote by {who}: no approval step left to approve", actor=who)
        return Decision(run=cleared, events=(ev,), wake_at=now)
    stage = upcoming[0].stage or ""
    ev = _ev("approval", now, f"stage {stage} approved by {who}{why}", actor=who, stage=stage)
    new = cleared.model_copy(update={"approved": (*run.approved, stage)})
    if run.phase == Phase.AWAITING_APPROVAL:
        new = new.model_copy(update={"phase": Phase.PROGRESSING})
    return Decision(run=new, events=(ev,), wake_at=now)


_STEPS = {
    "preflight": _preflight,
    "set_weight": _set_weight,
    "approval": _approval,
    "analyze": _analyze,
    "promote": _promote,
}


def stage_end_index(plan: Plan, stage: str) -> int:
    """The step index just past the last step of `stage` (for --until)."""
    idx = [i for i, s in enumerate(plan.steps) if s.stage == stage and s.kind != "promote"]
    if not idx:
        raise ValueError(stage)
    return idx[-1] + 1
