"""Impossible readings: values no real traffic can produce, said in words.

A source that returns 1,204 errors for 1,000 requests, a negative count, NaN or infinity is
broken; its reading must count as no data (a source error), never as evidence and never as a
pass. `problem` is called by the runner where it observes, and again defensively by both
gate methods, so an impossible value can neither crash the statistics nor move a verdict.

Counts may be fractional (Prometheus `increase()` extrapolates), so "impossible" allows for
rounding: events may exceed the total by up to half a count (the exact test rounds both to the
nearest integer and caps events at the total), and sums of a mean gate may break
Cauchy-Schwarz (sum^2 <= count x sum of squares) by a relative 1e-6 (float accumulation and
extrapolation of three separate series).
"""

from __future__ import annotations

import math

from rollout.spec import Gate

ROUNDING = 0.5  # counts: events may exceed the total by this much (both are rounded)
VARIANCE_TOLERANCE = 1e-6  # mean gates: relative slack on sum^2 <= count x sum of squares
_NOUN = {
    "events": "events",
    "total": "requests",
    "count": "samples",
    "sum": "sum",
    "sum_squares": "sum of squares",
    "query": "value",
}


def number(x: float) -> str:
    """1,204 for whole numbers, 1,204.5 otherwise; NaN and infinity in words."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "infinity" if x > 0 else "-infinity"
    if abs(x) >= 1e15 or (x != 0 and abs(x) < 1e-3):
        return f"{x:.3g}"
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def problem(gate: Gate, variant: str, values: dict[str, float]) -> str | None:
    """Why this variant's reading cannot be real, or None when it can.

    `values` maps role -> number as the source returned it (roles of the gate's kind; missing
    roles are not a problem here: no data is handled where data is missing)."""
    where = f"{gate.name}: the {variant} query"
    for role, v in values.items():
        if not isinstance(v, int | float) or isinstance(v, bool):
            return f"{where} for {role} returned {v!r}, not a number"
        if math.isnan(v) or math.isinf(v):
            return f"{where} for {role} returned {number(v)}"
    if gate.kind == "proportion":
        return _proportion(where, values)
    if gate.kind == "mean":
        return _mean(where, values)
    return None


def _proportion(where: str, values: dict[str, float]) -> str | None:
    for role in ("total", "events"):
        v = values.get(role)
        if v is not None and v < 0:
            return f"{where} returned {number(v)} {_NOUN[role]} (a count cannot be negative)"
    e, n = values.get("events"), values.get("total")
    if e is not None and n is not None and e > n + ROUNDING:
        return f"{where} returned {number(e)} events for {number(n)} requests"
    return None


def _mean(where: str, values: dict[str, float]) -> str | None:
    n, s, q = values.get("count"), values.get("sum"), values.get("sum_squares")
    if n is not None and n < 0:
        return f"{where} returned a count of {number(n)} samples (a count cannot be negative)"
    if q is not None and q < 0:
        return f"{where} returned a sum of squares of {number(q)} (it cannot be negative)"
    if n is None or s is None or q is None:
        return None
    if n == 0:
        if s != 0 or q != 0:
            return (
                f"{where} returned a sum of {number(s)} and a sum of squares of {number(q)} "
                "over 0 samples"
            )
        return None
    lhs, rhs = s * s, n * q
    if lhs > rhs + VARIANCE_TOLERANCE * max(lhs, rhs):
        return (
            f"{where} returned sums that imply a negative variance (count {number(n)}, "
            f"sum {number(s)}, sum of squares {number(q)}: sum^2 exceeds count x sum of squares)"
        )
    return None


def first_problem(gate: Gate, readings: dict[str, dict[str, float]]) -> str | None:
    """The first impossible reading of a tick (candidate first), or None."""
    for variant in ("candidate", "baseline", *sorted(set(readings) - {"candidate", "baseline"})):
        values = readings.get(variant)
        if values is not None:
            msg = problem(gate, variant, values)
            if msg is not None:
                return msg
    return None
