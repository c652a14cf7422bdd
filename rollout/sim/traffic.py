"""The traffic model shared by `rollout simulate`, the benchmarks and the `simulated` metrics source.

A scenario says what the world does (requests per minute, the baseline's error rate and
latency, drift, incidents) and how the candidate differs. For one window and one variant we
draw requests ~ Poisson(rpm x minutes x share), errors ~ Binomial, and log-latencies ~ Normal
(plus an optional slow tail), then answer Prometheus-like series from those draws.
numpy is imported inside functions only (the CLI must start without it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import NoData, ProviderError

SERIES = (
    "requests",
    "errors",
    "latency_count",
    "latency_log_sum",
    "latency_log_sum_squares",
    "latency_over",
    "latency_p95",
)
_Q = re.compile(r"^\s*(\w+)\s*(?:\{([^}]*)\})?\s*$")
_LABEL = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Baseline(_M):
    error_rate: float = Field(default=0.01, ge=0, le=1)
    latency_median: float = Field(default=0.8, gt=0)  # seconds
    latency_sigma: float = Field(default=0.6, gt=0)  # log-sd of a lognormal


class Candidate(_M):
    error_ratio: float = Field(default=1.0, ge=0)  # candidate error rate / baseline error rate
    latency_factor: float = Field(default=1.0, gt=0)  # multiplies every latency (median shift)
    tail_fraction: float = Field(default=0.0, ge=0, le=1)  # share of requests made slower ...
    tail_seconds: float = Field(default=0.0, ge=0)  # ... by this much (a tail-only regression)
    onset_minute: float = Field(default=0.0, ge=0)  # the regression starts this late


class Drift(_M):
    """The base error rate moves linearly to `error_rate_to` over `minutes` (both variants)."""

    error_rate_to: float = Field(ge=0, le=1)
    minutes: float = Field(default=90.0, gt=0)


class Incident(_M):
    """Both variants' error rate is multiplied by `error_factor` in [start_minute, +minutes)."""

    start_minute: float = Field(default=20.0, ge=0)
    minutes: float = Field(default=10.0, gt=0)
    error_factor: float = Field(default=5.0, ge=0)


class Scenario(_M):
    name: str = "custom"
    description: str = ""
    requests_per_minute: float = Field(default=1000.0, gt=0)
    baseline: Baseline = Field(default_factory=Baseline)
    candidate: Candidate = Field(default_factory=Candidate)
    drift: Drift | None = None
    incidents: list[Incident] = Field(default_factory=list)
    router_share_factor: float = Field(default=1.0, gt=0)  # != 1: a broken router (SRM)
    series: dict[str, dict[str, str]] = Field(default_factory=dict)  # gate -> role -> series query
    max_minutes: float = Field(default=24 * 60.0, gt=0)  # stop a virtual rollout after this

    @property
    def healthy(self) -> bool:
        c = self.candidate
        return (
            c.error_ratio == 1.0
            and c.latency_factor == 1.0
            and (c.tail_fraction == 0 or c.tail_seconds == 0)
        )

    def base_rate(self, minute: float) -> float:
        p = self.baseline.error_rate
        if self.drift is not None:
            p += (self.drift.error_rate_to - p) * min(1.0, minute / self.drift.minutes)
        for inc in self.incidents:
            if inc.start_minute <= minute < inc.start_minute + inc.minutes:
                p *= inc.error_factor
        return min(1.0, p)

    def factor(self, minute: float) -> float:
        """How much drift and incidents scale the baseline's error rate at this minute."""
        p0 = self.baseline.error_rate
        return self.base_rate(minute) / p0 if p0 > 0 else 1.0

    def rate(self, variant: str, minute: float) -> float:
        p = self.base_rate(minute)
        if variant == "candidate" and minute >= self.candidate.onset_minute:
            p = min(1.0, p * self.candidate.error_ratio)
        return p


@dataclass
class Batch:
    """One variant's requests in one window; latencies are drawn only when a query needs them."""

    n: int
    errors: int
    mu: float
    sigma: float
    tail_fraction: float
    tail_seconds: float
    rng: Any
    _logs: Any = field(default=None, repr=False)

    def logs(self) -> Any:
        if self._logs is None:
            import numpy as np

            x = self.rng.normal(self.mu, self.sigma, size=self.n)
            if self.tail_fraction > 0 and self.tail_seconds > 0 and self.n:
                slow = self.rng.random(self.n) < self.tail_fraction
                x = np.where(slow, np.log(np.exp(x) + self.tail_seconds), x)
            self._logs = x
        return self._logs


def draw(
    scn: Scenario,
    variant: str,
    share: float,
    start_min: float,
    end_min: float,
    counts: Any,
    lat: Any,
) -> Batch:
    """Requests of `variant` (share in 0..1 of traffic) over [start_min, end_min) of the rollout."""
    mid = 0.5 * (start_min + end_min)
    if variant == "candidate":
        share = min(1.0, share * scn.router_share_factor)
    mu = math.log(scn.baseline.latency_median)
    tf, ts = 0.0, 0.0
    if variant == "candidate" and mid >= scn.candidate.onset_minute:
        mu += math.log(scn.candidate.latency_factor)
        tf, ts = scn.candidate.tail_fraction, scn.candidate.tail_seconds
    lam = scn.requests_per_minute * max(0.0, end_min - start_min) * share
    return draw_batch(
        lam, scn.rate(variant, mid), mu, scn.baseline.latency_sigma, tf, ts, counts, lat
    )


def draw_batch(
    lam: float,
    p: float,
    mu: float,
    sigma: float,
    tail_fraction: float,
    tail_seconds: float,
    counts: Any,
    lat: Any,
) -> Batch:
    """n ~ Poisson(lam), errors ~ Binomial(n, p); latencies lognormal(mu, sigma) plus a slow tail."""
    n = int(counts.poisson(lam)) if lam > 0 else 0
    e = int(counts.binomial(n, min(1.0, max(0.0, p)))) if n else 0
    return Batch(n, e, mu, sigma, tail_fraction, tail_seconds, lat)


def parse(query: str) -> tuple[str, dict[str, str]]:
    m = _Q.match(query)
    if not m or m.group(1) not in SERIES:
        raise ProviderError(f"the simulator does not know {query!r}; series: {', '.join(SERIES)}")
    return m.group(1), dict(_LABEL.findall(m.group(2) or ""))


def answer(name: str, labels: dict[str, str], b: Batch) -> float:
    """One series' value for one batch (see SERIES)."""
    if name in ("requests", "latency_count"):
        return float(b.n)
    if name == "errors":
        return float(b.errors)
    if name == "latency_log_sum":
        return float(b.logs().sum())
    if name == "latency_log_sum_squares":
        x = b.logs()
        return float((x * x).sum())
    if name == "latency_over":
        try:
            le = float(labels["le"])
        except (KeyError, ValueError):
            raise ProviderError(
                'latency_over needs a numeric le label, e.g. latency_over{le="2.1"}'
            ) from None
        return float((b.logs() > math.log(le)).sum())
    if b.n == 0:
        raise NoData("no requests in the window")
    import numpy as np

    return float(np.exp(np.quantile(b.logs(), 0.95)))
