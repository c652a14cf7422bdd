"""Power before apply: what a plan can decide at a given traffic, before anything moves.

For a healthy candidate (identical to the baseline) every gate's *safety* evidence, the
e-process that certifies `pass`, grows with the information the stage collects. Under the
normal approximation of each gate's per-tick statistic this is closed form:

* proportion (exact conditional test, `rollout.gates.sequential`): per tick the log odds ratio
  carries Fisher information I = p (1 - p) nA nB / (nA + nB); after information V the safety
  mixture is log sum_j w_j exp(g_j Z - g_j^2 V / 2) over the gate's own grid (stats.half_grid),
  with Z ~ Normal(theta0 V, V) and theta0 the tolerated log odds ratio (max_ratio at the
  baseline rate p);
* mean (normal-mixture confidence sequence): -S ~ Normal(W delta, sigma^2 W) with W the sum of
  the per-tick weights nA nB / (nA + nB) after the burn-in, and the e-value stats.nm_log_e
  with the mixing precision the burn-in tunes (stats.nm_rho).

A stage passes at the end of its bake when every required gate's latest verdict is `pass`, so
the chance of a verdict is the chance the terminal e-value is past 1/alpha_k (gates are
independent in the simulator, so the stage's chance is their product). The time to certify is
where the *median* path crosses. `tests/sim/test_power.py` checks these against `rollout
simulate` (within 10 points on three plans); figures in docs/benchmarks.md.

Traffic: `--traffic 1000/min` (also /s, /h), else the plan's simulated source
(requests_per_second), else none (the preview says it needs a rate).
"""

from __future__ import annotations

import math
import re
from typing import Any

from rollout.errors import InvalidInput
from rollout.records import Plan

_RATE = re.compile(
    r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$"
)
_PER_MIN = {"s": 60.0, "sec": 60.0, "second": 60.0, "h": 1 / 60, "hour": 1 / 60}


def parse_traffic(text: str) -> float:
    """'1000/min', '20/s', '60000/h' or a bare number (per minute) -> requests per minute."""
    m = _RATE.match(text or "")
    if not m:
        raise InvalidInput(f"--traffic {text!r}: expected a rate such as 1000/min, 20/s or 60000/h")
    value = float(m.group(1).replace(",", "").replace("_", ""))
    rpm = value * _PER_MIN.get(m.group(2) or "min", 1.0)
    if not rpm > 0:
        raise InvalidInput(f"--traffic {text!r}: the rate must be above 0")
    return rpm


def simulated_config(plan: Plan) -> dict[str, Any] | None:
    """The plan's own simulated traffic (its `metrics` source), or None for real sources."""
    if plan.spec.metrics.type != "simulated":
        return None
    from rollout.metrics.simulated import Config

    return Config.model_validate(plan.spec.metrics.options()).model_dump()


def plan_rpm(plan: Plan) -> float | None:
    cfg = simulated_config(plan)
    return None if cfg is None else float(cfg["requests_per_second"]) * 60.0


def with_plan_traffic(scn: Any, plan: Plan) -> Any:
    """A built-in scenario in the plan's own simulated world: its request rate, its baseline's
    error rate and latency, its drift and incidents (the scenario still says how the candidate
    differs). Unchanged for a plan on real metrics."""
    cfg = simulated_config(plan)
    if cfg is None:
        return scn
    from rollout.sim.scenarios import BUILTIN
    from rollout.sim.traffic import Baseline

    own = BUILTIN.get(scn.name, {}).get("baseline", {})  # what the scenario itself sets wins
    b = {k: cfg["baseline"][k] for k in ("error_rate", "latency_median", "latency_sigma")}
    update: dict[str, Any] = {
        "requests_per_minute": float(cfg["requests_per_second"]) * 60.0,
        "baseline": Baseline(**{**b, **own}),
    }
    if scn.drift is None and cfg.get("drift"):
        update["drift"] = cfg["drift"]
    if not scn.incidents and cfg.get("incidents"):
        update["incidents"] = cfg["incidents"]
    return type(scn).model_validate({**scn.model_dump(), **update})


# --- the closed form -------------------------------------------------------------------------

DEFAULT_RATE = 0.01  # the base rate a proportion gate is judged at when nothing says otherwise
DEFAULT_SIGMA = 0.6  # log-latency sd (a lognormal with p95 ~ 2.7 x the median)
DECIDES = 0.8  # a step whose verdict is less likely than this by its bake end is flagged
_HORIZON_MIN = 60 * 24 * 60.0  # times to certify are searched up to 60 days


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _bisect(f: Any, lo: float, hi: float, iters: int = 60) -> float:
    """Smallest x in [lo, hi] with f(x) true (f monotone false -> true); hi when never."""
    if not f(hi):
        return math.inf
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid):
            hi = mid
        else:
            lo = mid
    return hi


class _Disp:
    """The dispersion factor phi the gates deflate request counts by (srm.check and
    _dispersion), expected for independent requests: the Pearson statistic of the candidate's
    per-tick share, pooled over the weights so far with DISPERSION_PRIOR pseudo degrees of
    freedom and floored at 1, so E[phi] = 1 + 0.399 sd with sd = sqrt(2 df) / (df + prior)."""

    def __init__(self) -> None:
        self.done = 0.0  # degrees of freedom of the weights before
        self.w: float | None = None
        self.j = 0  # ticks at this weight so far

    def next(self, w: float) -> float:
        from rollout.gates import srm

        if self.w != w or not 0.0 < w < 1.0:  # the first tick at a weight: not tested
            if self.w is not None and 0.0 < self.w < 1.0:
                self.done += max(0, self.j - 2)  # its ticks after the first, minus one
            self.w, self.j = w, 0
            df = self.done
        else:
            df = self.done + max(0, self.j - 2)
        self.j += 1
        if df <= 0:
            return 1.0
        prior = float(srm.DISPERSION_PRIOR)
        return 1.0 + 0.3989 * math.sqrt(2.0 * df) / (df + prior)


BULK = 300  # ticks added one by one (phi settles) before the rest go in at once


class _Prop:
    """A proportion gate's safety evidence for a healthy candidate: information V = sum of
    p (1 - p) nA nB / N per tick and drift m = sum I theta0 (theta0: the tolerated log odds
    ratio at the tick's own base rate, as sequential._psi_tol turns the bound)."""

    def __init__(self, bound: str, val: float, p: float, alpha_k: float) -> None:
        from rollout.gates import stats

        self.bound, self.val, self.p = bound, val, p
        self.lt = math.log(1 / alpha_k)
        gs, logw = stats.half_grid()
        self.gs, self.logw = gs, logw
        self.V = self.m = self.S2 = 0.0  # information, drift, variance of the statistic
        self.disp = _Disp()

    def theta0(self, w: float) -> float | None:
        from rollout.gates import stats

        p, val = self.p, self.val
        if self.bound in ("max_ratio", "min_ratio"):
            pa = p / (1.0 - w + w * val)
            return stats.odds_tolerance(pa, val * pa) if val * pa < 1.0 else None
        d = val if self.bound == "max_increase" else -val
        pa = p - w * d
        return stats.odds_tolerance(pa, pa + d)

    def add(self, nA: float, nB: float, phi: float | None = None) -> None:
        """One tick; requests count as 1/phi of one (phi: the expected dispersion)."""
        phi = self.disp.next(nB / (nA + nB) if nA + nB > 0 else 0.0) if phi is None else phi
        if nA <= 0 or nB <= 0:
            return
        t = self.theta0(nB / (nA + nB))
        if t is None:
            return
        info = self.p * (1 - self.p) * nA * nB / (nA + nB)
        self.V += info / phi
        self.m += info * abs(t) / phi
        self.S2 += info / (phi * phi)

    def add_many(self, nA: float, nB: float, n: int) -> None:
        """n ticks of (nA, nB): one by one while phi settles, then the rest at once."""
        w = nB / (nA + nB) if nA + nB > 0 else 0.0
        phi = 1.0
        for _ in range(min(n, BULK)):
            phi = self.disp.next(w)
            self.add(nA, nB, phi)
        rest = n - min(n, BULK)
        if rest > 0 and nA > 0 and nB > 0:
            t = self.theta0(w)
            if t is not None:
                info = self.p * (1 - self.p) * nA * nB / (nA + nB)
                self.V += rest * info / phi
                self.m += rest * info * abs(t) / phi
                self.S2 += rest * info / (phi * phi)
            self.disp.j += rest

    def _safe(self, z: float) -> float:
        vals = [w + g * z - g * g * self.V / 2 for g, w in zip(self.gs, self.logw, strict=True)]
        top = max(vals)
        return top + math.log(sum(math.exp(v - top) for v in vals))

    def chance(self) -> float:
        """P(the safety e-value is past 1/alpha_k now)."""
        if self.V <= 0:
            return 0.0
        sd, hi = math.sqrt(self.S2), math.sqrt(self.V)
        z = _bisect(lambda x: self._safe(x) >= self.lt, -10 * hi, self.m + 40 * hi + 50)
        return 0.0 if math.isinf(z) else 1.0 - _phi((z - self.m) / sd)

    def median_certified(self) -> bool:
        return self.V > 0 and self._safe(self.m) >= self.lt


class _Mean:
    """A mean gate's safety evidence (normal-mixture CS on the tick-stratified contrast): after
    the burn-in, W = sum of nA nB / N, -S ~ Normal(W delta, sigma^2 W); the mixing precision is
    tuned on the burn-in's information, as sequential._accumulate does."""

    def __init__(self, delta: float, sigma: float, alpha_k: float) -> None:
        self.delta, self.s2, self.alpha_k = delta, sigma * sigma, alpha_k
        self.nA = self.nB = self.Vb = self.W = self.W2 = 0.0
        self.rho: float | None = None
        self.ticks = 0
        self.disp = _Disp()

    def add(self, nA: float, nB: float, phi: float | None = None) -> None:
        from rollout.gates import detector, stats

        phi = self.disp.next(nB / (nA + nB) if nA + nB > 0 else 0.0) if phi is None else phi
        self.nA += nA
        self.nB += nB
        if nA < 2 or nB < 2:
            return
        self.ticks += 1
        w = nA * nB / (nA + nB)
        burning = self.nA < detector.BURN_IN or self.nB < detector.BURN_IN
        if burning or self.rho is None:
            self.Vb += w * self.s2 / phi
            if not burning:
                self.rho = stats.nm_rho(self.Vb, self.alpha_k)
            return
        self.W += w / phi
        self.W2 += w / (phi * phi)

    def add_many(self, nA: float, nB: float, n: int) -> None:
        w = nB / (nA + nB) if nA + nB > 0 else 0.0
        phi = 1.0
        for _ in range(min(n, BULK)):
            phi = self.disp.next(w)
            self.add(nA, nB, phi)
        rest = n - min(n, BULK)
        if rest > 0:
            self.nA += rest * nA
            self.nB += rest * nB
            self.disp.j += rest
            if nA >= 2 and nB >= 2 and self.rho is not None:
                self.ticks += rest
                self.W += rest * nA * nB / (nA + nB) / phi
                self.W2 += rest * nA * nB / (nA + nB) / (phi * phi)

    def chance(self) -> float:
        from rollout.gates import sequential, stats

        if self.rho is None or self.W <= 0:
            return 0.0
        if self.ticks < getattr(sequential, "KURTOSIS_TICKS", 0):
            return 0.0  # too few ticks for a mean to be trusted yet (never certified)
        V = self.s2 * self.W
        r = stats.nm_radius(V, self.rho, self.alpha_k)
        return 1.0 - _phi((r - self.W * self.delta) / math.sqrt(self.s2 * self.W2))

    def median_certified(self) -> bool:
        return self.chance() >= 0.5


def _base_rate(gate: Any, cfg: dict[str, Any] | None) -> tuple[float, str]:
    """The base rate a proportion gate is judged at, and where it comes from."""
    query = gate.queries().get("events", "")
    b = (cfg or {}).get("baseline") or {}
    if "latency_over" in query:
        m = re.search(r'le\s*=\s*"([0-9.]+)"', query)
        if m and b:
            z = (math.log(float(m.group(1))) - math.log(b["latency_median"])) / b["latency_sigma"]
            return 1.0 - _phi(z), "the plan's simulated latencies"
    if cfg is not None and "errors" in query:
        return float(b["error_rate"]), "the plan's simulated error rate"
    return DEFAULT_RATE, f"assumed {DEFAULT_RATE:.0%} (no rate known for this query)"


def _model(gate: Any, alpha_k: float, cfg: dict[str, Any] | None) -> tuple[Any, str] | None:
    """The closed-form model of one gate's safety evidence, or None when there is none."""
    from rollout.gates import sequential

    bounds = [(b, v) for b, v in sequential.bounds(gate) if b in sequential.RELATIVE]
    if gate.kind == "value" or len(bounds) != 1:
        return None  # absolute bounds beside the relative one are not modelled (they certify
        # fast for a base rate well inside them)
    b, val = bounds[0]
    if gate.kind == "proportion":
        p, where = _base_rate(gate, cfg)
        return _Prop(b, val, p, alpha_k), where
    if b not in ("max_increase", "max_decrease") or "log" not in gate.queries()["sum"]:
        return None  # a mean of something whose spread is not known here (log-latency is)
    sigma = float(((cfg or {}).get("baseline") or {}).get("latency_sigma", DEFAULT_SIGMA))
    src = "the plan's simulated latencies" if cfg else f"assumed log-sd {DEFAULT_SIGMA}"
    return _Mean(val, sigma, alpha_k), src


def _clone(x: Any) -> Any:
    import copy

    return copy.copy(x)


def _bound_text(gate: Any) -> str:
    from rollout.gates import describe, sequential

    bs = sequential.bounds(gate)
    return ", ".join(describe.bound_text(b, v, gate.kind) for b, v in bs) if bs else gate.kind


def preview(plan: Plan, rpm: float | None, source: str = "") -> dict[str, Any]:
    """Per analysis step: how likely every required gate is certified (`pass`) by the end of
    the bake for a healthy candidate at `rpm` requests/min, and how long each gate needs."""
    from rollout.engine.types import gate_specs, pass_alpha
    from rollout.gates import sequential

    out: dict[str, Any] = {
        "requests_per_minute": rpm,
        "traffic_from": source,
        "steps": [],
        "flags": [],
        "decides": None,
    }
    if rpm is None:
        out["note"] = (
            "no traffic known: give --traffic RATE (e.g. 1000/min) to see what this plan can decide"
        )
        return out
    if plan.spec.analysis.method != "sequential":
        out["note"] = "the power preview covers method: sequential"
        return out
    cfg = simulated_config(plan)
    specs = gate_specs(plan)
    models: dict[str, tuple[Any, str] | None] = {}
    for name, gate in specs.items():  # certification by decision role (engine.pass_alpha)
        alpha_k = pass_alpha(plan, gate) / max(1, len(sequential.bounds(gate)))
        models[name] = _model(gate, alpha_k, cfg)
    flags: list[str] = []
    for idx, step in enumerate(plan.steps):
        if step.kind != "analyze" or not step.gates:
            continue
        w = (step.weight or 0) / 100.0
        dt = float(step.interval or plan.spec.analysis.interval)
        ticks = max(1, math.ceil((step.duration or 0) / dt))
        per = rpm * dt / 60.0
        before = {g: _clone(m[0]) for g, m in models.items() if m is not None}
        for g in step.gates:
            m = models[g]
            if m is not None:
                m[0].add_many(per * (1 - w), per * w, ticks)
        gates = []
        chance = 1.0
        for g in step.gates:
            spec, m = specs[g], models[g]
            entry: dict[str, Any] = {"gate": g, "bound": _bound_text(spec)}
            if step.weight == 100:
                entry.update({"p_verdict": 1.0, "note": "a 100 % bake passes on what can fire"})
            elif m is None and spec.kind == "value":
                note = "threshold semantics: passes while its value is within its bounds"
                entry.update({"p_verdict": 1.0, "note": note})
            elif m is None:
                entry.update({"p_verdict": None, "note": "not estimated for this kind of gate"})
            else:
                p = m[0].chance()
                entry.update({"p_verdict": p, "assumes": m[1]})
                need = _needs(before.get(g), step, w, rpm, m[0])
                # minutes of this step a DECIDES chance needs (None: the bake is enough)
                entry["certify_minutes"] = None if need is None or math.isinf(need) else need
                entry["certify_beyond_60_days"] = need is not None and math.isinf(need)
                if spec.required:
                    chance *= p
            gates.append(entry)
        exposure = rpm * w * ticks * dt / 60.0
        short = step.min_requests is not None and exposure < step.min_requests
        if short:
            chance = 0.0
        est = [x for x in gates if x.get("p_verdict") is None and specs[x["gate"]].required]
        row: dict[str, Any] = {
            "index": idx,
            "stage": step.stage,
            "weight": step.weight,
            "bake_seconds": step.duration,
            "p_verdict": None if est else chance,
            "expected_candidate_requests": exposure,
            "min_requests": step.min_requests,
            "gates": gates,
        }
        out["steps"].append(row)
        if row["p_verdict"] is not None and row["p_verdict"] < DECIDES:
            flags.append(_flag(row, rpm, short))
    out["flags"] = flags
    out["decides"] = not flags
    return out


def _needs(prior: Any, step: Any, w: float, rpm: float, now: Any) -> float | None:
    """Minutes of this step (at its weight, from its start, after the evidence of the steps
    before) until a healthy candidate is certified DECIDES of the time; None when it is within
    the bake, inf when not within 60 days."""
    if prior is None or now.chance() >= DECIDES:
        return None
    dt = float(step.interval or 60)
    per = rpm * dt / 60.0

    def certified(minutes: float) -> bool:
        m = _clone(prior)
        m.add_many(per * (1 - w), per * w, math.ceil(minutes * 60.0 / dt))
        return bool(m.chance() >= DECIDES)

    t = _bisect(certified, 0.0, _HORIZON_MIN, iters=40)
    return t if math.isinf(t) else math.ceil(t * 60.0 / dt) * dt / 60.0  # whole ticks


def _flag(row: dict[str, Any], rpm: float, short: bool) -> str:
    from rollout.durations import format_duration

    where = f"{row['stage']} at {row['weight']} %"
    bake = format_duration(row["bake_seconds"] or 0)
    if short:
        return (
            f"{where}: ~{row['expected_candidate_requests']:,.0f} candidate requests in its "
            f"{bake} bake at {rpm:,.0f} requests/min, below min_requests {row['min_requests']:,}"
        )
    slow = [g for g in row["gates"] if g.get("p_verdict") is not None and g["p_verdict"] < DECIDES]
    parts = []
    for g in slow:
        need = g.get("certify_minutes")
        if need is None:
            needs = "is not certified within 60 days"
        else:
            needs = f"needs ~{format_duration(int(need * 60))}"
        parts.append(f"{g['gate']} ({g['bound']}) {needs}")
    return (
        f"{where}: a healthy candidate is certified by the end of the {bake} bake "
        f"{row['p_verdict']:.0%} of the time at {rpm:,.0f} requests/min"
        + (
            f"; {'; '.join(parts)} at this weight to be certified {DECIDES:.0%} of the time"
            if parts
            else ""
        )
    )
