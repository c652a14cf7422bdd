"""Analysis: judge one tick of readings, then decide what the step does with the verdicts.

`judge` is shared by analysis steps and by the watch that goes on while a run waits for a person
with candidate traffic (approval, pause): a candidate is never unwatched while it takes traffic.

Missing data is never evidence. A tick in which a required gate has no usable reading (no
samples, a failed query, an impossible value) counts as a gap: after `no_data_limit` gaps in a
row the run pauses (or rolls back, `on_no_data`), and `on_inconclusive: proceed` only proceeds
from a stage that had data at every tick.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rollout.engine import budget
from rollout.engine.steps import rollback
from rollout.engine.types import (
    Decision,
    Observation,
    alpha_share,
    ev,
    gate_specs,
    judged_end,
    next_step,
    pass_alpha,
    tick_base,
)
from rollout.gates.evaluate import Settings, Verdict, evaluate
from rollout.llm import units
from rollout.records import Event, Phase, Plan, Run, Step


def judge(
    plan: Plan,
    run: Run,
    gates: tuple[str, ...],
    stage: str,
    obs: Observation,
    now: datetime,
    *,
    stage_complete: bool = False,
) -> tuple[Run, list[Event], list[Verdict], list[str]]:
    """Evaluate the observed ticks. Returns (run', verdict events, verdicts, required gates
    without a usable reading in this tick)."""
    specs = gate_specs(plan)
    settings = Settings(
        method=plan.spec.analysis.method,
        alpha=alpha_share(plan),
        failure_limit=plan.spec.analysis.failure_limit,
        stage_complete=stage_complete,
    )
    states = dict(run.gates)
    verdicts = dict(run.verdicts)
    events: list[Event] = []
    results: list[Verdict] = []
    exposure = dict(run.exposure)
    seen = 0.0
    blind: list[str] = []
    for name in gates:
        tick = obs.ticks.get(name)
        if tick is None:
            continue
        if specs[name].required and (tick.readings is None or tick.error is not None):
            blind.append(name)
        own = settings  # certification by decision role (engine.pass_alpha); rollback: alpha
        pa = pass_alpha(plan, specs[name])
        if pa != settings.alpha:
            own = replace(settings, pass_alpha=pa)
        states[name], verdict = evaluate(specs[name], states.get(name, {}), tick, own)
        results.append(verdict)
        verdicts[name] = verdict.model_dump()
        # a signal gate's numbers in its unit (ms, tokens, $), said once here for every reader
        # (status, watch, history, the report, notifications)
        summary = units.readable(specs[name].signal, verdicts[name]) or verdict.summary
        verdicts[name]["summary"] = summary
        events.append(
            ev(
                "verdict",
                now,
                summary,
                gate=name,
                status=verdict.status,
                halt=verdict.halt,
                stage=stage,
                evidence=verdict.evidence,
            )
        )
        cand = (tick.readings or {}).get("candidate", {})
        seen = max(seen, cand.get("total", 0.0), cand.get("count", 0.0))
    exposure[stage] = exposure.get(stage, 0.0) + seen
    unspent = budget.account(plan, run, obs.ticks, states, verdicts)  # spend cap: no reading, blind
    if unspent is not None and unspent not in blind:
        blind.append(unspent)
    update: dict[str, Any] = {
        "gates": states,
        "verdicts": verdicts,
        "last_tick_at": now,
        "exposure": exposure,
        "no_data": run.no_data + 1 if blind else 0,
        "step_gaps": run.step_gaps + (1 if blind else 0),
    }
    return run.model_copy(update=update), events, results, blind


SERVED_TOLERANCE = 0.25  # relative gap between served and set candidate share that halts


def served_mismatch(obs: Observation, weight: int) -> str | None:
    """The router reports serving a split other than the one set: halt, naming the cause."""
    if obs.served is None or not 0 < weight < 100:
        return None
    gap = abs(obs.served.candidate - weight)
    if gap < max(2.0, SERVED_TOLERANCE * weight):
        return None
    why = "; ".join(obs.causes) or "the router names no cause"
    return (
        f"the router serves {obs.served.candidate} % to the candidate but is set to {weight} %: "
        f"{why}"
    )


def verdict_outcome(
    plan: Plan,
    run: Run,
    events: list[Event],
    results: list[Verdict],
    now: datetime,
    blind: list[str],
    obs: Observation,
    weight: int,
) -> Decision | None:
    """A failed required gate rolls back; a halt or too long without data pauses. None: go on."""
    specs = gate_specs(plan)
    failed = [v for v in results if v.status == "fail" and specs[v.gate].required]
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
    over = budget.exceeded(plan, run)
    if over is not None:
        d = rollback(run, now, over, budget=budget.shown(run.gates[budget.KEY]))
        return Decision(run=d.run, actions=d.actions, events=(*events, *d.events), wake_at=None)
    halted = [v for v in results if v.halt]
    split = served_mismatch(obs, weight)
    if (halted or split) and run.phase != Phase.PAUSED:
        reasons = [v.summary for v in halted] + ([split] if split else [])
        if halted and obs.causes and not split:
            reasons.append("the router says: " + "; ".join(obs.causes))
        msg = (
            "halted for a person: "
            + "; ".join(reasons)
            + f" (rollout resume {plan.name} or rollout abort {plan.name})"
        )
        e = ev(
            "phase",
            now,
            msg,
            phase=Phase.PAUSED.value,
            gates=[v.gate for v in halted],
            served=obs.served.model_dump() if split and obs.served else None,
        )
        paused = run.model_copy(update={"phase": Phase.PAUSED, "message": msg})
        return Decision(run=paused, events=(*events, e), wake_at=None)
    limit = plan.spec.analysis.no_data_limit
    if run.no_data >= limit:
        what = ", ".join(blind) or "a required gate"
        msg = (
            f"NO DATA: {what} had no usable reading for {run.no_data} analysis intervals in a row; "
            "missing data is never evidence"
        )
        if plan.spec.analysis.on_no_data == "rollback":
            d = rollback(run, now, f"{msg} (on_no_data: rollback)", no_data=run.no_data)
            return Decision(run=d.run, actions=d.actions, events=(*events, *d.events), wake_at=None)
        if run.phase != Phase.PAUSED:
            msg += (
                f"; paused (candidate traffic kept as it is). Fix the metrics, then "
                f"`rollout resume {plan.name}`, or `rollout abort {plan.name}`"
            )
            e = ev("no_data", now, msg, phase=Phase.PAUSED.value, intervals=run.no_data)
            paused = run.model_copy(update={"phase": Phase.PAUSED, "message": msg})
            return Decision(run=paused, events=(*events, e), wake_at=None)
    return None


def analyze(plan: Plan, run: Run, step: Step, obs: Observation, now: datetime) -> Decision:
    assert run.step_started_at is not None
    end = judged_end(plan, step, run)  # the bake end, plus its gates' settle (if any)
    interval = timedelta(seconds=step.interval or plan.spec.analysis.interval)
    if not step.gates:
        if now >= end:
            e = ev(
                "step",
                now,
                f"stage {step.stage}: bake of {step.duration}s done (no gates)",
                stage=step.stage,
            )
            return Decision(run=next_step(run, now), events=(e,), wake_at=now)
        return Decision(run=run, wake_at=end)
    if not obs.ticks:
        last = tick_base(plan, step, run)
        return Decision(run=run, wake_at=min(last + interval, max(end, now)))

    stage = step.stage or ""
    run, events, results, blind = judge(
        plan, run, step.gates, stage, obs, now, stage_complete=now >= end
    )
    stop = verdict_outcome(plan, run, events, results, now, blind, obs, step.weight or 0)
    if stop is not None:
        return stop
    if now < end:
        return Decision(run=run, events=tuple(events), wake_at=min(now + interval, end))
    return _bake_over(plan, run, step, events, now)


def _bake_over(plan: Plan, run: Run, step: Step, events: list[Event], now: datetime) -> Decision:
    """The stage passes if every required gate passes and exposure suffices."""
    specs = gate_specs(plan)
    stage = step.stage or ""
    verdicts = run.verdicts
    interval = timedelta(seconds=step.interval or plan.spec.analysis.interval)
    required = [g for g in step.gates if specs[g].required]
    pending = [g for g in required if (verdicts.get(g) or {}).get("status") != "pass"]
    if step.weight == 100 and not run.step_gaps:
        # No baseline runs alongside at 100 %: relative tests cannot gain evidence here, so this
        # bake is judged by what can still fire (a failure, an absolute ceiling) — but only when
        # every tick of it had data: an unmeasured 100 % bake is not a pass.
        pending = []
    elif step.weight == 100:
        pending = [f"{run.step_gaps} interval(s) without data"]
    pending += budget.unmeasured(plan, run)
    exposure = run.exposure.get(stage, 0.0)
    short = step.min_requests is not None and exposure < step.min_requests
    if not pending and not short:
        e = ev(
            "step",
            now,
            f"stage {stage} at {step.weight}%: all gates pass",
            stage=stage,
            verdicts={g: verdicts[g]["status"] for g in step.gates if g in verdicts},
        )
        return Decision(
            run=next_step(run, now, message=f"{stage}: gates pass"),
            events=(*events, e),
            wake_at=now,
        )
    parts = []
    if pending:
        parts.append(f"gates not yet conclusive: {', '.join(pending)}")
    if short:
        parts.append(f"candidate requests {exposure:.0f} < min_requests {step.min_requests}")
    why = "; ".join(parts)
    policy = plan.spec.analysis.on_inconclusive
    max_ext = plan.spec.analysis.max_extensions
    if policy == "extend" and run.extensions < max_ext:
        e = ev(
            "extend",
            now,
            f"stage {stage}: {why}; extending the bake ({run.extensions + 1}/{max_ext})",
            stage=stage,
        )
        new = run.model_copy(update={"extensions": run.extensions + 1, "message": why})
        return Decision(run=new, events=(*events, e), wake_at=now + interval)
    measured = not run.step_gaps and exposure > 0
    if policy == "proceed" and measured:
        e = ev(
            "step",
            now,
            f"stage {stage}: {why}; proceeding (on_inconclusive: proceed)",
            stage=stage,
        )
        return Decision(run=next_step(run, now), events=(*events, e), wake_at=now)
    if policy == "rollback":
        d = rollback(
            run, now, f"inconclusive at the end of {stage}: {why} (on_inconclusive: rollback)"
        )
        return Decision(run=d.run, actions=d.actions, events=(*events, *d.events), wake_at=None)
    if policy == "proceed":
        why += (
            f"; not proceeding: {run.step_gaps} interval(s) of this stage had no usable data"
            if run.step_gaps
            else "; not proceeding: the candidate served no measured requests in this stage"
        )
    msg = (
        f"inconclusive after {run.extensions} extensions of {stage}: {why}; "
        f"rollout promote {plan.name} to go on, rollout abort {plan.name} to stop"
    )
    e = ev("phase", now, msg, phase=Phase.PAUSED.value)
    paused = run.model_copy(update={"phase": Phase.PAUSED, "message": msg})
    return Decision(run=paused, events=(*events, e), wake_at=None)


def watch(plan: Plan, run: Run, obs: Observation, now: datetime) -> Decision | None:
    """Judge the ticks observed while the run waits for a person. None: nothing was observed."""
    if not obs.ticks:
        return None
    first = next(iter(obs.ticks.values()))
    run, events, results, blind = judge(plan, run, tuple(obs.ticks), first.stage, obs, now)
    stop = verdict_outcome(plan, run, events, results, now, blind, obs, first.weight)
    if stop is not None:
        return stop
    return Decision(run=run, events=tuple(events), wake_at=now)
