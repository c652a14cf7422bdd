"""Metrics source `simulated`: seeded synthetic LLM traffic that follows the router's weights.

Queries look like Prometheus selectors, so plans read the same on both:
`requests{variant="candidate"}`, `errors{...}`, `latency_count{...}`, `latency_log_sum{...}`,
`latency_log_sum_squares{...}`, `latency_over{variant="candidate",le="2.5"}`, `latency_p95{...}`,
and LLM series: `throttled`, `content_filtered`, `ttft_count|log_sum|log_sum_squares`,
`ttft_over{le=...}`, `input_tokens_*` / `output_tokens_*` / `cost_*` / `quality_*` (`_count`,
`_sum`, `_sum_squares`), `feedback`, `thumbs_down` (rollout.sim.traffic.SERIES). Gates that name a
built-in signal (`signal: ttft`) get these queries written for them (rollout.llm.catalog).
Each answer is a deterministic function of (seed, variant, window), so asking twice agrees.

The traffic model is rollout.sim.traffic, the one `rollout simulate` uses: optional `drift`
(the base error rate moves linearly) and `incidents` (both variants' errors multiplied for a
while), in minutes from `start` (default: the start of the first window asked about).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import ProviderError
from rollout.metrics import Window
from rollout.registry import BuildContext
from rollout.sim import traffic
from rollout.sim.traffic import SERIES, Drift, Incident

__all__ = ["SERIES", "Config", "Profile", "SimulatedSource", "build"]


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_rate: float = Field(default=0.01, ge=0, le=1)
    latency_median: float = Field(default=0.8, gt=0)  # seconds
    latency_sigma: float = Field(default=0.6, gt=0)  # log-sd of a lognormal
    tail_fraction: float = Field(default=0.0, ge=0, le=1)  # share of requests made slower ...
    tail_seconds: float = Field(default=0.0, ge=0)  # ... by this much
    # LLM traffic (rollout.sim.traffic.LLM)
    input_tokens: float = Field(default=800.0, gt=0)  # mean per answered request
    output_tokens: float = Field(default=300.0, gt=0)
    tokens_sigma: float = Field(default=0.4, gt=0)
    ttft_median: float = Field(default=0.35, gt=0)  # seconds
    ttft_sigma: float = Field(default=0.5, gt=0)
    content_filter_rate: float = Field(default=0.002, ge=0, le=1)
    capacity_tpm: float | None = Field(default=None, gt=0)  # tokens per minute; None: no limit
    input_per_1k: float = Field(default=0.0025, ge=0)  # USD, unless the query names prices
    output_per_1k: float = Field(default=0.01, ge=0)
    quality_mean: float = Field(default=0.8, ge=0, le=1)
    quality_sd: float = Field(default=0.15, ge=0)
    judge_rate: float = Field(default=0.1, ge=0, le=1)
    feedback_rate: float = Field(default=0.05, ge=0, le=1)
    thumbs_down_rate: float = Field(default=0.1, ge=0, le=1)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 1
    requests_per_second: float = Field(default=20.0, gt=0)
    baseline: Profile = Field(default_factory=Profile)
    candidate: Profile = Field(default_factory=Profile)
    drift: Drift | None = None
    incidents: list[Incident] = Field(default_factory=list)
    start: datetime | None = None  # minute 0 of drift and incidents


class SimulatedSource:
    def __init__(self, config: Config, router: Any) -> None:
        self.config = config
        self.router = router
        self._start = config.start
        # The environment (drift, incidents) as a scenario; the variants' own rates are ours.
        self._env = traffic.Scenario(
            baseline=traffic.Baseline(error_rate=config.baseline.error_rate),
            drift=config.drift,
            incidents=config.incidents,
        )

    def check(self) -> None:
        return None

    def _weight(self, variant: str) -> float:
        if self.router is None:
            return 50.0
        w = self.router.get_weights()
        return float(getattr(w, variant))

    def _minute(self, at: datetime) -> float:
        if self._start is None:
            self._start = at
        return (at - self._start).total_seconds() / 60.0

    def _draw(self, variant: str, window: Window) -> traffic.Batch:
        import numpy as np

        start, end = window.start.timestamp(), window.end.timestamp()
        key = f"{self.config.seed}|{variant}|{start:.3f}|{end:.3f}"
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        prof: Profile = getattr(self.config, variant)
        secs = (window.end - window.start).total_seconds()
        lam = self.config.requests_per_second * secs * self._weight(variant) / 100.0
        mid = 0.5 * (self._minute(window.start) + self._minute(window.end))
        p = prof.error_rate * self._env.factor(mid)
        rpm = self.config.requests_per_second * 60.0 * self._weight(variant) / 100.0
        batch = traffic.draw_batch(
            lam,
            p,
            math.log(prof.latency_median),
            prof.latency_sigma,
            prof.tail_fraction,
            prof.tail_seconds,
            rng,
            rng,
        )
        batch.variant = variant
        batch.llm = traffic.LLM(
            input_tokens=prof.input_tokens,
            output_tokens=prof.output_tokens,
            tokens_sigma=prof.tokens_sigma,
            ttft_mu=math.log(prof.ttft_median),
            ttft_sigma=prof.ttft_sigma,
            content_filter_rate=prof.content_filter_rate,
            throttle_rate=traffic.throttle_share(
                prof.capacity_tpm, rpm, prof.input_tokens + prof.output_tokens
            ),
            input_per_1k=prof.input_per_1k,
            output_per_1k=prof.output_per_1k,
            quality_mean=prof.quality_mean,
            quality_sd=prof.quality_sd,
            judge_rate=prof.judge_rate,
            feedback_rate=prof.feedback_rate,
            thumbs_down_rate=prof.thumbs_down_rate,
        )
        return batch

    def query(self, query: str, window: Window) -> float:
        name, labels = traffic.parse(query)
        variant = labels.get("variant")
        if variant not in ("baseline", "candidate"):
            raise ProviderError(
                f'simulated query {query!r} needs variant="baseline" or variant="candidate"'
            )
        return traffic.answer(name, labels, self._draw(variant, window))


def build(config: Config, ctx: BuildContext) -> SimulatedSource:
    return SimulatedSource(config, ctx.router)
