"""Drive the plan's own engine (rollout.engine.advance) in virtual time against a scenario.

One virtual rollout: a fake router that obeys at once, simulated traffic per analysis window,
every approval granted at once, no person to resume a pause. Common random numbers: run `i`
with seed `s` draws request counts from its own stream (SeedSequence([s, i])), whatever the
plan, so two plans (or two methods) are compared on the same traffic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.engine import WAITING_PHASES as WAITING
from rollout.engine import Observation, TickRequest, advance, current_step, gate_specs, wanted
from rollout.engine.types import judged_end
from rollout.errors import InvalidInput, ProviderError
from rollout.evaluation.types import SIMULATED
from rollout.gates.evaluate import Tick
from rollout.llm.catalog import simulated_roles
from rollout.observe import read_tick
from rollout.records import Phase, Plan, Run, Weights
from rollout.sim import late, traffic
from rollout.sim.traffic import Scenario
from rollout.spec import Gate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_DEFAULT = {
    "proportion": {"events": "errors", "total": "requests"},
    "mean": {
        "count": "latency_count",
        "sum": "latency_log_sum",
        "sum_squares": "latency_log_sum_squares",
    },
    "value": {"query": "latency_p95"},
}
_PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")


@dataclass
class Outcome:
    outcome: str  # rolled_back | completed | paused | halted | timeout
    minutes: float  # virtual minutes from the first shift to the end
    gates: tuple[str, ...]  # gates that failed (rolled_back) or halted
    candidate_requests: int
    candidate_errors: int
    excess_errors: float  # expected extra failed requests served by the candidate
    ticks: int


def series_for(plan: Plan, scn: Scenario) -> dict[str, dict[str, tuple[str, dict[str, str]]]]:
    """gate -> role -> (series, labels): the plan's own simulated queries when they parse,
    else the scenario's `series`, else a default per gate kind (errors/requests, log-latency)."""
    out: dict[str, dict[str, tuple[str, dict[str, str]]]] = {}
    for name, gate in gate_specs(plan).items():
        roles: dict[str, tuple[str, dict[str, str]]] = {}
        llm = simulated_roles(gate.signal, gate.kind, gate.threshold, plan.spec)  # signals (#12)
        for role, query in gate.queries().items():
            text = scn.series.get(name, {}).get(role)
            if text is None and llm is not None:
                text = llm[role]
            if text is None:
                rendered = _PLACEHOLDER.sub(
                    lambda m: "candidate" if m.group(1) == "variant" else "x", query
                )
                try:
                    roles[role] = traffic.parse(rendered)
                    continue
                except ProviderError:
                    text = _DEFAULT[gate.kind][role]
            try:
                roles[role] = traffic.parse(text)
            except ProviderError as exc:
                raise InvalidInput(f"scenario series for gate {name} {role}: {exc}") from None
        out[name] = roles
    return out


def simulate_one(
    plan: Plan,
    scn: Scenario,
    seed: int,
    index: int,
    series: dict[str, Any] | None = None,
    trace: list[dict[str, Any]] | None = None,
    samples: bool = False,
    bakes: list[tuple[int, bool]] | None = None,
) -> Outcome:
    """One virtual rollout. `trace`, when given, gets one entry per tick: gate -> (status,
    halt, bound -> (log e harm, log e safe)), what rollout.sim.fast checks itself against.
    `samples`: draw every request's latency even where the sums suffice (see `log_sums`).
    `bakes` gets (step index, passed) at the end of each analysis step's first bake (what the
    power preview predicts: every required gate `pass` and min_requests met)."""
    import numpy as np

    ss = np.random.SeedSequence([seed, index])
    counts_ss, lat_ss = ss.spawn(2)
    counts, lat = np.random.default_rng(counts_ss), np.random.default_rng(lat_ss)
    series = series if series is not None else series_for(plan, scn)
    sums = not samples and sums_suffice(scn, series)
    specs = gate_specs(plan)
    stages = tuple(s.stage for s in plan.steps if s.kind == "approval" and s.stage)
    run = Run(
        name=plan.name,
        plan_hash=plan.plan_hash,
        plan=plan,
        approved=stages,
        created_at=T0,
        updated_at=T0,
    )
    weights = Weights.all_baseline()
    served = late.Served()  # what the router served when: late outcomes read past windows
    now, first = T0, None
    cand_n = cand_e = ticks = 0
    excess = 0.0
    limit = T0 + timedelta(minutes=scn.max_minutes)
    while True:
        want = wanted(plan, run, now)
        obs_ticks: dict[str, Tick] = {}
        if want.tick is not None:
            tr = want.tick
            a = (tr.start - T0).total_seconds() / 60
            b = (tr.end - T0).total_seconds() / 60
            share = weights.candidate / 100.0
            batches = {
                "candidate": traffic.draw(scn, "candidate", share, a, b, counts, lat),
                "baseline": traffic.draw(scn, "baseline", 1.0 - share, a, b, counts, lat),
            }
            cb = batches["candidate"]
            cand_n += cb.n
            cand_e += cb.errors
            mid = 0.5 * (a + b)
            excess += cb.n * (scn.rate("candidate", mid) - scn.rate("baseline", mid))
            ticks += 1
            drawn: dict[str, tuple[float, float]] | None = {} if sums else None
            for g in tr.gates:
                if specs[g].settle or (
                    scn.outcome_delay_minutes and late.reads_outcomes(series[g])
                ):
                    t = _late_tick(specs[g], series[g], scn, served, tr, now, counts, lat)
                    if t is not None:
                        obs_ticks[g] = t
                    continue
                obs_ticks[g] = _tick(
                    specs[g], series[g], batches, tr.end, tr.stage, tr.weight, drawn
                )
        obs = Observation(
            weights=weights,
            ticks=obs_ticks,
            preflight={"simulated": "ok"} if want.preflight else None,
            evaluation=SIMULATED if want.evaluate else None,  # offline: not simulated
        )
        d = advance(plan, run, obs, now)
        if trace is not None and obs_ticks:
            trace.append({g: _traced(d.run.verdicts[g]) for g in obs_ticks})
        if bakes is not None and obs_ticks:
            _bake_end(plan, run, d.run, now, bakes)
        for act in d.actions:
            weights = act.weights
            served.set(late.minutes(now, T0), weights.candidate / 100.0)
            if first is None and act.weights.candidate > 0:
                first = now
        run = d.run
        minutes = (now - (first or T0)).total_seconds() / 60
        if (
            run.phase in (Phase.ROLLING_BACK, Phase.COMPLETED, Phase.PAUSED)
            or d.wake_at is None
            or now >= limit
        ):
            break
        now = max(now, d.wake_at)
    failed: tuple[str, ...] = ()
    outcome = {
        Phase.ROLLING_BACK: "rolled_back",
        Phase.COMPLETED: "completed",
        Phase.PAUSED: "paused",
    }.get(run.phase, "timeout")
    if outcome == "rolled_back":
        failed = tuple(g for g, v in run.verdicts.items() if v.get("status") == "fail")
    elif outcome == "paused":
        halted = tuple(g for g, v in run.verdicts.items() if v.get("halt"))
        if halted:
            outcome, failed = "halted", halted
    return Outcome(outcome, minutes, failed, cand_n, cand_e, excess, ticks)


def _bake_end(
    plan: Plan, before: Run, after: Run, now: datetime, bakes: list[tuple[int, bool]]
) -> None:
    """Record the end of a first bake judged in this tick (not a tick that rolled back or
    halted first), as rollout.engine.analysis._bake_over decides it."""
    step = current_step(plan, before)
    if step is None or step.kind != "analyze" or before.extensions or before.phase in WAITING:
        return
    if now < judged_end(plan, step, before) or after.phase == Phase.ROLLING_BACK:
        return
    if any(after.verdicts.get(g, {}).get("halt") for g in step.gates):
        return
    specs = gate_specs(plan)
    required = [g for g in step.gates if specs[g].required]
    passed = step.weight == 100 or all(
        (after.verdicts.get(g) or {}).get("status") == "pass" for g in required
    )
    seen = after.exposure.get(step.stage or "", 0.0)
    short = step.min_requests is not None and seen < step.min_requests
    bakes.append((before.step_index, passed and not short))


_SUMS = {"latency_log_sum": 0, "latency_log_sum_squares": 1}
_SAMPLED = {"latency_over", "latency_p95"}  # series that need each request's latency


def sums_suffice(scn: Scenario, series: dict[str, dict[str, tuple[str, Any]]]) -> bool:
    """Whether a tick's log-latency sums can be drawn as sums: the log-latencies are normal
    (no slow tail) and no gate reads a series that needs each request's latency."""
    c = scn.candidate
    if c.tail_fraction > 0 and c.tail_seconds > 0:
        return False
    return not any(name in _SAMPLED for roles in series.values() for name, _ in roles.values())


def log_sums(n: int, mu: float, sigma: float, rng: Any) -> tuple[float, float]:
    """(sum x, sum x^2) of n log-latencies x ~ Normal(mu, sigma), drawn exactly in
    distribution from their sufficient statistics: sum x ~ Normal(n mu, n sigma^2) and,
    independently, sum (x - mean)^2 ~ sigma^2 chi^2(n - 1). Two draws per batch instead of n:
    what makes a virtual tick cost the same at 10 or 10^5 requests per minute."""
    if n <= 0:
        return 0.0, 0.0
    s = n * mu + sigma * math.sqrt(n) * float(rng.standard_normal())
    ss = sigma * sigma * float(rng.chisquare(n - 1)) if n > 1 else 0.0
    return s, ss + s * s / n


def _traced(v: dict[str, Any]) -> tuple[str, bool, dict[str, tuple[float, float]]]:
    bounds = (v.get("evidence") or {}).get("bounds") or {}
    logs = {b: (float(x["log_e_harm"]), float(x["log_e_safe"])) for b, x in bounds.items()}
    return str(v.get("status")), bool(v.get("halt")), logs


def read_recorded(
    gate: Gate,
    roles: dict[str, tuple[str, dict[str, str]]],
    value: Any,
    at: datetime,
    stage: str,
    weight: int,
) -> Tick:
    """simulate's tick from any `value(variant, role)` (a test feeds a recording through it)."""
    return read_tick(gate, ("baseline", "candidate"), value, at=at, stage=stage, weight=weight)


def _late_tick(
    gate: Gate,
    roles: dict[str, tuple[str, dict[str, str]]],
    scn: Scenario,
    served: late.Served,
    tr: TickRequest,
    now: datetime,
    counts: Any,
    lat: Any,
) -> Tick | None:
    """A tick of a gate that reads by request time (`settle:`) or whose outcomes arrive late
    (rollout.sim.late); None while its request window has nothing settled (no reading)."""
    span = tr.windows.get(gate.name)
    if gate.name in tr.windows and span is None:
        return None
    settled = (late.minutes(span[0], T0), late.minutes(span[1], T0)) if span else None
    arrived = (late.minutes(tr.start, T0), late.minutes(tr.end, T0))
    window = late.requests_read(
        settled,
        arrived,
        late.minutes(now, T0),
        scn.outcome_delay_minutes,
        late.reads_outcomes(roles),
    )
    fetch = late.fetcher(scn, roles, served, window, counts, lat)
    return read_recorded(gate, roles, fetch, tr.end, tr.stage, tr.weight)


def _tick(
    gate: Gate,
    roles: dict[str, tuple[str, dict[str, str]]],
    batches: dict[str, traffic.Batch],
    at: datetime,
    stage: str,
    weight: int,
    sums: dict[str, tuple[float, float]] | None = None,
) -> Tick:
    """Simulated readings through the same observation path as `apply` (rollout.observe).
    `sums` (a cache per tick): log-latency sums drawn as such (log_sums), not per request."""

    def fetch(variant: str, role: str) -> float:
        name, labels = roles[role]
        if sums is not None and name in _SUMS:
            b = batches[variant]
            if variant not in sums:
                sums[variant] = log_sums(b.n, b.mu, b.sigma, b.rng)
            return sums[variant][_SUMS[name]]
        return traffic.answer(name, labels, batches[variant])

    return read_recorded(gate, roles, fetch, at, stage, weight)
