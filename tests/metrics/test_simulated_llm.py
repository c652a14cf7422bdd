"""The simulated source's LLM series: throttling at capacity, content filter, tokens, cost from
the query's prices, TTFT, judge scores and feedback, each following its profile."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from rollout.metrics import Window
from rollout.metrics.simulated import Config, Profile, SimulatedSource
from rollout.records import Weights
from rollout.sim.traffic import LLM_SERIES, throttle_share

T = datetime(2026, 1, 1, tzinfo=UTC)
W = Window(T, T + timedelta(minutes=10))


class Router:
    def __init__(self, candidate: int) -> None:
        self.w = Weights.of(candidate)

    def get_weights(self) -> Weights:
        return self.w


def q(src: SimulatedSource, series: str, variant: str = "candidate", extra: str = "") -> float:
    return src.query(f'{series}{{variant="{variant}"{extra}}}', W)


def test_every_llm_series_answers_and_asking_twice_agrees() -> None:
    src = SimulatedSource(Config(requests_per_second=50), Router(50))
    for name in LLM_SERIES:
        extra = ',le="0.5"' if name.endswith("_over") else ""
        a = q(src, name, extra=extra)
        assert a == q(src, name, extra=extra) and math.isfinite(a), name
        assert a >= 0 or "_log_" in name, name


def test_candidate_is_throttled_only_once_its_share_needs_more_than_its_capacity() -> None:
    # 100 rps x 60 = 6,000 rpm x 1,100 tokens = 6.6M TPM at 100 %; capacity 660k: 10 % fits.
    cfg = Config(requests_per_second=100, candidate=Profile(capacity_tpm=660_000))
    small = SimulatedSource(cfg, Router(5))
    assert q(small, "throttled") == 0
    big = SimulatedSource(cfg, Router(50))
    share = q(big, "throttled") / q(big, "requests")
    assert abs(share - throttle_share(660_000, 3000, 1100)) < 0.03  # 1 - 660k / 3.3M = 0.8
    assert q(big, "throttled", "baseline") == 0  # the baseline has no limit
    assert q(big, "errors") / q(big, "requests") < 0.02  # 429s are not errors


def test_tokens_cost_ttft_and_quality_follow_the_profiles() -> None:
    cfg = Config(
        requests_per_second=50,
        baseline=Profile(output_tokens=300, ttft_median=0.3, quality_mean=0.8),
        candidate=Profile(output_tokens=390, ttft_median=0.45, quality_mean=0.75),
    )
    src = SimulatedSource(cfg, Router(50))

    def mean(series: str, v: str, extra: str = "") -> float:
        return q(src, f"{series}_sum", v, extra) / q(src, f"{series}_count", v, extra)

    assert abs(mean("output_tokens", "candidate") / mean("output_tokens", "baseline") - 1.3) < 0.05
    t_c = q(src, "ttft_log_sum") / q(src, "ttft_count")
    t_b = q(src, "ttft_log_sum", "baseline") / q(src, "ttft_count", "baseline")
    assert abs(math.exp(t_c - t_b) - 1.5) < 0.05
    assert abs(mean("quality", "candidate") - mean("quality", "baseline") + 0.05) < 0.02
    # Cost from the query's prices (USD per 1k: input/cached/output) for each variant.
    price = ',price="baseline:0.0025/0.00125/0.01;candidate:0.005/0.0025/0.02"'
    ratio = mean("cost", "candidate", price) / mean("cost", "baseline", price)
    tokens = (800 * 0.005 + 390 * 0.02) / (800 * 0.0025 + 300 * 0.01)
    assert abs(ratio / tokens - 1) < 0.05


def test_llm_series_never_change_request_and_error_counts() -> None:
    """LLM draws come from the latency stream and only when asked for: the counts that error
    gates read are the same whether or not a plan also asks for LLM series."""
    a = SimulatedSource(Config(requests_per_second=50), Router(50))
    b = SimulatedSource(Config(requests_per_second=50), Router(50))
    assert q(b, "output_tokens_sum") > 0
    assert q(a, "requests") == q(b, "requests") and q(a, "errors") == q(b, "errors")
    assert q(a, "errors") > 0
