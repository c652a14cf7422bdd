from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.simulated import SERIES, Config, SimulatedSource, build
from rollout.records import Weights
from rollout.registry import BuildContext

T = datetime(2026, 1, 1, tzinfo=UTC)


class Router:
    def __init__(self, candidate: int) -> None:
        self.w = Weights.of(candidate)

    def get_weights(self) -> Weights:
        return self.w


def win(minute: float, length: float = 1.0) -> Window:
    return Window(T + timedelta(minutes=minute), T + timedelta(minutes=minute + length))


def test_query_names_and_determinism() -> None:
    src = SimulatedSource(Config(requests_per_second=50), Router(50))
    for name in SERIES:
        q = f'{name}{{variant="candidate",le="2"}}'
        assert src.query(q, win(1)) == src.query(q, win(1))  # asking twice agrees
    n = src.query('requests{variant="candidate"}', win(1))
    assert 1300 < n < 1700  # 50 rps x 60 s x 50 %
    assert src.query('latency_count{variant="candidate"}', win(1)) == n


def test_weights_follow_the_router() -> None:
    src = SimulatedSource(Config(requests_per_second=100), Router(5))
    c = src.query('requests{variant="candidate"}', win(0, 10))
    b = src.query('requests{variant="baseline"}', win(0, 10))
    assert c / (b + c) == pytest.approx(0.05, abs=0.01)


def test_incident_and_drift_windows_shift_error_rates() -> None:
    cfg = Config(
        requests_per_second=200,
        incidents=[{"start_minute": 10, "minutes": 10, "error_factor": 5}],
        drift={"error_rate_to": 0.03, "minutes": 60},
        start=T,
    )
    src = SimulatedSource(cfg, Router(50))

    def rate(variant: str, minute: float) -> float:
        e = src.query(f'errors{{variant="{variant}"}}', win(minute, 5))
        return e / src.query(f'requests{{variant="{variant}"}}', win(minute, 5))

    assert rate("baseline", 0) == pytest.approx(0.0108, abs=0.004)
    assert rate("baseline", 12) == pytest.approx(5 * 0.0146, abs=0.012)  # incident: x5 on both
    assert rate("candidate", 12) == pytest.approx(5 * 0.0146, abs=0.012)
    assert rate("candidate", 70) == pytest.approx(0.03, abs=0.006)  # drifted


def test_errors_a_user_can_act_on() -> None:
    src = SimulatedSource(Config(), Router(50))
    with pytest.raises(ProviderError, match="series"):
        src.query("up", win(0))
    with pytest.raises(ProviderError, match="variant"):
        src.query('requests{variant="other"}', win(0))
    empty = SimulatedSource(Config(requests_per_second=0.001), Router(1))
    with pytest.raises(NoData):
        empty.query('latency_p95{variant="candidate"}', win(0, 0.01))


def test_build_from_context() -> None:
    ctx = BuildContext(plan_dir=Path("."), variants={}, plan_name="x", router=Router(10))
    src = build(
        Config.model_validate(
            {"seed": 3, "candidate": {"error_rate": 0.05, "tail_fraction": 0.1, "tail_seconds": 2}}
        ),
        ctx,
    )
    assert src.query('requests{variant="candidate"}', win(0)) > 0
    src.check()
