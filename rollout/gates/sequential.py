"""The sequential method: anytime-valid gates, candidate vs the baseline running at the same time.

Per gate, each bound is one sub-test with its own e-processes; the gate's alpha is split
equally between its sub-tests (Bonferroni, valid uniformly over time):

* proportion, relative bound (max_ratio, max_increase, min_ratio, max_decrease): the exact
  conditional test per tick (stats.hyper_update). The bound is turned into a tolerated odds
  ratio with the baseline rate seen *before* this tick (a predictable plug-in; for rare events
  the odds ratio is the rate ratio). `fail`: evidence of harm beyond the bound >= 1/alpha_k.
  `pass`: the mirror e-process (null: the candidate is at or beyond the bound) >= 1/alpha_k,
  i.e. non-inferiority is certified.
* mean, relative bound: a normal-mixture confidence sequence on the contrast, stratified by
  tick (per-tick differences weighted by nA nB / (nA + nB)), after a burn-in of 100 samples per
  variant that also tunes the mixing precision. `pass` when the upper bound of the CS is below
  the margin, `fail` when the lower bound is above it.
* absolute bounds (max, min): one-sample e-processes per variant. The candidate breaching
  alone fails; both variants breaching (a provider incident) halts for a person instead, and
  those ceiling tests start over after the halt (each halt spends its alpha again).
* every gate with request totals also runs a sample-ratio-mismatch test (alpha 0.001) on the
  split against the tick's weight; a mismatch halts: the router is broken, gates can't be trusted.
* latency tails: a proportion gate whose `events` counts requests slower than a baseline
  quantile, e.g. `events: latency_over{variant="{{ variant }}",le="2.1"}` with max_ratio 1.2.
* `value` gates have no samples to test: they keep threshold semantics under this method.

State is JSON (lists of floats) and is never reset between stages.
"""

from __future__ import annotations

import math
from typing import Any

from rollout.gates import describe, readings, stats, threshold
from rollout.gates.types import Settings, Tick, Verdict
from rollout.spec import Gate

SRM_ALPHA = 0.001
BURN_IN = 100  # samples per variant before a normal-mixture test acts (CLT)
RELATIVE = ("max_ratio", "max_increase", "min_ratio", "max_decrease")
ABSOLUTE = ("max", "min")


def bounds(gate: Gate) -> list[tuple[str, float]]:
    return [
        (b, float(getattr(gate, b))) for b in (*RELATIVE, *ABSOLUTE) if getattr(gate, b) is not None
    ]


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return list(obj)
    return obj


def _zeros() -> list[float]:
    return [0.0] * stats.GRID_POINTS


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    if gate.kind == "value":
        st, v = threshold.evaluate(gate, state, tick, settings)
        ev = {
            **v.evidence,
            "method": "threshold",
            "note": "value gates keep threshold semantics under method sequential",
        }
        return st, v.model_copy(update={"evidence": ev})
    st = (
        _copy(state)
        if state
        else {
            "v": 1,
            "ticks": 0,
            "cum": {},
            "srm": [0.0] * (2 * (stats.GRID_POINTS // 2)),
            "tests": {},
        }
    )
    if tick.error is not None or tick.readings is None:
        why = f"query failed: {tick.error}" if tick.error else "no data"
        return st, Verdict(
            gate=gate.name,
            status="inconclusive",
            summary=f"{gate.name}: {why}",
            evidence={"method": "sequential"},
        )
    bad = readings.first_problem(gate, tick.readings)
    if bad is not None:  # a source error: no data, never evidence (the state is unchanged)
        return st, Verdict(
            gate=gate.name,
            status="inconclusive",
            summary=f"{bad}: an impossible reading, counted as no data",
            evidence={"method": "sequential", "error": bad},
        )
    cand = tick.readings.get("candidate", {})
    base = tick.readings.get("baseline", {})
    st["ticks"] += 1
    alpha_k = settings.alpha / max(1, len(bounds(gate)))
    role = "total" if gate.kind == "proportion" else "count"
    # counts are numbers (increase() is fractional): the nearest integer, never truncated
    nB, nA = stats.whole(cand.get(role, 0.0)), stats.whole(base.get(role, 0.0))
    srm = _srm(st, nA, nB, tick.weight / 100.0)
    if gate.kind == "proportion":
        results, words, ev = _proportion(gate, st, cand, base, alpha_k)
    else:
        results, words, ev = _mean(gate, st, cand, base, alpha_k)
    return st, _verdict(
        gate,
        st,
        results,
        words,
        {**ev, "srm": srm, "alpha": settings.alpha, "alpha_per_bound": alpha_k},
    )


def _srm(st: dict[str, Any], nA: int, nB: int, w: float) -> dict[str, Any]:
    cum = st["cum"]
    # The first window after a weight change may hold requests routed before the router
    # caught up, so it is left out (a predictable rule: the e-process stays valid).
    if st.get("srm_weight") == w:
        stats.srm_update(st["srm"], nA, nB, w)
        cum["srm_a"] = cum.get("srm_a", 0) + nA  # the observed split at this weight, for words
        cum["srm_b"] = cum.get("srm_b", 0) + nB
    else:
        cum["srm_a"] = cum["srm_b"] = 0
    st["srm_weight"] = w
    le = stats.log_mix(st["srm"], stats.sym_grid()[1])
    fired = le >= math.log(1 / SRM_ALPHA)
    tot = cum["srm_a"] + cum["srm_b"]
    out = {
        "log_e": le,
        "fired": fired,
        "expected_share": w,
        "observed_share": cum["srm_b"] / tot if tot else None,
    }
    if fired:  # halt once; a person resumes, and the test starts over
        st["srm"] = [0.0] * len(st["srm"])
        cum["srm_a"] = cum["srm_b"] = 0
    return out


# A sub-test result: (bound, harm log-e, safety log-e, log threshold, absolute-breach state)
Result = tuple[str, float, float, float, str]


def _proportion(
    gate: Gate, st: dict[str, Any], cand: dict[str, float], base: dict[str, float], alpha_k: float
) -> tuple[list[Result], str, dict[str, Any]]:
    cum = st["cum"]
    nB, nA = stats.whole(cand.get("total", 0.0)), stats.whole(base.get("total", 0.0))
    eB = min(stats.whole(cand.get("events", 0.0)), nB)
    eA = min(stats.whole(base.get("events", 0.0)), nA)
    p_prev = cum["eA"] / cum["nA"] if cum.get("nA") else None  # the plug-in uses only the past
    lt = math.log(1 / alpha_k)
    _, logw = stats.half_grid()
    out: list[Result] = []
    tests = st["tests"]
    for b, val in bounds(gate):
        t = tests.setdefault(
            b,
            {"up": _zeros(), "down": _zeros()}
            if b in RELATIVE
            else {"cu": _zeros(), "cd": _zeros(), "bu": _zeros(), "bd": _zeros()},
        )
        if b in RELATIVE:
            harm_up = b in ("max_ratio", "max_increase")
            tol = _psi_tol(b, val, p_prev)
            if tol is not None:
                stats.hyper_update(t["up"], t["down"], nA, nB, eA, eB, tol)
                t["log_psi_tol"] = tol
            up, down = stats.log_mix(t["up"], logw), stats.log_mix(t["down"], logw)
            out.append((b, up, down, lt, "") if harm_up else (b, down, up, lt, ""))
        else:
            stats.binom_update(t["cu"], t["cd"], nB, eB, val)
            stats.binom_update(t["bu"], t["bd"], nA, eA, val)
            hi = b == "max"
            harm_c = stats.log_mix(t["cu" if hi else "cd"], logw)
            safe_c = stats.log_mix(t["cd" if hi else "cu"], logw)
            harm_b = stats.log_mix(t["bu" if hi else "bd"], logw)
            now_b = (eA / nA > val if hi else eA / nA < val) if nA else False
            both = harm_c >= lt and (harm_b >= lt or now_b)
            if both:  # a provider incident: restart the ceiling tests once a person resumes
                for k in ("cu", "cd", "bu", "bd"):
                    t[k] = _zeros()
            out.append(
                (b, harm_c, safe_c, lt, "both" if both else ("candidate" if harm_c >= lt else ""))
            )
    for k, v in (("nA", nA), ("nB", nB), ("eA", eA), ("eB", eB)):
        cum[k] = cum.get(k, 0) + v
    rc = cum["eB"] / cum["nB"] if cum["nB"] else None
    rb = cum["eA"] / cum["nA"] if cum["nA"] else None
    ev = {
        "kind": "proportion",
        "candidate_rate": rc,
        "baseline_rate": rb,
        "candidate_requests": cum["nB"],
        "baseline_requests": cum["nA"],
        "candidate_events": cum["eB"],
        "baseline_events": cum["eA"],
        "tick": {"candidate": [eB, nB], "baseline": [eA, nA]},
    }
    return out, describe.proportion_line(gate.name, rc, rb, cum["nB"]), ev


def _psi_tol(bound: str, val: float, p: float | None) -> float | None:
    """The tolerated log odds ratio for this tick, from the baseline rate before it."""
    if bound in ("max_ratio", "min_ratio"):
        if not p:
            return math.log(val)  # rare-event limit: odds ratio = rate ratio
        q = val * p
        return stats.odds_tolerance(p, q) if q < 1 else None
    if p is None:
        return None
    q = p + val if bound == "max_increase" else p - val
    return stats.odds_tolerance(p, q)


_CONTRAST = {
    "max_increase": (1.0, -1.0, 1.0),
    "max_ratio": (1.0, None, 0.0),
    "max_decrease": (-1.0, 1.0, 1.0),
    "min_ratio": (-1.0, None, 0.0),
}


def _mean(
    gate: Gate, st: dict[str, Any], cand: dict[str, float], base: dict[str, float], alpha_k: float
) -> tuple[list[Result], str, dict[str, Any]]:
    cum = st["cum"]
    mB = stats.moments(cand.get("count", 0.0), cand.get("sum", 0.0), cand.get("sum_squares", 0.0))
    mA = stats.moments(base.get("count", 0.0), base.get("sum", 0.0), base.get("sum_squares", 0.0))
    for key, r in (("B", cand), ("A", base)):
        cum["n" + key] = cum.get("n" + key, 0.0) + r.get("count", 0.0)
        cum["s" + key] = cum.get("s" + key, 0.0) + r.get("sum", 0.0)
    burning = cum["nA"] < BURN_IN or cum["nB"] < BURN_IN
    lt = math.log(1 / alpha_k)
    out: list[Result] = []
    ev_tests: dict[str, Any] = {}
    for b, val in bounds(gate):
        delta = 0.0
        t = st["tests"].setdefault(b, {"S": 0.0, "V": 0.0, "W": 0.0, "Vb": 0.0, "rho": None})
        if b in RELATIVE:
            a, c, d = _CONTRAST[b]
            coef_a = c if c is not None else (-val if b == "max_ratio" else val)
            delta = d * val
            if mA is not None and mB is not None:  # stratum: this tick's difference
                w = mA[0] * mB[0] / (mA[0] + mB[0])
                est = a * mB[1] + coef_a * mA[1]
                var = a * a * mB[2] / mB[0] + coef_a * coef_a * mA[2] / mA[0]
                _accumulate(t, w, est - delta, var, burning, alpha_k)
        else:
            hi = b == "max"
            if mB is not None:  # one-sample: candidate mean against the ceiling
                _accumulate(
                    t, mB[0], (mB[1] - val) * (1 if hi else -1), mB[2] / mB[0], burning, alpha_k
                )
            tb = st["tests"].setdefault(
                b + ":baseline", {"S": 0.0, "V": 0.0, "W": 0.0, "Vb": 0.0, "rho": None}
            )
            if mA is not None:
                _accumulate(
                    tb, mA[0], (mA[1] - val) * (1 if hi else -1), mA[2] / mA[0], burning, alpha_k
                )
        harm, safe = _nm(t)
        state = ""
        if b in ABSOLUTE and harm >= lt:
            tb = st["tests"][b + ":baseline"]
            now_b = mA is not None and ((mA[1] > val) if b == "max" else (mA[1] < val))
            state = "both" if (_nm(tb)[0] >= lt or now_b) else "candidate"
            if state == "both":
                for k in (t, tb):
                    k.update({"S": 0.0, "V": 0.0, "W": 0.0})
        out.append((b, harm, safe, lt, state))
        if t["rho"] and t["W"] > 0:
            r = stats.nm_radius(t["V"], t["rho"], alpha_k) / t["W"]
            est = t["S"] / t["W"] + delta
            ev_tests[b] = {
                "estimate": est,
                "cs_lower": est - r,
                "cs_upper": est + r,
                "margin": delta,
            }
    cm = cum["sB"] / cum["nB"] if cum["nB"] else None
    bm = cum["sA"] / cum["nA"] if cum["nA"] else None
    ev = {
        "kind": "mean",
        "candidate_mean": cm,
        "baseline_mean": bm,
        "candidate_count": cum["nB"],
        "baseline_count": cum["nA"],
        "burn_in": burning,
        "confidence_sequences": ev_tests,
    }
    return out, describe.mean_line(gate.name, cm, bm, cum["nB"]), ev


def _accumulate(
    t: dict[str, Any], w: float, diff: float, var: float, burning: bool, alpha_k: float
) -> None:
    """Add one stratum (weight w, estimate-minus-margin diff, variance var) to a normal mixture."""
    if burning or t["rho"] is None:
        t["Vb"] += w * w * var
        if not burning:  # burn-in over: tune the mixture on it, then count from the next tick
            t["rho"] = stats.nm_rho(t["Vb"], alpha_k)
        return
    t["S"] += w * diff
    t["V"] += w * w * var
    t["W"] += w


def _nm(t: dict[str, Any]) -> tuple[float, float]:
    if not t["rho"]:
        return 0.0, 0.0
    return stats.nm_log_e(t["S"], t["V"], t["rho"]), stats.nm_log_e(-t["S"], t["V"], t["rho"])


def _verdict(
    gate: Gate, st: dict[str, Any], results: list[Result], words: str, ev: dict[str, Any]
) -> Verdict:
    ev["method"] = "sequential"
    ev["bounds"] = {
        b: {"log_e_harm": h, "log_e_safe": s, "log_threshold": lt, "breach": br}
        for b, h, s, lt, br in results
    }
    vals = dict(bounds(gate))
    failed = [r for r in results if r[1] >= r[3] and r[4] != "both"]
    both = [r for r in results if r[4] == "both"]
    srm = ev["srm"]["fired"]
    status = (
        "fail"
        if failed
        else ("pass" if results and all(r[2] >= r[3] for r in results) else "inconclusive")
    )
    halt = (srm or bool(both)) and not failed
    if halt:
        status = "inconclusive"
    worst = max(results, key=lambda r: r[1] - r[3], default=None)
    best = min(results, key=lambda r: r[2] - r[3], default=None)
    w = (
        (describe.bound_text(worst[0], vals[worst[0]], gate.kind), worst[1], worst[3])
        if worst
        else None
    )
    s = (describe.bound_text(best[0], vals[best[0]], gate.kind), best[2], best[3]) if best else None
    text = words + describe.decision(status, halt, w, s)
    if srm:
        o = ev["srm"]["observed_share"]
        text += (
            f"; traffic split looks broken (candidate share {o:.1%} vs "
            f"{ev['srm']['expected_share']:.0%} expected): halting, gates cannot be trusted"
        )
    if both:
        text += (
            f"; candidate and baseline both breach {', '.join(r[0] for r in both)} "
            "(a provider incident?): halting instead of rolling back"
        )
    return Verdict(gate=gate.name, status=status, summary=text, halt=halt, evidence=ev)
