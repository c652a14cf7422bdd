"""Many virtual rollouts at once: the engine's decisions per run, gate statistics over runs.

`rollout.sim.virtual.simulate_one` drives `rollout.engine.advance` one run at a time; most of
its cost per tick is bookkeeping (state copies, verdict objects, evidence text, the confidence
sequence's radius) that a person reading one rollout needs and a table of 1,000 does not. This
path runs every run in lock-step rounds (each run one tick further per round):

* per run, a small state machine that takes the engine's transitions in the engine's order
  (preflight, set_weight, analysis ticks at `min(last + interval, bake end)`, bake end with
  extend / proceed / rollback / pause, approvals granted, promote), and the same traffic
  draws from the same per-run streams, in the same order, as `simulate_one`;
* per gate, the statistics of `rollout.gates.sequential` over all runs of the round at once:
  the exact conditional e-process (the same ratio recursion and Horner sum as
  `rollout.gates.conditional`, as numpy arrays), the normal-mixture test (the engine's own
  `stats.moments`, `stats.nm_rho` and `stats.nm_log_e`) and the sample-ratio check. Ticks the
  array form does not cover (huge supports) call the engine's `stats.hyper_update` itself.

It covers `method: sequential` with proportion and mean guardrails on relative bounds (a goal
gate, gates.roles, runs on the engine path, so plans it covers certify on `alpha_share`);
anything else (`supports` says why) runs on the engine path. `run` checks itself before it is
trusted: the first runs are also simulated through the engine and every tick's verdicts and log
e-values compared; any difference and the whole batch runs on the engine path instead (so a
change to the gate math can make `simulate` slower, never wrong). tests/sim/test_fast.py
asserts equal outcomes on several plans and scenarios, and that the fast path is the one taken.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from rollout.engine import alpha_share, gate_specs
from rollout.gates import detector, sequential, srm, stats
from rollout.records import Plan
from rollout.sim import traffic
from rollout.sim.traffic import Scenario
from rollout.sim.virtual import Outcome, log_sums, series_for, simulate_one, sums_suffice
from rollout.spec import Gate

CHECK_RUNS = 3  # runs simulated both ways before the fast path is trusted
TOLERANCE = 1e-9  # log e-values may differ by rounding (numpy vs math), never by more
_CONTRAST = {  # rollout.gates.sequential: (candidate coef, baseline coef or None, margin coef)
    "max_increase": (1.0, -1.0, 1.0),
    "max_ratio": (1.0, None, 0.0),
    "max_decrease": (-1.0, 1.0, 1.0),
    "min_ratio": (-1.0, None, 0.0),
}
# the roles of a reading, in the order the gate classes take them (baseline, candidate each)
_ROLES = {"proportion": ("total", "events"), "mean": ("count", "sum", "sum_squares")}
_COUNTS = {"requests", "errors", "latency_count", "latency_over"}
_SUMS = {"latency_count", "latency_log_sum", "latency_log_sum_squares"}
Trace = list[dict[str, tuple[str, bool, dict[str, tuple[float, float]]]]]


def supports(plan: Plan, scn: Scenario, series: dict[str, Any] | None = None) -> str | None:
    """None when the fast path covers this plan, else why not (the engine path is used)."""
    spec = plan.spec
    if spec.analysis.method != "sequential":
        return f"method {spec.analysis.method}"
    series = series if series is not None else series_for(plan, scn)
    for gate in spec.gates:
        if gate.kind not in ("proportion", "mean"):
            return f"gate {gate.name}: kind {gate.kind}"
        if gate.role == "goal":  # two tests and role-based alpha (gates.roles): the engine's
            return f"gate {gate.name}: role goal"
        if gate.settle:  # request-time windows and a later bake end (engine.types.judged_end)
            return f"gate {gate.name}: settle"
        for b, _ in sequential.bounds(gate):
            if b not in sequential.RELATIVE:
                return f"gate {gate.name}: absolute bound {b}"
        allowed = _COUNTS if gate.kind == "proportion" else _SUMS
        for role, (name, labels) in series[gate.name].items():
            if name not in allowed:
                return f"gate {gate.name} {role}: series {name}"
            if name == "latency_over":
                try:
                    float(labels["le"])
                except (KeyError, ValueError):
                    return f"gate {gate.name} {role}: latency_over without a numeric le"
    kinds = {"preflight", "set_weight", "analyze", "approval", "promote"}
    for s in plan.steps:
        if s.kind not in kinds:
            return f"step {s.kind}"
    return None


def run(
    plan: Plan, scn: Scenario, seed: int, indices: Sequence[int], check: bool = True
) -> tuple[list[Outcome], str]:
    """Outcomes of runs `indices` (stream [seed, i] each) and the path taken: "fast" or
    "engine (<why>)". With `check`, the first runs are compared with the engine first."""
    series = series_for(plan, scn)
    why = supports(plan, scn, series)
    if why is None and check and indices:
        why = self_check(plan, scn, seed, indices[:CHECK_RUNS], series)
    if why is not None:
        return [simulate_one(plan, scn, seed, i, series) for i in indices], f"engine ({why})"
    return batch(plan, scn, seed, indices, series), "fast"


def self_check(
    plan: Plan, scn: Scenario, seed: int, indices: Sequence[int], series: dict[str, Any]
) -> str | None:
    """None when these runs give the same outcomes, verdicts and log e-values both ways."""
    traces: list[Trace] = [[] for _ in indices]
    fast = batch(plan, scn, seed, indices, series, traces)
    for k, i in enumerate(indices):
        ref: Trace = []
        slow = simulate_one(plan, scn, seed, i, series, trace=ref)
        if not _same_trace(ref, traces[k]):
            return f"the fast path's gate statistics differ from the engine's (run {i})"
        if not _same_outcome(slow, fast[k]):
            return f"the fast path's outcome differs from the engine's (run {i})"
    return None


def _close(a: float, b: float) -> bool:
    if a == b:
        return True
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= TOLERANCE * max(1.0, abs(a))


def _same_trace(ref: Trace, got: Trace) -> bool:
    if len(ref) != len(got):
        return False
    for r, g in zip(ref, got, strict=True):
        if r.keys() != g.keys():
            return False
        for name, (status, halt, bounds) in r.items():
            gs, gh, gb = g[name]
            if status != gs or halt != gh or bounds.keys() != gb.keys():
                return False
            for b, (h, s) in bounds.items():
                if not (_close(h, gb[b][0]) and _close(s, gb[b][1])):
                    return False
    return True


def _same_outcome(a: Outcome, b: Outcome) -> bool:
    return (
        (a.outcome, a.gates, a.candidate_requests, a.candidate_errors, a.ticks)
        == (b.outcome, b.gates, b.candidate_requests, b.candidate_errors, b.ticks)
        and _close(a.minutes, b.minutes)
        and _close(a.excess_errors, b.excess_errors)
    )


# --- the statistics of rollout.gates.sequential, over the runs of one round -------------------


def _log_mix(L: Any, logw: Any) -> Any:
    import numpy as np

    vals = L + logw
    m = vals.max(axis=1)
    return m + np.log(np.exp(vals - m[:, None]).sum(axis=1))


class _Srm:
    """The sample-ratio check of every run (srm.check): two one-sided binomial mixtures
    against the edges of a band around the weight, counts deflated by the past ticks'
    dispersion, nothing tested before SRM_WARMUP ticks at a weight."""

    def __init__(self, runs: int) -> None:
        import numpy as np

        half = stats.GRID_POINTS // 2
        self.half = half
        self.L = np.zeros((runs, 2 * half))
        self.w = np.full(runs, np.nan)
        self.d = np.zeros((runs, 4))  # sum n, sum n s, sum n s^2, ticks at this weight
        self.done = np.zeros((runs, 2))  # (chi^2, df) pooled over the weights before
        self.logw = np.array(stats.half_grid(srm.SRM_SIGMA, half, 2.0)[1])
        self.limit = math.log(1 / srm.SRM_ALPHA)
        self.share0 = detector.log_share(0)  # a simulated run halts once: the first share
        self._terms: dict[float, Any] = {}

    def _ab(self, w: float) -> Any:
        """(A_up, B_up, A_down, B_down): the engine's own per-event and per-non-event terms
        at the band's edges, read off stats.binom_update with one request."""
        import numpy as np

        if w not in self._terms:
            band, half, sig = srm.SRM_BAND, self.half, srm.SRM_SIGMA
            lo, hi = w * (1 - band), min(w * (1 + band), 1 - 1e-9)
            out = []
            for c, side in ((hi, 0), (lo, 1)):
                for e in (1, 0):
                    acc = [[0.0] * half, [0.0] * half]
                    stats.binom_update(acc[0], acc[1], 1, e, c, sig, n_grid=half)
                    out.append(acc[side])
            self._terms[w] = np.array(out)
        return self._terms[w]

    def update(self, pos: Any, nA: Any, nB: Any, w: Any) -> tuple[Any, Any]:
        """(fired (halt), dispersion phi) per run of `pos`."""
        import numpy as np

        half = self.half
        same = (self.w[pos] == w) & (w > 0.0) & (w < 1.0)
        d = self.d[pos]
        done = self.done[pos]
        # a new weight (or none alongside): the last weight's scatter joins the pooled one
        c2, df = _pearson(d[~same])
        done[~same, 0] += c2
        done[~same, 1] += df
        d[~same] = 0.0
        phi = _dispersion(done, d)
        n = (nA + nB).astype(float)
        test = same & (d[:, 3] >= srm.SRM_WARMUP) & (d[:, 0] > 0)
        if test.any():
            rows = pos[test]
            # the split check takes the raw estimate, never below the shrunk one
            raw = _dispersion(done[test], d[test], prior=0.0)
            f = np.maximum(phi[test], raw)
            e, nn = nB[test] / f, n[test] / f
            for wv in np.unique(w[test]):
                sel = w[test] == wv
                a_up, b_up, a_dn, b_dn = self._ab(float(wv))
                es, ns = e[sel, None], nn[sel, None]
                r = rows[sel]
                self.L[r, :half] += es * a_up + (ns - es) * b_up
                self.L[r, half:] += es * a_dn + (ns - es) * b_dn
        grow = same & (n > 0)
        if grow.any():
            ng = n[grow]
            s_t = nB[grow] / ng
            d[grow, 0] += ng
            d[grow, 1] += ng * s_t
            d[grow, 2] += ng * s_t * s_t
            d[grow, 3] += 1
        self.d[pos] = d
        self.done[pos] = done
        self.w[pos] = w
        L = self.L[pos]
        up, down = _log_mix(L[:, :half], self.logw), _log_mix(L[:, half:], self.logw)
        m = np.maximum(up, down)
        le = m + np.log(np.exp(up - m) + np.exp(down - m)) + math.log(0.5)
        le = le + self.share0
        fired = le >= self.limit
        self.L[pos[fired]] = 0.0
        return fired, phi


def _pearson(d: Any) -> tuple[Any, Any]:
    """srm.pearson over rows of (sum n, sum n s, sum n s^2, ticks): (chi^2, df)."""
    import numpy as np

    n, ns, nss, k = d[:, 0], d[:, 1], d[:, 2], d[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        m = ns / n
        c2 = np.maximum(0.0, nss - ns * ns / n) / (m * (1 - m))
    ok = (k >= 2) & (n > 0) & (m > 0.0) & (m < 1.0)
    return np.where(ok, c2, 0.0), np.where(ok, k - 1, 0.0)


def _dispersion(done: Any, d: Any, prior: float | None = None) -> Any:
    """srm.dispersion: the pooled Pearson dispersion, shrunk toward 1 by `prior`
    pseudo degrees of freedom (DISPERSION_PRIOR by default), floored at 1."""
    import numpy as np

    k = getattr(sequential, "DISPERSION_PRIOR", 10.0) if prior is None else prior
    c2, df = _pearson(d)
    den = done[:, 1] + df + k
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.maximum(1.0, (done[:, 0] + c2 + k) / den)
    return np.where(den > 0, phi, 1.0)


def _whole(x: Any) -> Any:
    """stats.whole over an array of finite readings."""
    import numpy as np

    return np.where(x > 0, np.floor(x + 0.5), 0.0).astype(np.int64)


class _Detector:
    """The harm side's e-detector (detector.starts / _detector) for every run: the first
    e-process on share pi_0 and one started at each later step on pi_1, pi_2, ... (a simulated
    run ends at its first halt, so no restart ever happens here)."""

    def __init__(self, runs: int, width: int) -> None:
        import numpy as np

        self.late = np.zeros((runs, detector.MAX_STARTS, width))
        self.count = np.zeros(runs, dtype=np.int64)  # late e-processes started so far
        shares = [detector.log_share(k) for k in range(detector.MAX_STARTS + 1)]
        self.shares = np.array(shares)

    def start(self, pos: Any, fresh: Any) -> None:
        go = fresh & (self.count[pos] + 1 < detector.MAX_STARTS)
        self.count[pos[go]] += 1

    def used(self, pos: Any) -> int:
        """Late e-processes the runs of `pos` have started at most (arrays are cut to it)."""
        return int(self.count[pos].max()) if len(pos) else 0

    def combine(self, pos: Any, first: Any, late: Any) -> Any:
        """log(pi_0 E_0 + sum_k pi_k E_k); `late` (runs x used) counts where started."""
        import numpy as np

        cnt = self.count[pos]
        u = late.shape[1]
        slots = np.arange(u)[None, :]
        terms = np.where(slots < cnt[:, None], late + self.shares[None, 1 : 1 + u], -np.inf)
        terms = np.concatenate([(first + self.shares[0])[:, None], terms], axis=1)
        m = terms.max(axis=1)
        return m + np.log(np.exp(terms - m[:, None]).sum(axis=1))


class _Proportion:
    """A proportion gate's relative bounds for every run (sequential._proportion)."""

    def __init__(self, gate: Gate, runs: int, alpha_k: float) -> None:
        import numpy as np

        self.gate = gate
        self.bounds = sequential.bounds(gate)
        self.lt = math.log(1 / alpha_k)
        k = stats.GRID_POINTS
        self.up = {b: np.zeros((runs, k)) for b, _ in self.bounds}
        self.down = {b: np.zeros((runs, k)) for b, _ in self.bounds}
        self.det = {b: _Detector(runs, k) for b, _ in self.bounds}
        gs, logw = stats.half_grid()
        self.gs = np.array(gs)
        self.logw = np.array(logw)

    def update(
        self, pos: Any, r: Any, fresh: Any, phi: Any
    ) -> tuple[Any, Any, dict[str, tuple[Any, Any]]]:
        """r: columns nA, nB, eA, eB (rounded); phi: each request counts as 1/phi of one.
        Returns harm-fired, all-safe, per-bound log-e."""
        import numpy as np

        nA, nB = r[:, 0], r[:, 1]
        eA, eB = np.minimum(r[:, 2], nA), np.minimum(r[:, 3], nB)
        # the exact test on deflated counts, as hyper_update rounds nA / phi ... itself
        dA, dB = _whole(nA / phi), _whole(nB / phi)
        deA, deB = np.minimum(_whole(eA / phi), dA), np.minimum(_whole(eB / phi), dB)
        fail = np.zeros(len(pos), dtype=bool)
        safe_all = np.ones(len(pos), dtype=bool)
        logs: dict[str, tuple[Any, Any]] = {}
        margins = list(zip(nA.tolist(), nB.tolist(), eA.tolist(), eB.tolist(), strict=True))
        for b, val in self.bounds:
            det = self.det[b]
            det.start(pos, fresh)
            tol = np.array([_psi_tol(b, val, *m) for m in margins], dtype=float)
            harm_up = b in ("max_ratio", "max_increase")
            self._hyper(b, pos, dA, dB, deA, deB, tol, harm_up)
            up = _log_mix(self.up[b][pos], self.logw)
            down = _log_mix(self.down[b][pos], self.logw)
            first, safe = (up, down) if harm_up else (down, up)
            u = det.used(pos)
            late = _log_mix3(det.late[pos, :u], self.logw)
            harm = det.combine(pos, first, late)
            fail |= harm >= self.lt
            safe_all &= safe >= self.lt
            logs[b] = (harm, safe)
        return fail, safe_all, logs

    def _hyper(
        self, b: str, pos: Any, nA: Any, nB: Any, eA: Any, eB: Any, tol: Any, harm_up: bool
    ) -> None:
        """stats.hyper_update for every run with information in this tick (the late
        e-processes of the harm side take the same increments)."""
        import numpy as np

        E, N = eA + eB, nA + nB
        live = (nA > 0) & (nB > 0) & (E > 0) & (E != N) & np.isfinite(tol)
        if not live.any():
            return
        idx = np.flatnonzero(live)
        nA, nB, eA, eB, E, tol = nA[idx], nB[idx], eA[idx], eB[idx], E[idx], tol[idx]
        lo = np.maximum(0, E - nA)
        span = np.minimum(E, nB) - lo
        xs = np.concatenate([tol[:, None], tol[:, None] + self.gs, tol[:, None] - self.gs], axis=1)
        vec = span + 1 <= 2048  # conditional.EXACT_SUPPORT: the exact sum
        up, down, det = self.up[b], self.down[b], self.det[b]
        k = len(self.gs)
        for j in np.flatnonzero(~vec):  # the engine's own function for the rare big ones
            row = pos[idx[j]]
            u, d = list(up[row]), list(down[row])
            more = [list(x) for x in det.late[row, : det.count[row]]]
            mu, md = (more, []) if harm_up else ([], more)
            stats.hyper_update(
                u, d, nA[j], nB[j], eA[j], eB[j], float(tol[j]), more_up=mu, more_down=md
            )
            up[row], down[row] = u, d
            if more:
                det.late[row, : len(more)] = more
        if not vec.any():
            return
        sel = np.flatnonzero(vec)
        nA, nB, eB, E, lo, span, xs = (a[sel] for a in (nA, nB, eB, E, lo, span, xs))
        rows = pos[idx[sel]]
        width = int(span.max())
        # conditional._log_terms: t(k+1)/t(k) = (K-k)(n-k) / ((k+1)(M+k+1)), M = N - K - n
        cols = np.arange(max(width, 1))[None, :]
        ks = lo[:, None] + cols
        M = nA - E
        inside = cols < span[:, None]
        num = np.where(inside, (E[:, None] - ks) * (nB[:, None] - ks), 1)
        den = np.where(inside, (ks + 1) * (M[:, None] + ks + 1), 1)
        lps = np.concatenate(
            [np.zeros((len(sel), 1)), np.cumsum(np.log(num / den), axis=1)], axis=1
        )[:, : width + 1]
        lps = np.where(np.arange(width + 1)[None, :] <= span[:, None], lps, -np.inf)
        pmf = np.exp(lps - lps.max(axis=1)[:, None])  # 0 past each run's support
        px = np.exp(xs)
        acc = np.zeros_like(xs)
        px = np.where(np.abs(xs) * span[:, None] >= 600, 1.0, px)  # those: log-sum-exp below
        for c in range(width, -1, -1):  # conditional._exact's Horner sum, leading zeros exact
            acc = acc * px + pmf[:, c, None]
        with np.errstate(over="ignore", invalid="ignore"):
            vals = (lo - eB)[:, None] * xs + np.log(acc)
        big = np.abs(xs) * span[:, None] >= 600  # conditional._exact: log-sum-exp there
        for j in np.flatnonzero(big.any(axis=1)):
            js = np.flatnonzero(big[j])
            terms = lps[j, None, : span[j] + 1] - lps[j].max()
            terms = terms + np.arange(span[j] + 1)[None, :] * xs[j, js, None]
            top = terms.max(axis=1)
            lse = top + np.log(np.exp(terms - top[:, None]).sum(axis=1))
            vals[j, js] = (lo[j] - eB[j]) * xs[j, js] + lse
        m0 = vals[:, :1]
        inc_up, inc_down = -(vals[:, 1 : 1 + k] - m0), -(vals[:, 1 + k :] - m0)
        up[rows] += inc_up
        down[rows] += inc_down
        used = det.used(rows)
        if used:
            cnt = det.count[rows]
            late = det.late[rows, :used]
            started = np.arange(used)[None, :] < cnt[:, None]
            inc = (inc_up if harm_up else inc_down)[:, None, :]
            late += np.where(started[:, :, None], inc, 0.0)
            det.late[rows, :used] = late


def _log_mix3(L: Any, logw: Any) -> Any:
    """_log_mix over the last axis of runs x e-processes x grid."""
    import numpy as np

    vals = L + logw
    m = vals.max(axis=2)
    return m + np.log(np.exp(vals - m[:, :, None]).sum(axis=2))


def _psi_tol(bound: str, val: float, nA: int, nB: int, eA: int, eB: int) -> float:
    """sequential._psi_tol: the tolerated log odds ratio at this tick's own base rate (nan for
    None: no information in the tick)."""
    N, E = nA + nB, eA + eB
    if N <= 0 or nA <= 0 or nB <= 0 or E <= 0 or E >= N:
        return math.nan
    p, w = E / N, nB / N
    if bound in ("max_ratio", "min_ratio"):
        pa = p / (1.0 - w + w * val)
        t = stats.odds_tolerance(pa, val * pa) if val * pa < 1.0 else None
    else:
        d = val if bound == "max_increase" else -val
        pa = p - w * d
        t = stats.odds_tolerance(pa, pa + d)
    return math.nan if t is None else t


class _Mean:
    """A mean gate's relative bounds for every run (sequential._mean, _accumulate, _nm and the
    e-detector, with stats.moments, stats.nm_rho and stats.nm_log_e over arrays)."""

    def __init__(self, gate: Gate, runs: int, alpha_k: float) -> None:
        import numpy as np

        self.bounds = sequential.bounds(gate)
        self.alpha_k = alpha_k
        self.lt = math.log(1 / alpha_k)
        self.cum = np.zeros((runs, 2))  # nA, nB
        # per bound: S, V, W, Vb, rho (nan: not tuned yet)
        self.t = {b: np.zeros((runs, 5)) for b, _ in self.bounds}
        for t in self.t.values():
            t[:, 4] = np.nan
        self.det = {b: _Detector(runs, 3) for b, _ in self.bounds}  # late [S, V, W]
        self.k4 = np.zeros((runs, 2, 4))  # per variant: ticks, sum n, sum n s^2, sum n s^4

    def _kurtosis(
        self, pos: Any, nA: Any, nB: Any, vA: Any, vB: Any, okA: Any, okB: Any
    ) -> Any | None:
        """sequential._kurtosis: True where the mean may not certify (too few ticks yet, or
        the per-tick variances scatter like a heavy tail); None when the gates have no such
        rule."""
        import numpy as np

        top = getattr(sequential, "KURTOSIS_MAX", None)
        if top is None:
            return None
        worst = np.zeros(len(pos))
        unknown = np.zeros(len(pos), dtype=bool)
        for col, n, v, ok in ((0, nB, vB, okB), (1, nA, vA, okA)):  # candidate, then baseline
            acc = self.k4[pos, col]
            acc[ok] += np.stack([np.ones_like(n), n, n * v, n * v * v], axis=1)[ok]
            self.k4[pos, col] = acc
            t, sn, snv, snv2 = acc[:, 0], acc[:, 1], acc[:, 2], acc[:, 3]
            bad = (t < sequential.KURTOSIS_TICKS) | (sn <= 0) | (snv <= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                s2 = snv / sn
                k = 1.0 + np.maximum(0.0, snv2 - s2 * s2 * sn) / t / (s2 * s2)
            unknown |= bad
            worst = np.maximum(worst, np.where(bad, 0.0, k))
        return unknown | (worst > top)

    def update(self, pos: Any, r: Any, fresh: Any, phi: Any) -> tuple[Any, Any, dict[str, Any]]:
        """r columns: count, sum, sum_squares, each baseline then candidate; phi: each sample
        counts as 1/phi of one."""
        import numpy as np

        nA, nB, sA, sB, qA, qB = (r[:, c] for c in range(6))
        mA, vA, okA = _moments(nA, sA, qA)
        mB, vB, okB = _moments(nB, sB, qB)
        cum = self.cum[pos] + np.stack([nA, nB], axis=1)
        self.cum[pos] = cum
        burning = (cum[:, 0] < detector.BURN_IN) | (cum[:, 1] < detector.BURN_IN)
        both = okA & okB
        tailed = self._kurtosis(pos, nA, nB, vA, vB, okA, okB)
        nA, nB = nA / phi, nB / phi  # (x / 1.0 is x: the engine's phi > 1 test)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(both, nA * nB / (nA + nB), 0.0)
        n = len(pos)
        fail = np.zeros(n, dtype=bool)
        safe_all = np.ones(n, dtype=bool)
        logs: dict[str, tuple[Any, Any]] = {}
        slots = np.arange(detector.MAX_STARTS)[None, :]
        for b, val in self.bounds:
            det = self.det[b]
            det.start(pos, fresh)
            a, c, d = _CONTRAST[b]
            coef_a = c if c is not None else (-val if b == "max_ratio" else val)
            t = self.t[b][pos]
            est = a * mB + coef_a * mA
            with np.errstate(divide="ignore", invalid="ignore"):
                var = np.where(both, a * a * vB / nB + coef_a * coef_a * vA / nA, 0.0)
            untuned = np.isnan(t[:, 4])
            warm = both & (burning | untuned)
            t[warm, 3] += (w * w * var)[warm]
            tune = warm & ~burning
            t[tune, 4] = [stats.nm_rho(float(v), self.alpha_k) for v in t[tune, 3]]
            go = both & ~warm
            inc = np.stack([w * (est - d * val), w * w * var, w], axis=1)
            t[go, :3] += inc[go]
            self.t[b][pos] = t
            u = det.used(pos)
            late = det.late[pos, :u]
            started = (slots[:, :u] < det.count[pos][:, None]) & go[:, None]
            late += np.where(started[:, :, None], inc[:, None, :], 0.0)
            det.late[pos, :u] = late
            rho = t[:, 4]
            first = _nm_log_e(t[:, 0], t[:, 1], rho)
            safe = _nm_log_e(-t[:, 0], t[:, 1], rho)
            late_e = _nm_log_e(
                late[:, :, 0].ravel(), late[:, :, 1].ravel(), np.repeat(rho, late.shape[1])
            ).reshape(late.shape[:2])
            harm = np.where(np.isnan(rho), first, det.combine(pos, first, late_e))
            if tailed is not None:  # a mean that may hide a tail is never certified
                safe = np.where(tailed, np.minimum(safe, 0.0), safe)
            fail |= harm >= self.lt
            safe_all &= safe >= self.lt
            logs[b] = (harm, safe)
        return fail, safe_all, logs


def _moments(n: Any, s: Any, q: Any) -> tuple[Any, Any, Any]:
    """stats.moments over arrays: (mean, variance, n >= 2)."""
    import numpy as np

    ok = n >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(ok, s / n, 0.0)
        var = np.maximum((q - s * s / n) / (n - 1), 1e-12 * (1.0 + np.abs(q) / n))
    return mean, np.where(ok, var, 1.0), ok


def _nm_log_e(S: Any, V: Any, rho: Any) -> Any:
    """stats.nm_log_e over arrays (0 where the engine's returns 0: not tuned, no information)."""
    import numpy as np

    ok = (V > 0) & np.isfinite(V) & np.isfinite(S) & (rho > 0)  # nan rho: not tuned
    out = np.zeros(len(S))
    if not ok.any():
        return out
    s, v, r = S[ok], V[ok], rho[ok]
    t = v + r
    x = s / np.sqrt(t)
    tail = x <= -30
    cdf = np.log(0.5 * np.array([math.erfc(-z / math.sqrt(2.0)) for z in np.where(tail, 0, x)]))
    mills = -0.5 * x * x - np.log(np.where(tail, -x, 1.0)) - 0.5 * math.log(2 * math.pi)
    out[ok] = math.log(2.0) + 0.5 * np.log(r / t) + s * s / (2 * t) + np.where(tail, mills, cdf)
    return out


class _Gate:
    """One gate over every run: its SRM check and its bounds; verdict statuses out."""

    def __init__(self, gate: Gate, runs: int, alpha: float) -> None:
        alpha_k = alpha / max(1, len(sequential.bounds(gate)))
        self.gate = gate
        self.srm = _Srm(runs)
        self.step: list[tuple[str, int] | None] = [None] * runs
        self.stat: _Proportion | _Mean = (
            _Proportion(gate, runs, alpha_k)
            if gate.kind == "proportion"
            else _Mean(gate, runs, alpha_k)
        )

    def update(
        self, pos: Any, w: Any, r: Any, steps: list[tuple[str, int]]
    ) -> tuple[list[str], list[bool], dict[str, Any]]:
        import numpy as np

        # a new step with a baseline alongside starts new harm e-processes
        fresh = np.array(
            [
                self.step[p] is not None and self.step[p] != st and 0 < st[1] < 100
                for p, st in zip(pos.tolist(), steps, strict=True)
            ],
            dtype=bool,
        )
        for p, st in zip(pos.tolist(), steps, strict=True):
            self.step[p] = st
        arr = np.asarray(r, dtype=float)
        if isinstance(self.stat, _Proportion):
            counts = _whole(arr)  # nA, nB, eA, eB
            nA, nB = counts[:, 0], counts[:, 1]
            fired, phi = self.srm.update(pos, nA, nB, w)
            fail, safe, logs = self.stat.update(pos, counts, fresh, phi)
        else:
            nA, nB = _whole(arr[:, 0]), _whole(arr[:, 1])
            fired, phi = self.srm.update(pos, nA, nB, w)
            fail, safe, logs = self.stat.update(pos, arr, fresh, phi)
        halt = fired & ~fail
        status = np.where(fail, "fail", np.where(safe & ~halt, "pass", "inconclusive"))
        return status.tolist(), halt.tolist(), logs


# --- the engine's transitions, per run ------------------------------------------------------


@dataclass
class _Tick:
    start: float  # seconds from T0
    end: float
    weight: int
    gates: tuple[str, ...]
    stage: str = ""


@dataclass
class _End:
    outcome: str
    minutes: float
    gates: tuple[str, ...]


Machine = Generator[_Tick, tuple[dict[str, tuple[str, bool]], float], _End]


def machine(plan: Plan, limit: float, bakes: list[tuple[int, bool]] | None = None) -> Machine:
    """The transitions rollout.engine.advance takes for a simulated run (every approval given,
    an obedient router, data at every tick), in the order `simulate_one` calls it. Yields each
    analysis tick; is sent that tick's (gate -> (status, halt), candidate requests seen).
    `bakes` gets (step index, passed) at the end of each analysis step's first bake."""
    steps = plan.steps
    spec = plan.spec
    specs = gate_specs(plan)
    now = started = 0.0
    last: float | None = None
    i = ext = 0
    weight = 0
    first: float | None = None
    phase = "progressing"
    exposure: dict[str, float] = {}
    verdicts: dict[str, tuple[str, bool]] = {}
    while True:
        wake: float | None = now
        step = steps[i] if i < len(steps) else None
        if step is None:
            phase, wake = "completed", None
        elif step.kind == "promote":
            if weight != 100 and first is None:
                first = now
            weight, phase, wake = 100, "completed", None
        elif step.kind != "analyze":
            if step.kind == "set_weight":
                weight = step.weight or 0
                if first is None and weight > 0:
                    first = now
            i, started, last, ext = i + 1, now, None, 0
        else:
            assert step.duration is not None
            end = started + step.duration * (1 + ext)
            interval = float(step.interval or spec.analysis.interval)
            if not step.gates:
                if now >= end:
                    i, started, last, ext = i + 1, now, None, 0
                else:
                    wake = end
            else:
                since = last if last is not None else started
                due = min(since + (step.interval or 60), max(end, since))
                if not (now >= due and now > since):
                    wake = min(since + interval, max(end, now))
                else:
                    res, seen = yield _Tick(
                        since, now, step.weight or 0, step.gates, step.stage or ""
                    )
                    verdicts.update(res)
                    stage = step.stage or ""
                    exposure[stage] = exposure.get(stage, 0.0) + seen
                    last = now
                    required = [g for g in step.gates if specs[g].required]
                    if any(res[g][0] == "fail" for g in required):
                        phase, wake = "rolling_back", None
                    elif any(h for _, h in res.values()):
                        phase, wake = "paused", None
                    elif now < end:
                        wake = min(now + interval, end)
                    else:
                        pending = [g for g in required if verdicts[g][0] != "pass"]
                        if step.weight == 100:
                            pending = []
                        short = (
                            step.min_requests is not None
                            and exposure.get(stage, 0.0) < step.min_requests
                        )
                        policy = spec.analysis.on_inconclusive
                        if bakes is not None and ext == 0:
                            bakes.append((i, not pending and not short))
                        if not pending and not short:
                            i, started, last, ext = i + 1, now, None, 0
                        elif policy == "extend" and ext < spec.analysis.max_extensions:
                            ext += 1
                            wake = now + interval
                        elif policy == "proceed" and exposure.get(stage, 0.0) > 0:
                            i, started, last, ext = i + 1, now, None, 0
                        elif policy == "rollback":
                            phase, wake = "rolling_back", None
                        else:
                            phase, wake = "paused", None
        if phase != "progressing" or wake is None or now >= limit:
            break
        now = max(now, wake)
    minutes = (now - (first or 0.0)) / 60
    if phase == "rolling_back":
        failed = tuple(g for g, (s, _) in verdicts.items() if s == "fail")
        return _End("rolled_back", minutes, failed)
    if phase == "paused":
        halted = tuple(g for g, (_, h) in verdicts.items() if h)
        return _End("halted", minutes, halted) if halted else _End("paused", minutes, ())
    return _End("completed" if phase == "completed" else "timeout", minutes, ())


# --- the driver: rounds of one tick per live run ---------------------------------------------


@dataclass
class _Live:
    gen: Machine
    tick: _Tick
    counts: Any
    lat: Any
    n: int = 0
    e: int = 0
    excess: float = 0.0
    ticks: int = 0


def batch(
    plan: Plan,
    scn: Scenario,
    seed: int,
    indices: Sequence[int],
    series: dict[str, Any],
    traces: list[Trace] | None = None,
    bakes: list[list[tuple[int, bool]]] | None = None,
) -> list[Outcome]:
    """Outcomes of runs `indices`, all at once (no self-check; see `run`). `bakes`, one list
    per run: (step index, passed) at the end of each analysis step's first bake."""
    import numpy as np

    specs = gate_specs(plan)
    alpha = alpha_share(plan)
    gates = {name: _Gate(g, len(indices), alpha) for name, g in specs.items()}
    roles = {name: _ROLES[g.kind] for name, g in specs.items()}
    plain = {name: str(g.kind) for name, g in specs.items() if _plain(g.kind, series[name])}
    world = _World(scn, sums_suffice(scn, series))
    limit = scn.max_minutes * 60.0
    out: list[Outcome | None] = [None] * len(indices)
    live: dict[int, _Live] = {}

    def settle(k: int, end: _End, st: _Live) -> None:
        out[k] = Outcome(end.outcome, end.minutes, end.gates, st.n, st.e, st.excess, st.ticks)

    for k, i in enumerate(indices):
        counts_ss, lat_ss = np.random.SeedSequence([seed, i]).spawn(2)
        counts, lat = np.random.default_rng(counts_ss), np.random.default_rng(lat_ss)
        gen = machine(plan, limit, bakes[k] if bakes is not None else None)
        try:
            tick = next(gen)
        except StopIteration as stop:
            settle(k, stop.value, _Live(gen, _Tick(0, 0, 0, ()), counts, lat))
            continue
        live[k] = _Live(gen, tick, counts, lat)
    while live:
        rows: dict[str, tuple[list[int], list[float], list[Any]]] = {}
        seen: dict[int, float] = {}
        for k, st in live.items():
            seen[k] = _draw(scn, st, series, roles, rows, k, plain, world)
        results: dict[int, dict[str, tuple[str, bool]]] = {k: {} for k in live}
        logged: dict[int, dict[str, Any]] = {k: {} for k in live}
        for name, (pos, ws, readings) in rows.items():
            p = np.array(pos)
            steps = [(live[k].tick.stage, live[k].tick.weight) for k in pos]
            status, halt, logs = gates[name].update(p, np.array(ws), readings, steps)
            for j, k in enumerate(pos):
                results[k][name] = (status[j], halt[j])
                if traces is not None:
                    bl = {b: (float(h[j]), float(s[j])) for b, (h, s) in logs.items()}
                    logged[k][name] = (status[j], halt[j], bl)
        if traces is not None:
            for k in live:
                traces[k].append(logged[k])
        for k in list(live):
            st = live[k]
            res = {g: results[k][g] for g in st.tick.gates}
            try:
                st.tick = st.gen.send((res, seen[k]))
            except StopIteration as stop:
                settle(k, stop.value, st)
                del live[k]
    return [o for o in out if o is not None]


def _draw(
    scn: Scenario,
    st: _Live,
    series: dict[str, Any],
    roles: dict[str, tuple[str, ...]],
    rows: dict[str, tuple[list[int], list[float], list[Any]]],
    k: int,
    plain: dict[str, str],
    fast_world: _World | None = None,
) -> float:
    """simulate_one's traffic for this tick (same draws, same order); readings into rows."""
    tr = st.tick
    a, b = tr.start / 60, tr.end / 60
    share = tr.weight / 100.0
    if len(plain) == len(tr.gates) == len(series) and fast_world is not None:
        return fast_world.tick(st, a, b, share, tr.gates, plain, rows, k)
    cb = _draw_plain(scn, "candidate", share, a, b, st.counts, st.lat)
    bb = _draw_plain(scn, "baseline", 1.0 - share, a, b, st.counts, st.lat)
    st.n += cb.n
    st.e += cb.errors
    mid = 0.5 * (a + b)
    st.excess += cb.n * (scn.rate("candidate", mid) - scn.rate("baseline", mid))
    st.ticks += 1
    seen = 0.0
    drawn: dict[int, tuple[float, float]] | None = {} if fast_world and fast_world.sums else None
    for g in tr.gates:
        qs = series[g]
        kind = plain.get(g)
        if kind == "proportion":  # requests / errors: the counts themselves
            reading: Any = (float(bb.n), float(cb.n), float(bb.errors), float(cb.errors))
        elif kind == "mean":  # the standard log-latency series (baseline's draw first)
            xb, xc = bb.logs(), cb.logs()
            reading = (
                float(bb.n),
                float(cb.n),
                float(xb.sum()),
                float(xc.sum()),
                float((xb * xb).sum()),
                float((xc * xc).sum()),
            )
        else:
            reading = tuple(
                _answer(qs[r][0], qs[r][1], v, drawn) for r in roles[g] for v in (bb, cb)
            )
        seen = max(seen, reading[1])  # the candidate's total (proportion) or count (mean)
        pos, ws, rs = rows.setdefault(g, ([], [], []))
        pos.append(k)
        ws.append(share)
        rs.append(reading)
    return seen


class _World:
    """The scenario's traffic for gates that read only the standard series: the draws of
    traffic.draw_batch and Batch.logs (same streams, same order: the candidate's counts, the
    baseline's, then the baseline's latencies and the candidate's) without building batches."""

    def __init__(self, scn: Scenario, sums: bool) -> None:
        self.scn = scn
        self.sums = sums  # log-latency sums drawn as such (virtual.log_sums)
        self.rpm = scn.requests_per_minute
        self.rsf = scn.router_share_factor
        self.sigma = scn.baseline.latency_sigma
        self.mu = math.log(scn.baseline.latency_median)
        self.mu_c = self.mu + math.log(scn.candidate.latency_factor)
        c = scn.candidate
        self.onset = c.onset_minute
        self.tail = (
            (c.tail_fraction, c.tail_seconds)
            if c.tail_fraction > 0 and c.tail_seconds > 0
            else None
        )
        self.static = scn.drift is None and not scn.incidents

    def tick(
        self,
        st: _Live,
        a: float,
        b: float,
        share: float,
        gates: tuple[str, ...],
        plain: dict[str, str],
        rows: dict[str, tuple[list[int], list[float], list[Any]]],
        k: int,
    ) -> float:
        import numpy as np

        scn = self.scn
        mid = 0.5 * (a + b)
        after = mid >= self.onset
        p_c, p_b = scn.rate("candidate", mid), scn.rate("baseline", mid)
        counts = st.counts
        dur = max(0.0, b - a)
        lam = self.rpm * dur * min(1.0, share * self.rsf)
        nc = int(counts.poisson(lam)) if lam > 0 else 0
        ec = int(counts.binomial(nc, min(1.0, max(0.0, p_c)))) if nc else 0
        lam = self.rpm * dur * (1.0 - share)
        nb = int(counts.poisson(lam)) if lam > 0 else 0
        eb = int(counts.binomial(nb, min(1.0, max(0.0, p_b)))) if nb else 0
        st.n += nc
        st.e += ec
        st.excess += nc * (p_c - p_b)
        st.ticks += 1
        logs: tuple[float, float, float, float] | None = None
        for g in gates:
            if plain[g] == "proportion":
                reading: Any = (float(nb), float(nc), float(eb), float(ec))
            else:
                if logs is None and self.sums:
                    sb = log_sums(nb, self.mu, self.sigma, st.lat)
                    sc = log_sums(nc, self.mu_c if after else self.mu, self.sigma, st.lat)
                    logs = (sb[0], sc[0], sb[1], sc[1])
                if logs is None:
                    lat = st.lat
                    xb = lat.normal(self.mu, self.sigma, size=nb)
                    xc = lat.normal(self.mu_c if after else self.mu, self.sigma, size=nc)
                    if after and self.tail is not None and nc:
                        slow = lat.random(nc) < self.tail[0]
                        xc = np.where(slow, np.log(np.exp(xc) + self.tail[1]), xc)
                    logs = (
                        float(xb.sum()),
                        float(xc.sum()),
                        float((xb * xb).sum()),
                        float((xc * xc).sum()),
                    )
                reading = (float(nb), float(nc), *logs)
            pos, ws, rs = rows.setdefault(g, ([], [], []))
            pos.append(k)
            ws.append(share)
            rs.append(reading)
        return float(nc)


def _draw_plain(
    scn: Scenario, variant: str, share: float, a: float, b: float, counts: Any, lat: Any
) -> traffic.Batch:
    """traffic.draw without its LLM parameters (tokens, cost, 429s: no series `supports` lets
    through reads them): the same draws from the same streams, at a fraction of the cost."""
    mid = 0.5 * (a + b)
    if variant == "candidate":
        share = min(1.0, share * scn.router_share_factor)
    mu = math.log(scn.baseline.latency_median)
    tf, ts = 0.0, 0.0
    if variant == "candidate" and mid >= scn.candidate.onset_minute:
        mu += math.log(scn.candidate.latency_factor)
        tf, ts = scn.candidate.tail_fraction, scn.candidate.tail_seconds
    lam = scn.requests_per_minute * max(0.0, b - a) * share
    rate = scn.rate(variant, mid)
    return traffic.draw_batch(lam, rate, mu, scn.baseline.latency_sigma, tf, ts, counts, lat)


def _plain(kind: str, qs: dict[str, tuple[str, dict[str, str]]]) -> bool:
    """The gate reads the standard series (errors/requests, latency_log_*) of its kind."""
    names = {role: name for role, (name, _) in qs.items()}
    if kind == "proportion":
        return names == {"total": "requests", "events": "errors"}
    return names == {
        "count": "latency_count",
        "sum": "latency_log_sum",
        "sum_squares": "latency_log_sum_squares",
    }


def _answer(
    name: str,
    labels: dict[str, str],
    b: traffic.Batch,
    drawn: dict[int, tuple[float, float]] | None = None,
) -> float:
    """traffic.answer for the series `supports` lets through (the same numbers, less work);
    with `drawn` (a cache per tick), log-latency sums as simulate_one draws them."""
    if name == "requests" or name == "latency_count":
        return float(b.n)
    if name == "errors":
        return float(b.errors)
    if drawn is not None and name in ("latency_log_sum", "latency_log_sum_squares"):
        if id(b) not in drawn:
            drawn[id(b)] = log_sums(b.n, b.mu, b.sigma, b.rng)
        return drawn[id(b)][name == "latency_log_sum_squares"]
    if name == "latency_log_sum":
        return float(b.logs().sum())
    if name == "latency_log_sum_squares":
        x = b.logs()
        return float((x * x).sum())
    return traffic.answer(name, labels, b)
