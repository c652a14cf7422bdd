"""Metrics source `simulated`: seeded synthetic LLM traffic that follows the router's weights.

Queries look like Prometheus selectors, so plans read the same on both:
`requests{variant="candidate"}`, `errors{...}`, `latency_count{...}`, `latency_log_sum{...}`,
`latency_log_sum_squares{...}`, `latency_over{variant="candidate",le="2.5"}`, `latency_p95{...}`.
Each answer is a deterministic function of (seed, variant, window), so asking twice agrees.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.registry import BuildContext


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_rate: float = Field(default=0.01, ge=0, le=1)
    latency_median: float = Field(default=0.8, gt=0)  # seconds
    latency_sigma: float = Field(default=0.6, gt=0)  # log-sd of a lognormal


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 1
    requests_per_second: float = Field(default=20.0, gt=0)
    baseline: Profile = Field(default_factory=Profile)
    candidate: Profile = Field(default_factory=Profile)


_Q = re.compile(r'^\s*(\w+)\s*\{([^}]*)\}\s*$')
_LABEL = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
SERIES = ("requests", "errors", "latency_count", "latency_log_sum", "latency_log_sum_squares", "latency_over", "latency_p95")


class SimulatedSource:
    def __init__(self, config: Config, router: Any) -> None:
        self.config = config
        self.router = router

    def check(self) -> None:
        return None

    def _weight(self, variant: str) -> float:
        if self.router is None:
            return 50.0
        w = self.router.get_weights()
        return float(getattr(w, variant))

    def _draw(self, variant: str, window: Window) -> tuple[int, int, Any]:
        import numpy as np

        key = f"{self.config.seed}|{variant}|{window.start.timestamp():.3f}|{window.end.timestamp():.3f}"
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        prof: Profile = getattr(self.config, variant)
        secs = (window.end - window.start).total_seconds()
        lam = self.config.requests_per_second * secs * self._weight(variant) / 100.0
        n = int(rng.poisson(lam)) if lam > 0 else 0
        errors = int(rng.binomial(n, prof.error_rate)) if n else 0
        logs = rng.normal(math.log(prof.latency_median), prof.latency_sigma, size=n)
        return n, errors, logs

    def query(self, query: str, window: Window) -> float:
        m = _Q.match(query)
        if not m or m.group(1) not in SERIES:
            raise ProviderError(f"simulated source does not know {query!r}; series: {', '.join(SERIES)}")
        labels = dict(_LABEL.findall(m.group(2)))
        variant = labels.get("variant")
        if variant not in ("baseline", "candidate"):
            raise ProviderError(f'simulated query {query!r} needs variant="baseline" or variant="candidate"')
        n, errors, logs = self._draw(variant, window)
        name = m.group(1)
        if name == "requests" or name == "latency_count":
            return float(n)
        if name == "errors":
            return float(errors)
        if name == "latency_log_sum":
            return float(logs.sum())
        if name == "latency_log_sum_squares":
            return float((logs**2).sum())
        if name == "latency_over":
            le = float(labels.get("le", "nan"))
            return float((logs > math.log(le)).sum())
        if n == 0:
            raise NoData(f"no {variant} requests in the window")
        import numpy as np

        return float(np.exp(np.quantile(logs, 0.95)))


def build(config: Config, ctx: BuildContext) -> SimulatedSource:
    return SimulatedSource(config, ctx.router)
