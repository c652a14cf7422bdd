"""The rollout state machine. Pure: no clock, network, database or terminal in here.

    wanted(plan, run, now)              -> what the runner must observe before deciding
    advance(plan, run, obs, now)        -> Decision(run', actions, events, wake_at)

`advance` makes at most one transition per call so that every transition is its own commit;
the runner calls it again at once while `wake_at <= now`. Actions are idempotent: the runner
commits the decision first, then acts, then verifies (engine.heal compares on every look).

Modules: types (inputs and outputs), steps (preflight, set_weight, approval, promote,
rollback), analysis (judging ticks, bakes, no-data), intents (the control-verb queue), heal
(the router against the record).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollout.engine.analysis import analyze, watch
from rollout.engine.heal import heal
from rollout.engine.intents import consume
from rollout.engine.steps import STEPS, finish, rollback
from rollout.engine.types import (
    POLL_SECONDS,
    Action,
    Decision,
    Observation,
    SetWeights,
    TickRequest,
    Wants,
    alpha_share,
    bake_end,
    current_step,
    ev,
    gate_specs,
    judged_end,
    request_windows,
    tick_base,
    watch_gates,
)
from rollout.records import Phase, Plan, Run

__all__ = [
    "POLL_SECONDS",
    "WAITING_PHASES",
    "Action",
    "Decision",
    "Observation",
    "SetWeights",
    "TickRequest",
    "Wants",
    "advance",
    "alpha_share",
    "bake_end",
    "current_step",
    "gate_specs",
    "heal",
    "rollback",
    "stage_end_index",
    "wanted",
    "watching",
]

WAITING = WAITING_PHASES = (Phase.PAUSED, Phase.AWAITING_APPROVAL)


def watching(plan: Plan, run: Run) -> bool:
    """A run that waits for a person while the candidate takes (some, not all) traffic."""
    return (
        run.phase in WAITING
        and run.desired is not None
        and 0 < run.desired.candidate < 100
        and bool(plan.spec.gates)
    )


def _due(last: datetime, interval: int, now: datetime, end: datetime | None = None) -> bool:
    due = last + timedelta(seconds=interval)
    if end is not None:
        due = min(due, max(end, last))
    return now >= due and now > last


def wanted(plan: Plan, run: Run, now: datetime) -> Wants:
    if run.phase.finished or run.phase == Phase.ROLLING_BACK or run.intents:
        return Wants()
    step = current_step(plan, run)
    if watching(plan, run):
        last = run.last_tick_at or run.step_started_at or now
        if _due(last, plan.spec.analysis.interval, now):
            gates, stage = watch_gates(plan, run)
            assert run.desired is not None
            tick = TickRequest(
                start=last,
                end=now,
                gates=gates,
                stage=stage,
                weight=run.desired.candidate,
                windows=request_windows(plan, gates, run, now),
            )
            return Wants(tick=tick)
        return Wants()
    if run.phase in WAITING or step is None:
        return Wants()
    if step.kind == "preflight":
        return Wants(preflight=True)
    if step.kind == "evaluate":
        return Wants(evaluate=True)
    if step.kind == "analyze" and step.gates and run.step_started_at is not None:
        last = tick_base(plan, step, run)
        if _due(last, step.interval or 60, now, judged_end(plan, step, run)):
            tick = TickRequest(
                start=run.last_tick_at or run.step_started_at,
                end=now,
                gates=step.gates,
                stage=step.stage or "",
                weight=step.weight or 0,
                windows=request_windows(plan, step.gates, run, now),
            )
            return Wants(tick=tick)
    return Wants()


def _next_watch(plan: Plan, run: Run, now: datetime) -> datetime:
    if not watching(plan, run):
        return now + timedelta(seconds=POLL_SECONDS)
    last = run.last_tick_at or now
    return max(now, last + timedelta(seconds=plan.spec.analysis.interval))


def advance(plan: Plan, run: Run, obs: Observation, now: datetime) -> Decision:
    if run.plan_hash != plan.plan_hash:
        raise ValueError(
            "run and plan disagree; the runner starts a new attempt for a changed plan"
        )
    if run.intents:
        return consume(plan, run, now)
    if run.phase == Phase.COMPLETED:
        return Decision(run=run, wake_at=None)  # the candidate is the baseline now: hands off
    if run.phase.finished:
        return heal(run, obs, now, wake=None)  # aborted / rolled back: the baseline, always
    if run.phase == Phase.ROLLING_BACK:
        if obs.weights is not None and obs.weights == run.desired:
            # A rollback interrupted after the router took the baseline (e.g. the process died
            # before recording it): the observation is the verification.
            e = ev(
                "phase",
                now,
                "rolled back: baseline restored and verified",
                phase=Phase.ROLLED_BACK.value,
            )
            done = run.model_copy(update={"phase": Phase.ROLLED_BACK, "verified": run.desired})
            return Decision(run=done, events=(e,), wake_at=None)
        return heal(run, obs, now, wake=None)  # set it again; the runner marks it rolled back
    if run.phase in WAITING:
        healed = heal(run, obs, now, wake=_next_watch(plan, run, now))
        if healed.actions or healed.events:
            return healed
        judged = watch(plan, healed.run, obs, now)
        if judged is not None and judged.run.phase not in WAITING:
            return judged
        if judged is not None:
            nxt = _next_watch(plan, judged.run, now)
            return Decision(run=judged.run, events=judged.events, wake_at=nxt)
        return healed
    healed = heal(run, obs, now, wake=now)
    if healed.actions or healed.events:
        return healed
    run = healed.run
    step = current_step(plan, run)
    if step is None:  # all steps done but not marked: finish
        return finish(run, now)
    if run.phase == Phase.PENDING:
        run = run.model_copy(update={"phase": Phase.PROGRESSING})
    if step.kind == "analyze":
        return analyze(plan, run, step, obs, now)
    return STEPS[step.kind](plan, run, step, obs, now)


def stage_end_index(plan: Plan, stage: str) -> int:
    """The step index just past the last step of `stage` (for --until)."""
    idx = [i for i, s in enumerate(plan.steps) if s.stage == stage and s.kind != "promote"]
    if not idx:
        raise ValueError(stage)
    return idx[-1] + 1
