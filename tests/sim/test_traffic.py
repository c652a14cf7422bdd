from __future__ import annotations

import math

import numpy as np
import pytest

from rollout.errors import NoData, ProviderError
from rollout.sim import traffic
from rollout.sim.traffic import Drift, Incident, Scenario


def test_rates_follow_drift_incident_and_onset() -> None:
    s = Scenario(
        baseline={"error_rate": 0.01},
        candidate={"error_ratio": 2.0, "onset_minute": 10},
        drift=Drift(error_rate_to=0.03, minutes=100),
        incidents=[Incident(start_minute=50, minutes=10, error_factor=5)],
    )
    assert s.rate("baseline", 0) == pytest.approx(0.01)
    assert s.rate("candidate", 5) == pytest.approx(
        0.01 * (1 + 2 * 5 / 100)
    )  # before onset: healthy
    assert s.rate("baseline", 40) == pytest.approx(0.018)
    assert s.rate("candidate", 40) == pytest.approx(0.036)
    assert s.rate("baseline", 55) == pytest.approx(0.021 * 5)
    assert s.factor(55) == pytest.approx(0.021 * 5 / 0.01)
    assert not s.healthy and Scenario().healthy


def test_draw_matches_the_model_on_average() -> None:
    s = Scenario(requests_per_minute=1000, candidate={"latency_factor": 1.25})
    rng = np.random.default_rng(0)
    bs = [traffic.draw(s, "candidate", 0.1, 0, 1, rng, rng) for _ in range(400)]
    assert np.mean([b.n for b in bs]) == pytest.approx(100, rel=0.03)
    assert sum(b.errors for b in bs) / sum(b.n for b in bs) == pytest.approx(0.01, rel=0.15)
    logs = np.concatenate([b.logs() for b in bs])
    assert logs.mean() == pytest.approx(math.log(0.8 * 1.25), abs=0.01)


def test_answer_series() -> None:
    rng = np.random.default_rng(1)
    b = traffic.draw_batch(500, 0.1, 0.0, 0.5, 0.0, 0.0, rng, rng)
    x = b.logs()
    assert traffic.answer("requests", {}, b) == b.n == traffic.answer("latency_count", {}, b)
    assert traffic.answer("errors", {}, b) == b.errors
    assert traffic.answer("latency_log_sum", {}, b) == pytest.approx(x.sum())
    assert traffic.answer("latency_log_sum_squares", {}, b) == pytest.approx((x * x).sum())
    assert traffic.answer("latency_over", {"le": "1.0"}, b) == (x > 0).sum()
    assert traffic.answer("latency_p95", {}, b) == pytest.approx(math.exp(np.quantile(x, 0.95)))
    with pytest.raises(ProviderError, match="le"):
        traffic.answer("latency_over", {}, b)
    with pytest.raises(NoData):
        traffic.answer("latency_p95", {}, traffic.draw_batch(0, 0.1, 0, 1, 0, 0, rng, rng))


def test_tail_regression_moves_the_tail_not_the_median() -> None:
    rng = np.random.default_rng(2)
    b = traffic.draw_batch(20000, 0.0, math.log(0.8), 0.6, 0.03, 3.0, rng, rng)
    lat = np.exp(b.logs())
    assert np.median(lat) == pytest.approx(0.8 * 1.02, rel=0.05)
    assert (lat > 3.0).mean() == pytest.approx(0.03 + 0.014, abs=0.01)


def test_parse() -> None:
    assert traffic.parse('latency_over{variant="candidate", le="2.5"}') == (
        "latency_over",
        {"variant": "candidate", "le": "2.5"},
    )
    assert traffic.parse("requests") == ("requests", {})
    with pytest.raises(ProviderError, match="series"):
        traffic.parse("sum(rate(x[5m]))")
