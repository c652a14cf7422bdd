"""The sequential method: anytime-valid gates, candidate vs the baseline running at the same time.

Per gate, each bound is one sub-test with its own e-processes; the gate's alpha is split
equally between its sub-tests (Bonferroni, valid uniformly over time):

* proportion, relative bound (max_ratio, max_increase, min_ratio, max_decrease), requests as
  the unit: the exact conditional test per tick (stats.hyper_update). The bound, on the scale
  it was written (a risk ratio or a difference of rates), is turned into a tolerated odds ratio
  at the tick's own base rate, from the tick's margins (_psi_tol), so it means the same at 1 %
  and at 60 % and under drift. `fail`: evidence of harm beyond the bound >= 1/alpha_k. `pass`:
  the mirror e-process (null: the candidate is at or beyond the bound) >= 1/alpha_k, i.e.
  non-inferiority is certified. Counts are rounded to whole numbers (increase() is fractional).
* the same with users as the unit, when the tick carries readings per hash bucket of the
  sticky key (Tick.buckets): a cluster-robust normal-mixture e-process on per-bucket sums of
  the tick-stratified contrast at the bound (rollout.gates.buckets). Without buckets the verdict's
  evidence says it assumed independent requests.
* mean, relative bound: a normal-mixture confidence sequence on the contrast, stratified by
  tick (per-tick differences weighted by nA nB / (nA + nB)), after a burn-in of 100 samples per
  variant that also tunes the mixing precision. `pass` when the upper bound of the CS is below
  the margin, `fail` when the lower bound is above it; never `pass` when the ticks' variances
  scatter like a heavy tail (a raw latency or cost: gate the log or an exceedance).
* absolute bounds (max, min): one-sample e-processes per variant. The candidate breaching
  alone fails; both variants breaching (a provider incident) halts for a person instead.
* every gate with request totals also runs a sample-ratio-mismatch test (alpha 0.001): a
  candidate share beyond 20 % (relative) of the weight, counts deflated by their dispersion;
  a mismatch halts: the router is broken, gates can't be trusted.
* latency tails: a proportion gate whose `events` counts requests slower than a baseline
  quantile, e.g. `events: latency_over{variant="{{ variant }}",le="2.1"}` with max_ratio 1.2.
* `value` gates have no samples to test: they keep threshold semantics under this method and
  spend no alpha (a deterministic check has no sampling error; `failure_limit` bounds them).
* a gate's `role` (gates.roles): guardrails are these tests; a goal runs one at its own bound
  for `pass` (superiority) and one at the neutral bound for `fail`. `Settings.pass_alpha` sets
  the certification threshold apart from the harm tests' (engine.pass_alpha).

Harm evidence is an e-detector (gates.detector): a mixture of e-processes, one started with the
rollout and one at each later step (and after a halt, or a `rollout retry`), on shares of the
bound's alpha that sum to 1; a regression that begins after a healthy pilot is judged by
evidence from its own step, and no restart spends alpha again. State is JSON (lists of floats).
"""

from __future__ import annotations

import math
from typing import Any

from rollout.gates import buckets, describe, detector, readings, srm, stats, threshold
from rollout.gates.types import Settings, Tick, Verdict
from rollout.spec import Gate

RELATIVE = ("max_ratio", "max_increase", "min_ratio", "max_decrease")
ABSOLUTE = ("max", "min")


def bounds(gate: Gate) -> list[tuple[str, float]]:
    return [
        (b, float(getattr(gate, b))) for b in (*RELATIVE, *ABSOLUTE) if getattr(gate, b) is not None
    ]


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    if gate.kind == "value":
        st, v = threshold.evaluate(gate, state, tick, settings)
        ev = {
            **v.evidence,
            "method": "threshold",
            "note": "value gates keep threshold semantics under method sequential",
            # one number against a limit has no sampling error to spend alpha on: it is not in
            # the family-wise alpha (engine.alpha_share); failure_limit bounds its failed checks
            "alpha": 0.0,
            "counted_in_alpha": False,
        }
        return st, v.model_copy(update={"evidence": ev})
    st = (
        detector.copy(state)
        if state
        else {
            "v": 2,
            "ticks": 0,
            "cum": {},
            "srm": srm.blank(),
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
    step = [tick.stage, tick.weight]
    # a new step with a baseline alongside starts new harm e-processes (the first tick's
    # e-processes are the tests' own, started with the state)
    fresh = st.get("step") not in (None, step) and 0 < tick.weight < 100
    st["step"] = step
    alpha_k = settings.alpha / max(1, len(bounds(gate)))
    role = "total" if gate.kind == "proportion" else "count"
    # counts are numbers (increase() is fractional): the nearest integer, never truncated
    nB, nA = stats.whole(cand.get(role, 0.0)), stats.whole(base.get(role, 0.0))
    split = srm.check(st, nA, nB, tick.weight / 100.0, buckets.counts(tick, role))
    # Counts that are not independent draws (extrapolated increase() readings, x 4/3 with
    # 15 s scrapes of a 1 min window; bursts of one user) scatter more than binomially; the
    # split check measures by how much, and the request-level tests count each request as
    # 1/phi of one (a predictable plug-in: from the ticks before this one).
    phi = split["dispersion"] if split["dispersion"] is not None else st.get("phi", 1.0)
    st["phi"] = phi
    if gate.kind == "proportion":
        rows = buckets.rows(tick)
        results, words, ev = _proportion(gate, st, cand, base, alpha_k, fresh, rows, phi)
    else:
        results, words, ev = _mean(gate, st, cand, base, alpha_k, fresh, phi)
    ev["dispersion"] = phi
    extra: dict[str, Any] = {}
    lt_pass = None
    if settings.pass_alpha is not None and settings.pass_alpha != settings.alpha:
        pass_k = settings.pass_alpha / max(1, len(bounds(gate)))
        lt_pass = math.log(1 / pass_k)
        extra = {"pass_alpha": settings.pass_alpha, "pass_alpha_per_bound": pass_k}
    return st, _verdict(
        gate,
        st,
        results,
        words,
        {**ev, "srm": split, "alpha": settings.alpha, "alpha_per_bound": alpha_k, **extra},
        lt_pass,
    )


def carry(state: dict[str, Any]) -> dict[str, Any]:
    """A gate's state for a new attempt of the same plan (`rollout retry`): alpha is not spent
    again. Every harm e-process (and the SRM test) starts over on the next unused share of its
    alpha, exactly as after a halt; the evidence toward certification (`pass`) is kept, since
    the candidate is the same (same plan hash). Threshold-method state starts over."""
    if state.get("v") != 2:
        return {}
    st = detector.copy(state)
    st["step"] = None  # the retry's first tick starts nothing more: the restarts below do
    srm.start_over(st)
    st.pop("srm_weight", None)
    for name, t in st["tests"].items():
        if name.endswith(":baseline"):
            continue
        if name.endswith(":buckets"):  # S, V serve both sides: harm starts on a fresh part
            if "k" in t:
                t["late"] = [{"B": [0.0] * t["k"], "A": [0.0] * t["k"]}]
                t["late_k"] = [t.get("next", 1)]
                t["next"] = t["late_k"][0] + 1
                t["harm_from_late"] = True
        elif "up" in t:  # a proportion relative bound: restart the harm side only
            harm = "up" if name in ("max_ratio", "max_increase") else "down"
            detector.restart(t, (harm,), detector.zeros())
        elif "cu" in t:
            detector.restart(t, ("cu", "cd", "bu", "bd"), detector.zeros())
        elif name in RELATIVE:  # a mean relative bound: S, V, W serve both sides; keep them
            # for `pass` and start the harm side afresh as a late component on the next share
            t["k0"] = t.get("k0", 0)
            nxt = t.get("next", 1)
            t["late"], t["late_k"] = [[0.0, 0.0, 0.0]], [nxt]
            t["next"] = nxt + 1
            t["harm_from_late"] = True
        else:  # a mean ceiling: start over
            k0 = t.get("next", 1)
            t.update({"S": 0.0, "V": 0.0, "W": 0.0, "k0": k0, "next": k0 + 1})
            t["late"], t["late_k"] = [], []
            tb = st["tests"].get(name + ":baseline")
            if tb is not None:
                tb.update({"S": 0.0, "V": 0.0, "W": 0.0})
    return st


def _proportion(
    gate: Gate,
    st: dict[str, Any],
    cand: dict[str, float],
    base: dict[str, float],
    alpha_k: float,
    fresh: bool = False,
    rows: buckets.Rows | None = None,
    phi: float = 1.0,
) -> tuple[list[detector.Result], str, dict[str, Any]]:
    cum = st["cum"]
    unit = st.setdefault("unit", "bucket" if rows is not None else "request")
    nB, nA = stats.whole(cand.get("total", 0.0)), stats.whole(base.get("total", 0.0))
    eB = min(stats.whole(cand.get("events", 0.0)), nB)
    eA = min(stats.whole(base.get("events", 0.0)), nA)
    lt = math.log(1 / alpha_k)
    _, logw = stats.half_grid()
    out: list[detector.Result] = []
    tests = st["tests"]
    tols: dict[str, float] = {}
    for b, val in bounds(gate):
        t = tests.setdefault(
            b,
            {"up": detector.zeros(), "down": detector.zeros()}
            if b in RELATIVE
            else {
                "cu": detector.zeros(),
                "cd": detector.zeros(),
                "bu": detector.zeros(),
                "bd": detector.zeros(),
            },
        )
        detector.starts(t, fresh, detector.zeros())
        if b in RELATIVE and unit == "bucket":
            out.append(buckets.bound(tests, b, val, rows, fresh, alpha_k, lt))
        elif b in RELATIVE:
            harm_up = b in ("max_ratio", "max_increase")
            tol = _psi_tol(b, val, nA, nB, eA, eB)
            if tol is not None:
                late: list[list[float]] = t["late"]
                ups, downs = (late, []) if harm_up else ([], late)
                stats.hyper_update(
                    t["up"],
                    t["down"],
                    nA / phi,
                    nB / phi,
                    eA / phi,
                    eB / phi,
                    tol,
                    more_up=ups,
                    more_down=downs,
                )
                t["log_psi_tol"] = tol
                tols[b] = tol
            up, down = stats.log_mix(t["up"], logw), stats.log_mix(t["down"], logw)
            harm, safe = (up, down) if harm_up else (down, up)
            harm = detector.combine(t, harm, [stats.log_mix(x, logw) for x in t["late"]])
            out.append((b, harm, safe, lt, ""))
        else:
            hi = b == "max"
            lc: list[list[float]] = t["late"]
            ups, downs = (lc, []) if hi else ([], lc)
            stats.binom_update(t["cu"], t["cd"], nB, eB, val, more_up=ups, more_down=downs)
            stats.binom_update(t["bu"], t["bd"], nA, eA, val)
            harm_c = stats.log_mix(t["cu" if hi else "cd"], logw)
            harm_c = detector.combine(t, harm_c, [stats.log_mix(x, logw) for x in t["late"]])
            safe_c = stats.log_mix(t["cd" if hi else "cu"], logw)
            harm_b = stats.log_mix(t["bu" if hi else "bd"], logw)
            now_b = (eA / nA > val if hi else eA / nA < val) if nA else False
            both = harm_c >= lt and (harm_b >= lt or now_b)
            if both:  # a provider incident: the ceiling tests start over on the next share
                detector.restart(t, ("cu", "cd", "bu", "bd"), detector.zeros())
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
        "log_odds_tolerance": tols,
        "unit": unit,
    }
    if unit == "request":
        ev["assumes"] = (
            "independent requests (the source gives no bucket label of the sticky key); "
            "clustered users make this test too confident"
        )
    elif rows is None:
        ev["assumes"] = "this tick had no bucket readings: the relative bounds skipped it"
    return out, describe.proportion_line(gate.name, rc, rb, cum["nB"]), ev


def _psi_tol(bound: str, val: float, nA: int, nB: int, eA: int, eB: int) -> float | None:
    """This tick's tolerated log odds ratio: the bound, on the scale the user wrote it (a risk
    ratio or a difference of rates), at this tick's own base rate.

    The exact test conditions on the tick's margins (requests per variant, events in all), so
    any tolerance computed from them keeps each increment an e-value. The baseline rate is
    estimated from the pooled rate as if the candidate sat exactly on the bound: the pooled rate
    is p = (1 - w) pA + w pB with w the candidate's share, and on the bound pB = r pA (ratio) or
    pA + d (difference). A rate that drifts from tick to tick is followed tick by tick, so a
    risk-ratio margin means the same thing at 1 % and at 60 % (an odds ratio would not)."""
    N, E = nA + nB, eA + eB
    if N <= 0 or nA <= 0 or nB <= 0 or E <= 0 or E >= N:
        return None  # the margins fix the count: no information, no tolerance needed
    p, w = E / N, nB / N
    if bound in ("max_ratio", "min_ratio"):
        pa = p / (1.0 - w + w * val)
        return stats.odds_tolerance(pa, val * pa) if val * pa < 1.0 else None
    d = val if bound == "max_increase" else -val
    pa = p - w * d
    return stats.odds_tolerance(pa, pa + d)


_CONTRAST = {
    "max_increase": (1.0, -1.0, 1.0),
    "max_ratio": (1.0, None, 0.0),
    "max_decrease": (-1.0, 1.0, 1.0),
    "min_ratio": (-1.0, None, 0.0),
}


def _mean(
    gate: Gate,
    st: dict[str, Any],
    cand: dict[str, float],
    base: dict[str, float],
    alpha_k: float,
    fresh: bool = False,
    phi: float = 1.0,
) -> tuple[list[detector.Result], str, dict[str, Any]]:
    cum = st["cum"]
    mB = stats.moments(cand.get("count", 0.0), cand.get("sum", 0.0), cand.get("sum_squares", 0.0))
    mA = stats.moments(base.get("count", 0.0), base.get("sum", 0.0), base.get("sum_squares", 0.0))
    kurt = _kurtosis(st, mB, mA)
    if phi > 1.0:  # each sample counts as 1/phi of one (see evaluate)
        mB = (mB[0] / phi, mB[1], mB[2]) if mB is not None else None
        mA = (mA[0] / phi, mA[1], mA[2]) if mA is not None else None
    for key, r in (("B", cand), ("A", base)):
        cum["n" + key] = cum.get("n" + key, 0.0) + r.get("count", 0.0)
        cum["s" + key] = cum.get("s" + key, 0.0) + r.get("sum", 0.0)
    burning = cum["nA"] < detector.BURN_IN or cum["nB"] < detector.BURN_IN
    lt = math.log(1 / alpha_k)
    out: list[detector.Result] = []
    ev_tests: dict[str, Any] = {}
    for b, val in bounds(gate):
        delta = 0.0
        t = st["tests"].setdefault(b, {"S": 0.0, "V": 0.0, "W": 0.0, "Vb": 0.0, "rho": None})
        detector.starts(t, fresh, [0.0, 0.0, 0.0])
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
        if t["rho"]:
            late = [stats.nm_log_e(x[0], x[1], t["rho"]) for x in t["late"]]
            # after a retry the first e-process serves `pass` only: its harm share is spent
            harm = detector.combine(t, -math.inf if t.get("harm_from_late") else harm, late)
        state = ""
        if b in ABSOLUTE and harm >= lt:
            tb = st["tests"][b + ":baseline"]
            now_b = mA is not None and ((mA[1] > val) if b == "max" else (mA[1] < val))
            state = "both" if (_nm(tb)[0] >= lt or now_b) else "candidate"
            if state == "both":  # a provider incident: start over on the next share
                k0 = t.get("next", 1)
                for k in (t, tb):
                    k.update({"S": 0.0, "V": 0.0, "W": 0.0, "k0": k0, "next": k0 + 1})
                    k["late"], k["late_k"] = [], []
        if kurt is None or kurt > KURTOSIS_MAX:  # a mean that may hide a tail: never certified
            safe = min(safe, 0.0)
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
        "kurtosis": kurt,
    }
    words = describe.mean_line(gate.name, cm, bm, cum["nB"])
    if kurt is not None and kurt > KURTOSIS_MAX:
        ev["heavy_tailed"] = True
        words += (
            f"; not certified: the values look heavy-tailed (kurtosis ~{kurt:.0f}), and a mean "
            "of raw values can hide a rare huge one; gate the mean of their logs, or the share "
            "over a threshold (a proportion gate), to certify"
        )
    return out, words, ev


KURTOSIS_MAX = 6.0  # above it a mean never certifies (normal 3; lognormal sd 0.3: 4.6, 0.6: 13)
KURTOSIS_TICKS = 10  # ticks with samples in both variants before a mean gate may certify


def _kurtosis(
    st: dict[str, Any],
    mB: tuple[float, float, float] | None,
    mA: tuple[float, float, float] | None,
) -> float | None:
    """The larger of the two variants' kurtosis, estimated from how much the per-tick sample
    variances scatter: for n values with kurtosis k, n (s^2 - sigma^2)^2 averages about
    sigma^4 (k - 1). Sums alone (count, sum, sum of squares) say nothing about tails; the
    scatter of the ticks' variances does, and one tick holding a huge value shows it at once.
    Kept for the whole run (a tail seen once is not forgotten). None: too few ticks yet."""
    k4 = st.setdefault("kurt", {"B": [0.0, 0.0, 0.0, 0.0], "A": [0.0, 0.0, 0.0, 0.0]})
    worst: float | None = 0.0
    for key, m in (("B", mB), ("A", mA)):
        acc = k4[key]
        if m is not None:
            n, _mean, var = m
            acc[0], acc[1], acc[2], acc[3] = (
                acc[0] + 1,
                acc[1] + n,
                acc[2] + n * var,
                acc[3] + (n * var * var),
            )
        t, sn, snv, snv2 = acc
        if t < KURTOSIS_TICKS or sn <= 0 or snv <= 0:
            worst = None
            continue
        s2 = snv / sn
        k = 1.0 + max(0.0, snv2 - s2 * s2 * sn) / t / (s2 * s2)
        if worst is not None:
            worst = max(worst, k)
    return worst


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
    for x in t.get("late", ()):  # e-processes started at later steps: [S, V, W] from there
        x[0] += w * diff
        x[1] += w * w * var
        x[2] += w


def _nm(t: dict[str, Any]) -> tuple[float, float]:
    if not t["rho"]:
        return 0.0, 0.0
    return stats.nm_log_e(t["S"], t["V"], t["rho"]), stats.nm_log_e(-t["S"], t["V"], t["rho"])


def _verdict(
    gate: Gate,
    st: dict[str, Any],
    results: list[detector.Result],
    words: str,
    ev: dict[str, Any],
    lt_pass: float | None = None,
) -> Verdict:
    """`lt_pass`: the log threshold of certification when it differs from the harm tests' (a
    plan with goals: engine.pass_alpha)."""

    def lp(r: detector.Result) -> float:  # the log threshold a safety e-value must reach
        return r[3] if lt_pass is None else lt_pass

    ev["method"] = "sequential"
    ev["bounds"] = {
        b: {"log_e_harm": h, "log_e_safe": s, "log_threshold": lt, "breach": br}
        for b, h, s, lt, br in results
    }
    if lt_pass is not None:
        for b in ev["bounds"].values():
            b["log_threshold_pass"] = lt_pass
    vals = dict(bounds(gate))
    failed = [r for r in results if r[1] >= r[3] and r[4] != "both"]
    both = [r for r in results if r[4] == "both"]
    mismatch = ev["srm"]["fired"]
    status = (
        "fail"
        if failed
        else ("pass" if results and all(r[2] >= lp(r) for r in results) else "inconclusive")
    )
    halt = (mismatch or bool(both)) and not failed
    if halt:
        status = "inconclusive"
    worst = max(results, key=lambda r: r[1] - r[3], default=None)
    best = min(results, key=lambda r: r[2] - lp(r), default=None)
    w = (
        (describe.bound_text(worst[0], vals[worst[0]], gate.kind), worst[1], worst[3])
        if worst
        else None
    )
    s = None
    if best is not None:
        s = (describe.bound_text(best[0], vals[best[0]], gate.kind), best[2], lp(best))
    text = words + describe.decision(status, halt, w, s)
    if mismatch:
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
