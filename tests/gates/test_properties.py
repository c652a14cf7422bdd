"""Property tests of the gate math: any counts up to 10^9 per tick, many ticks, every gate kind
and bound, both methods -> no exception, and every log-evidence finite (or the reading refused
as impossible). Hypothesis runs without deadlines: nothing here depends on wall-clock speed."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.gates import readings, stats
from rollout.gates.evaluate import Settings, Tick, Verdict, evaluate
from rollout.spec import Gate

AT = datetime(2026, 1, 1, tzinfo=UTC)
BIG = 1e9

PROPORTION_BOUNDS = [
    {"max_ratio": 1.25},
    {"max_ratio": 1.0},
    {"min_ratio": 0.8},
    {"max_increase": 0.01},
    {"max_decrease": 0.02},
    {"max": 0.05},
    {"min": 0.9},
    {"max_ratio": 1.1, "max": 0.3},
]
MEAN_BOUNDS = [
    {"max_increase": 0.1},
    {"max_ratio": 1.2},
    {"min_ratio": 0.9},
    {"max_decrease": 0.05},
    {"max": 2.0},
    {"min": -1.0, "max_increase": 0.0},
]
GATES = (
    [
        Gate(name="error-rate", kind="proportion", events="e", total="t", **b)
        for b in PROPORTION_BOUNDS
    ]
    + [
        Gate(name="log-latency", kind="mean", count="c", sum="s", sum_squares="q", **b)
        for b in MEAN_BOUNDS
    ]
    + [Gate(name="p95", kind="value", query="q", max=4.0)]
)

count = st.one_of(
    st.integers(0, 10**9).map(float),
    st.floats(0, BIG, allow_nan=False),
    st.sampled_from([0.0, 1.0, 2.0, 0.5, BIG, BIG - 1]),
)
anything = st.one_of(count, st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -BIG]))


@st.composite
def proportion(draw: Any, wild: bool) -> dict[str, float]:
    n = draw(anything if wild else count)
    if wild and draw(st.booleans()):
        e = draw(anything)
    else:
        e = n * draw(st.floats(0, 1)) if math.isfinite(n) and n >= 0 else draw(anything)
    return {"events": e, "total": n}


@st.composite
def mean(draw: Any, wild: bool) -> dict[str, float]:
    n = draw(anything if wild else count)
    mu = draw(st.floats(-1e3, 1e3))
    sd = draw(st.floats(0, 1e2))
    if not (math.isfinite(n) and n >= 0):
        return {"count": n, "sum": mu, "sum_squares": sd}
    s, q = n * mu, n * (mu * mu + sd * sd)
    if wild and draw(st.booleans()):
        q = draw(anything)
    return {"count": n, "sum": s, "sum_squares": q}


@st.composite
def ticks(draw: Any, gate: Gate) -> list[Tick]:
    out = []
    wild = draw(st.booleans())
    for _ in range(draw(st.integers(1, 12))):
        weight = draw(st.sampled_from([1, 5, 25, 50, 99, 100]))
        if draw(st.integers(0, 9)) == 0:
            out.append(Tick(at=AT, stage="s", weight=weight, readings=None, error="timeout"))
            continue
        if gate.kind == "proportion":
            r = {"candidate": draw(proportion(wild)), "baseline": draw(proportion(wild))}
        elif gate.kind == "mean":
            r = {"candidate": draw(mean(wild)), "baseline": draw(mean(wild))}
        else:
            r = {"candidate": {"query": draw(anything)}, "baseline": {"query": draw(anything)}}
        stage = draw(st.sampled_from(["pilot", "expansion"]))
        out.append(Tick(at=AT, stage=stage, weight=weight, readings=r))
    return out


def _floats(obj: Any) -> list[float]:
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _floats(v)]
    if isinstance(obj, list | tuple):
        return [x for v in obj for x in _floats(v)]
    return []


def _check(gate: Gate, tick: Tick, state: dict[str, Any], v: Verdict) -> None:
    assert v.status in ("pass", "fail", "inconclusive")
    json.dumps(state)
    refused = tick.readings is not None and readings.first_problem(gate, tick.readings)
    if refused:
        assert v.status == "inconclusive" and v.evidence.get("error")
    for b in v.evidence.get("bounds", {}).values():
        assert math.isfinite(b["log_e_harm"]) and math.isfinite(b["log_e_safe"])
    srm = v.evidence.get("srm")
    if srm is not None:
        assert math.isfinite(srm["log_e"])
    for x in _floats(state):
        assert math.isfinite(x), state


@pytest.mark.slow  # over a second: 120 examples through every gate
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_exception_and_finite_evidence_at_any_count(data: Any) -> None:
    gate = data.draw(st.sampled_from(GATES))
    method = data.draw(st.sampled_from(["sequential", "threshold"]))
    cfg = Settings(method=method, alpha=data.draw(st.sampled_from([0.05, 0.001, 0.25])))
    state: dict[str, Any] = {}
    for tick in data.draw(ticks(gate)):
        state, v = evaluate(gate, state, tick, cfg)
        _check(gate, tick, state, v)


@pytest.mark.slow  # about a second: hypothesis examples
@settings(max_examples=60, deadline=None)
@given(
    nA=st.integers(0, 10**9),
    nB=st.integers(0, 10**9),
    fa=st.floats(0, 1),
    fb=st.floats(0, 1),
    tol=st.floats(-3, 3),
)
def test_conditional_increments_are_finite_at_any_count(
    nA: int, nB: int, fa: float, fb: float, tol: float
) -> None:
    up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
    stats.hyper_update(up, down, nA, nB, round(nA * fa), round(nB * fb), tol)
    stats.binom_update(up, down, nB, round(nB * fb), 0.03)
    L = [0.0] * len(stats.sym_grid()[0])
    stats.srm_update(L, nA, nB, 0.05)
    assert all(math.isfinite(v) for v in up + down + L)
    assert math.isfinite(stats.log_mix(up, stats.half_grid()[1]))
