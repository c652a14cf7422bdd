"""What goes into the engine (an Observation) and what comes out (a Decision). Pure data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rollout.evaluation.online import request_window, settled_bake_end
from rollout.evaluation.types import EvaluationRun
from rollout.gates.evaluate import Tick
from rollout.records import Event, Plan, Run, Step, Weights
from rollout.spec import Gate

POLL_SECONDS = 2.0  # how often a waiting runner looks for intents


@dataclass(frozen=True)
class SetWeights:
    weights: Weights
    reason: str


Action = SetWeights


Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class TickRequest:
    """Query these gates over [start, end) for both variants; a gate in `windows` (one with
    `settle:`) over its request-time window instead, or not at all while it is None (nothing
    has settled yet: no reading, and no gap either)."""

    start: datetime
    end: datetime
    gates: tuple[str, ...]
    stage: str
    weight: int
    windows: dict[str, Span | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Wants:
    preflight: bool = False
    tick: TickRequest | None = None
    evaluate: bool = False  # run the plan's eval command for both variants (rollout.evaluation)


@dataclass(frozen=True)
class Observation:
    weights: Weights | None  # what the router says now (None: not read)
    ticks: dict[str, Tick] = field(default_factory=dict)  # gate -> readings for the window
    preflight: dict[str, str] | None = None  # check -> result, when preflight ran and passed
    served: Weights | None = None  # what the router says it served in the tick's window
    causes: tuple[str, ...] = ()  # what the router says can make `served` differ from the set split
    evaluation: EvaluationRun | None = None  # both variants' eval scores, when Wants.evaluate


@dataclass(frozen=True)
class Decision:
    run: Run
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    wake_at: datetime | None = None  # None: nothing more to do (finished or waiting for a person)


def gate_specs(plan: Plan) -> dict[str, Gate]:
    return {g.name: g for g in plan.spec.gates}


def alpha_share(plan: Plan) -> float:
    """Each gate's share of the plan's family-wise alpha for rollback (Bonferroni over every
    gate that can fail, guardrails and goals alike: valid uniformly over time).

    Under `method: sequential`, `value` gates keep threshold semantics: a deterministic check of
    one number has no sampling error to spend alpha on; their failed checks are counted by
    `failure_limit` instead, and the verdict says so (docs/design.md, Decision roles)."""
    gates = list(plan.spec.gates)
    if plan.spec.analysis.method == "sequential":
        gates = [g for g in gates if g.kind != "value"]
    return plan.spec.analysis.alpha / max(1, len(gates))


def pass_alpha(plan: Plan, gate: Gate) -> float:
    """The alpha of a gate's certification (`pass`, what promotes), by decision role.

    A plan without goals certifies as it always did (the rollback share). With goals, the
    risk-aware rule (Schultzberg et al. 2024): every guardrail must be shown non-inferior
    (an intersection-union test: no split, each at alpha) and goals share alpha among
    themselves (alpha / number of goals). Rollback keeps `alpha_share`."""
    goals = [g for g in plan.spec.gates if g.role == "goal"]
    if not goals or plan.spec.analysis.method != "sequential":
        return alpha_share(plan)
    if gate.role == "goal":
        return plan.spec.analysis.alpha / len(goals)
    return plan.spec.analysis.alpha


def current_step(plan: Plan, run: Run) -> Step | None:
    return plan.steps[run.step_index] if run.step_index < len(plan.steps) else None


def ev(kind: str, now: datetime, message: str, actor: str | None = None, **data: Any) -> Event:
    """An event built by the engine itself: skipping validation matters on the simulate hot path."""
    return Event.model_construct(
        kind=kind, at=now, message=message, actor=actor, data=data, seq=None, attempt=None
    )


def bake_end(step: Step, run: Run) -> datetime:
    """The end of the step's bake in request time: the traffic it judges was served before."""
    assert run.step_started_at is not None and step.duration is not None
    return run.step_started_at + timedelta(seconds=step.duration * (1 + run.extensions))


def settle_of(plan: Plan, gates: Iterable[str]) -> int:
    """The slowest `settle` (seconds) among these gates; 0 when none of them settles."""
    specs = gate_specs(plan)
    return max((specs[g].settle or 0 for g in gates), default=0)


def judged_end(plan: Plan, step: Step, run: Run) -> datetime:
    """When the step's bake has been judged to its end, so it may pass or move on: the bake end
    plus the slowest `settle` of its gates (evaluation.online.settled_bake_end), so the last
    minutes of the bake are judged at the weight they were served at. Without settled gates,
    the bake end itself (as before `settle:` existed)."""
    return settled_bake_end(bake_end(step, run), settle_of(plan, step.gates))


def tick_base(plan: Plan, step: Step, run: Run) -> datetime:
    """What the step's next tick counts its interval from: the last tick, else the step's
    start, or, when every gate of the step settles, the moment its first outcomes settled
    (before then no tick could read anything)."""
    assert run.step_started_at is not None
    if run.last_tick_at is not None:
        return run.last_tick_at
    specs = gate_specs(plan)
    settles = [specs[g].settle or 0 for g in step.gates]
    if settles and min(settles) > 0:
        return run.step_started_at + timedelta(seconds=min(settles))
    return run.step_started_at


def request_windows(
    plan: Plan, gates: Iterable[str], run: Run, now: datetime
) -> dict[str, Span | None]:
    """The request-time window a tick at `now` reads, per settled gate among `gates` (None:
    nothing settled yet). Each tick of the step judged its settled gates up to its own time
    minus their settle, so what a gate has judged is `last_tick_at - settle`, kept in the run
    without a field of its own; the engine stays pure (time is passed in)."""
    specs = gate_specs(plan)
    start = run.step_started_at or now
    out: dict[str, Span | None] = {}
    for g in gates:
        settle = specs[g].settle
        if not settle:
            continue
        until = run.last_tick_at - timedelta(seconds=settle) if run.last_tick_at else None
        out[g] = request_window(start, until, now, settle)
    return out


def next_step(run: Run, now: datetime, **update: Any) -> Run:
    base: dict[str, Any] = {
        "step_index": run.step_index + 1,
        "step_started_at": now,
        "last_tick_at": None,
        "extensions": 0,
        "step_gaps": 0,
    }
    base.update(update)
    return run.model_copy(update=base)


def step_weight(plan: Plan, run: Run) -> int:
    """The candidate weight the steps taken so far put in force (the last set_weight done)."""
    done = [s.weight or 0 for s in plan.steps[: run.step_index] if s.kind == "set_weight"]
    return done[-1] if done else 0


def watch_gates(plan: Plan, run: Run) -> tuple[tuple[str, ...], str]:
    """While a run waits (approval, pause) with candidate traffic, which gates keep judging and
    under which stage label: those of the last analysis step reached, else every gate."""
    for step in reversed(plan.steps[: run.step_index + 1]):
        if step.kind == "analyze" and step.gates:
            return step.gates, step.stage or ""
    return tuple(g.name for g in plan.spec.gates), ""
