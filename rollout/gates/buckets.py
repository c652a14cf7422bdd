"""Relative proportion bounds judged with users as the unit: readings per hash bucket of the
sticky key (Tick.buckets, from a gate's `bucket_by` label) and a cluster-robust normal-mixture
e-process on per-bucket sums of the tick-stratified contrast at the bound; `counts` gives the
split check (srm.py) the same buckets' request counts.
"""

from __future__ import annotations

import math
from typing import Any

from rollout.gates import detector, readings, stats
from rollout.gates.types import Tick

# per-bucket (events, requests) of the candidate and of the baseline, in bucket order
Rows = tuple[list[tuple[float, float]], list[tuple[float, float]]]
MIN_BUCKETS = 8  # fewer buckets than this give no usable variance
BUCKET_EVENTS = 10  # events per variant before the bucket test tunes its mixture (burn-in)


def rows(tick: Tick) -> Rows | None:
    """The tick's bucket readings as (events, total) rows, or None if unusable."""
    bk = tick.buckets
    if not bk or "candidate" not in bk or "baseline" not in bk:
        return None
    out: list[list[tuple[float, float]]] = []
    for variant in ("candidate", "baseline"):
        rows = []
        for r in bk[variant]:
            e, n = r.get("events", 0.0), r.get("total", 0.0)
            ok = all(isinstance(x, int | float) and math.isfinite(x) for x in (e, n))
            if not ok or e < 0 or n < 0 or e > n + readings.ROUNDING:
                return None  # an impossible bucket: no bucket data, never evidence
            rows.append((min(float(e), float(n)), float(n)))
        out.append(rows)
    if len(out[0]) != len(out[1]) or len(out[0]) < MIN_BUCKETS:
        return None
    return out[0], out[1]


def totals(c: dict[str, list[float]]) -> tuple[float, float]:
    """(S, V): the sum of the bucket contributions and its cluster-robust variance (with a
    small-sample allowance, 1 + 6 / buckets, for a variance estimated from the buckets)."""
    v = 0.0
    for xs in (c["B"], c["A"]):
        m = sum(xs) / len(xs)
        v += sum((x - m) ** 2 for x in xs)
    k = len(c["B"])
    return sum(c["B"]) + sum(c["A"]), v * k / (k - 1) * (1.0 + 6.0 / k)


def bound(
    tests: dict[str, Any],
    b: str,
    val: float,
    rows: Rows | None,
    fresh: bool,
    alpha_k: float,
    lt: float,
) -> detector.Result:
    """A relative bound judged on hash buckets of the sticky key (the unit of randomisation).

    Per tick the contrast at the bound is D = sum over the candidate's requests of (event -
    level), with level the baseline's rate this tick at the bound (r q, q + d or q - d), so
    that E[D] <= 0 when the candidate is within the bound, whatever the base rate does from
    tick to tick (stratified by tick). Each bucket's share of D (and of the baseline's own
    error in q) is accumulated per bucket over ticks; users stay in their bucket, so whatever
    ties one user's requests together (bursts, a user who fails often) stays inside a bucket
    and the spread of the bucket sums is a variance that holds for clustered traffic. A
    normal-mixture e-process (tuned after a burn-in, as for means) runs on (sum, variance)."""
    k = len(rows[0]) if rows is not None else 0
    t = tests.setdefault(b + ":buckets", {"rho": None, "late": [], "late_k": [], "next": 1})

    def blank() -> dict[str, list[float]]:
        return {"B": [0.0] * t["k"], "A": [0.0] * t["k"]}

    if rows is not None and "k" not in t:
        t["k"] = k
        t["c"], t["burn"] = blank(), blank()
        t["n"] = [0.0, 0.0, 0.0, 0.0]  # requests and events so far, per variant
    if "k" in t and fresh and t["next"] < detector.MAX_STARTS:
        t["late"].append(blank())
        t["late_k"].append(t["next"])
        t["next"] += 1
    if rows is not None and k == t.get("k"):
        rb, ra = rows
        nB, nA = sum(n for _, n in rb), sum(n for _, n in ra)
        eB, eA = sum(e for e, _ in rb), sum(e for e, _ in ra)
        if nA > 0 and nB > 0:
            q = eA / nA
            sgn = 1.0 if b in ("max_ratio", "max_increase") else -1.0
            if b in ("max_ratio", "min_ratio"):
                level, mult = val * q, val * nB / nA
            else:
                level, mult = q + sgn * val, nB / nA
            cb = [sgn * (e - level * n) for e, n in rb]
            ca = [-sgn * mult * (e - q * n) for e, n in ra]
            n4 = t["n"]
            n4[0], n4[1], n4[2], n4[3] = n4[0] + nB, n4[1] + eB, n4[2] + nA, n4[3] + eA
            burning = min(n4[0], n4[2]) < detector.BURN_IN or min(n4[1], n4[3]) < BUCKET_EVENTS
            targets = [t["burn"]] if t["rho"] is None else [t["c"], *t["late"]]
            for c in targets:
                for i in range(k):
                    c["B"][i] += cb[i]
                    c["A"][i] += ca[i]
            if t["rho"] is None and not burning:  # tune on the burn-in, count from next tick
                t["rho"] = stats.nm_rho(max(totals(t["burn"])[1], 1e-12), alpha_k)
                t["late"] = [blank() for _ in t["late"]]
    harm = safe = 0.0
    if t["rho"]:
        S, V = totals(t["c"])
        harm, safe = stats.nm_log_e(S, V, t["rho"]), stats.nm_log_e(-S, V, t["rho"])
        late = [stats.nm_log_e(totals(c)[0], totals(c)[1], t["rho"]) for c in t["late"]]
        harm = detector.combine(t, -math.inf if t.get("harm_from_late") else harm, late)
    return (b, harm, safe, lt, "")


# per-bucket (baseline, candidate) requests, in bucket order
Split = list[tuple[float, float]]


def counts(tick: Tick, role: str = "total") -> Split | None:
    """The tick's per-bucket request counts (baseline, candidate) for the split check, or None
    if there are none or they are unusable (a negative, NaN or missing count: no evidence)."""
    bk = tick.buckets
    if not bk or "candidate" not in bk or "baseline" not in bk:
        return None
    cand, base = bk["candidate"], bk["baseline"]
    if len(cand) != len(base) or len(cand) < MIN_BUCKETS:
        return None
    out: Split = []
    for a, b in zip(base, cand, strict=True):
        na, nb = _count(a.get(role)), _count(b.get(role))
        if na is None or nb is None:
            return None
        out.append((na, nb))
    return out


def _count(x: object) -> float | None:
    """A request count as a float, or None if no count can be this (bool, NaN, negative)."""
    if not isinstance(x, int | float) or isinstance(x, bool):
        return None
    return float(x) if math.isfinite(x) and x >= 0 else None
