"""Impossible readings are source errors: words that locate them, never a pass, never a crash."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from rollout.gates import readings
from rollout.gates.evaluate import Settings, Tick, evaluate
from rollout.spec import Gate

AT = datetime(2026, 1, 1, tzinfo=UTC)
ERR = Gate(name="error-rate", kind="proportion", events="e", total="t", max_ratio=1.25)
LAT = Gate(name="log-latency", kind="mean", count="c", sum="s", sum_squares="q", max_increase=0.1)
P95 = Gate(name="p95", kind="value", query="q", max=4.0)


def test_more_events_than_requests_is_said_as_in_the_issue() -> None:
    msg = readings.problem(ERR, "candidate", {"events": 1204.0, "total": 1000.0})
    assert msg == "error-rate: the candidate query returned 1,204 events for 1,000 requests"


@pytest.mark.parametrize(
    ("gate", "values", "words"),
    [
        (ERR, {"events": -3.0, "total": 100.0}, "returned -3 events (a count cannot be negative)"),
        (ERR, {"events": 1.0, "total": -100.0}, "returned -100 requests"),
        (ERR, {"events": math.nan, "total": 100.0}, "for events returned NaN"),
        (ERR, {"events": 1.0, "total": math.inf}, "for total returned infinity"),
        (LAT, {"count": -5.0, "sum": 1.0, "sum_squares": 1.0}, "a count of -5 samples"),
        (LAT, {"count": 10.0, "sum": 1.0, "sum_squares": -2.5}, "sum of squares of -2.5"),
        (LAT, {"count": 10.0, "sum": 100.0, "sum_squares": 50.0}, "negative variance"),
        (LAT, {"count": 0.0, "sum": 5.2, "sum_squares": 9.0}, "over 0 samples"),
        (P95, {"query": -math.inf}, "for query returned -infinity"),
    ],
)
def test_each_impossible_reading_is_named(gate: Gate, values: dict[str, float], words: str) -> None:
    msg = readings.problem(gate, "baseline", values)
    assert msg is not None and words in msg and msg.startswith(f"{gate.name}: the baseline query")


@pytest.mark.parametrize(
    ("gate", "values"),
    [
        (ERR, {"events": 1000.4, "total": 1000.0}),  # increase() extrapolation: within rounding
        (ERR, {"events": 0.0, "total": 0.0}),
        (ERR, {"events": 19.6, "total": 1003.7}),
        (LAT, {"count": 3.0, "sum": 6.0, "sum_squares": 12.0 * (1 - 1e-8)}),  # rounding
        (LAT, {"count": 0.0, "sum": 0.0, "sum_squares": 0.0}),
        (P95, {"query": -3.0}),  # a value gate's number may be anything finite
    ],
)
def test_possible_readings_pass_through(gate: Gate, values: dict[str, float]) -> None:
    assert readings.problem(gate, "candidate", values) is None


def _tick(gate: Gate, cand: dict[str, float], base: dict[str, float] | None = None) -> Tick:
    if base is None:
        base = {"events": 10.0, "total": 950.0} if gate.kind == "proportion" else dict(cand)
    return Tick(at=AT, stage="pilot", weight=5, readings={"candidate": cand, "baseline": base})


@pytest.mark.parametrize("method", ["sequential", "threshold"])
@pytest.mark.parametrize(
    ("gate", "cand"),
    [
        (ERR, {"events": 250.0, "total": 50.0}),  # a 500 % error rate
        (ERR, {"events": math.nan, "total": 50.0}),
        (ERR, {"events": -1.0, "total": 50.0}),
        (LAT, {"count": 50.0, "sum": math.inf, "sum_squares": 1.0}),
        (LAT, {"count": 50.0, "sum": 100.0, "sum_squares": 1.0}),
        (P95, {"query": math.nan}),
    ],
)
def test_an_impossible_reading_is_no_data_under_both_methods(
    method: Any, gate: Gate, cand: dict[str, float]
) -> None:
    settings = Settings(method=method, alpha=0.05)
    st, v = evaluate(gate, {}, _tick(gate, cand), settings)
    assert v.status == "inconclusive" and not v.halt
    assert "impossible reading" in v.summary and gate.name in v.summary
    assert v.evidence["error"] in v.summary
    if method == "sequential" and gate.kind != "value":
        assert st.get("ticks") == 0 and st.get("cum") == {}  # nothing entered the evidence


def test_threshold_no_longer_rates_a_500_percent_error_rate_as_a_pass() -> None:
    g = Gate(name="error-rate", kind="proportion", events="e", total="t", max=0.05)
    settings = Settings(method="threshold", alpha=0.05)
    _, v = evaluate(g, {}, _tick(g, {"events": 250.0, "total": 50.0}), settings)
    assert v.status != "pass"
    assert "250 events for 50 requests" in v.summary


def test_impossible_baseline_readings_are_caught_too() -> None:
    bad = {"events": 2000.0, "total": 950.0}
    _, v = evaluate(
        ERR, {}, _tick(ERR, {"events": 1.0, "total": 50.0}, bad), Settings("sequential", 0.05)
    )
    assert v.status == "inconclusive" and "the baseline query returned 2,000 events" in v.summary
