"""The traffic model shared by `rollout simulate`, the benchmarks and the `simulated` source.

A scenario says what the world does (requests per minute, the baseline's error rate and
latency, drift, incidents) and how the candidate differs. For one window and one variant we
draw requests ~ Poisson(rpm x minutes x share), errors ~ Binomial, and log-latencies ~ Normal
(plus an optional slow tail), then answer Prometheus-like series from those draws.

LLM traffic (`LLM`, drawn only when an LLM series is asked for, from the latency stream, so plans
without LLM gates see the very same draws as before): of the requests that did not fail, some
are throttled (429: the variant's token demand at its share above its `capacity_tpm`), some
blocked by the content filter, and the rest answered, with lognormal input / output tokens,
their cost, a lognormal time to first token, judge scores on a sample (0-1) and thumbs up/down
on another.
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
    "throttled",
    "content_filtered",
    "ttft_count",
    "ttft_log_sum",
    "ttft_log_sum_squares",
    "ttft_over",
    "input_tokens_count",
    "input_tokens_sum",
    "input_tokens_sum_squares",
    "input_tokens_log_sum",
    "input_tokens_log_sum_squares",
    "output_tokens_count",
    "output_tokens_sum",
    "output_tokens_sum_squares",
    "output_tokens_log_sum",
    "output_tokens_log_sum_squares",
    "cost_count",
    "cost_sum",
    "cost_sum_squares",
    "quality_count",
    "quality_sum",
    "quality_sum_squares",
    "feedback",
    "thumbs_down",
)
LLM_SERIES = SERIES[7:]
_Q = re.compile(r"^\s*(\w+)\s*(?:\{([^}]*)\})?\s*$")
_LABEL = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Baseline(_M):
    error_rate: float = Field(default=0.01, ge=0, le=1)
    latency_median: float = Field(default=0.8, gt=0)  # seconds
    latency_sigma: float = Field(default=0.6, gt=0)  # log-sd of a lognormal
    # LLM traffic (both variants, unless the candidate changes it)
    input_tokens: float = Field(default=800.0, gt=0)  # mean per answered request
    output_tokens: float = Field(default=300.0, gt=0)
    tokens_sigma: float = Field(default=0.4, gt=0)  # log-sd of both token counts
    ttft_median: float = Field(default=0.35, gt=0)  # seconds
    ttft_sigma: float = Field(default=0.5, gt=0)
    content_filter_rate: float = Field(default=0.002, ge=0, le=1)
    capacity_tpm: float | None = Field(default=None, gt=0)  # baseline deployment; None: no limit
    input_per_1k: float = Field(default=0.0025, ge=0)  # USD (what cost series use by default)
    output_per_1k: float = Field(default=0.01, ge=0)
    quality_mean: float = Field(default=0.8, ge=0, le=1)  # judge score, clipped to 0..1
    quality_sd: float = Field(default=0.15, ge=0)
    judge_rate: float = Field(default=0.1, ge=0, le=1)  # share of answers judged
    feedback_rate: float = Field(default=0.05, ge=0, le=1)  # share of answers rated by users
    thumbs_down_rate: float = Field(default=0.1, ge=0, le=1)  # share of ratings that are down


class Candidate(_M):
    error_ratio: float = Field(default=1.0, ge=0)  # candidate error rate / baseline error rate
    latency_factor: float = Field(default=1.0, gt=0)  # multiplies every latency (median shift)
    tail_fraction: float = Field(default=0.0, ge=0, le=1)  # share of requests made slower ...
    tail_seconds: float = Field(default=0.0, ge=0)  # ... by this much (a tail-only regression)
    onset_minute: float = Field(default=0.0, ge=0)  # the regression starts this late
    input_tokens_factor: float = Field(default=1.0, gt=0)
    output_tokens_factor: float = Field(default=1.0, gt=0)  # 1.3: a verbose candidate
    cost_factor: float = Field(default=1.0, gt=0)  # multiplies its price per token
    ttft_factor: float = Field(default=1.0, gt=0)
    content_filter_ratio: float = Field(default=1.0, ge=0)
    capacity_tpm: float | None = Field(default=None, gt=0)  # its deployment's tokens per minute
    quality_delta: float = Field(default=0.0, ge=-1, le=1)  # added to the judge score
    # quality_delta only for requests served while the candidate takes >= this weight (%): a
    # candidate that degrades under load (e.g. falls back to a smaller model); 0: at any weight
    quality_from_weight: float = Field(default=0.0, ge=0, le=100)
    thumbs_down_ratio: float = Field(default=1.0, ge=0)


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
    # judge scores and thumbs arrive this long after their request (rollout.sim.late)
    outcome_delay_minutes: float = Field(default=0.0, ge=0, le=7 * 24 * 60.0)

    @property
    def healthy(self) -> bool:
        """No change for the worse (a cheaper or terser candidate is healthy)."""
        c = self.candidate
        return (
            c.error_ratio == 1.0
            and c.latency_factor == 1.0
            and (c.tail_fraction == 0 or c.tail_seconds == 0)
            and c.ttft_factor <= 1.0
            and c.output_tokens_factor <= 1.0
            and c.input_tokens_factor <= 1.0
            and c.cost_factor <= 1.0
            and c.content_filter_ratio <= 1.0
            and c.quality_delta >= 0.0
            and c.thumbs_down_ratio <= 1.0
            and throttle_share(c.capacity_tpm, self.requests_per_minute, self.tokens(True)) == 0
        )

    def tokens(self, candidate: bool) -> float:
        b, c = self.baseline, self.candidate
        if not candidate:
            return b.input_tokens + b.output_tokens
        return b.input_tokens * c.input_tokens_factor + b.output_tokens * c.output_tokens_factor

    def llm(self, variant: str, share: float, minute: float) -> LLM:
        """The LLM side of `variant`'s traffic at `share` (0..1) of requests per minute."""
        b, c = self.baseline, self.candidate
        cand = variant == "candidate" and minute >= c.onset_minute
        rpm = self.requests_per_minute * share
        cap = c.capacity_tpm if variant == "candidate" else b.capacity_tpm
        worse = cand and share * 100.0 >= c.quality_from_weight - 1e-9
        return LLM(
            input_tokens=b.input_tokens * (c.input_tokens_factor if cand else 1.0),
            output_tokens=b.output_tokens * (c.output_tokens_factor if cand else 1.0),
            tokens_sigma=b.tokens_sigma,
            ttft_mu=math.log(b.ttft_median * (c.ttft_factor if cand else 1.0)),
            ttft_sigma=b.ttft_sigma,
            content_filter_rate=min(
                1.0, b.content_filter_rate * (c.content_filter_ratio if cand else 1.0)
            ),
            throttle_rate=throttle_share(cap, rpm, self.tokens(variant == "candidate")),
            input_per_1k=b.input_per_1k * (c.cost_factor if cand else 1.0),
            output_per_1k=b.output_per_1k * (c.cost_factor if cand else 1.0),
            cost_factor=c.cost_factor if cand else 1.0,
            quality_mean=min(1.0, max(0.0, b.quality_mean + (c.quality_delta if worse else 0.0))),
            quality_sd=b.quality_sd,
            judge_rate=b.judge_rate,
            feedback_rate=b.feedback_rate,
            thumbs_down_rate=min(1.0, b.thumbs_down_rate * (c.thumbs_down_ratio if cand else 1.0)),
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


def throttle_share(capacity_tpm: float | None, rpm: float, tokens_per_request: float) -> float:
    """Share of requests refused with 429 when demand (tokens per minute) exceeds capacity."""
    if capacity_tpm is None or rpm <= 0:
        return 0.0
    demand = rpm * tokens_per_request
    return max(0.0, 1.0 - capacity_tpm / demand) if demand > capacity_tpm else 0.0


@dataclass(frozen=True)
class LLM:
    """One variant's LLM traffic parameters for one window."""

    input_tokens: float = 800.0
    output_tokens: float = 300.0
    tokens_sigma: float = 0.4
    ttft_mu: float = math.log(0.35)
    ttft_sigma: float = 0.5
    content_filter_rate: float = 0.002
    throttle_rate: float = 0.0
    input_per_1k: float = 0.0025
    output_per_1k: float = 0.01
    cost_factor: float = 1.0  # applied on top of prices given in a query's `price` label
    quality_mean: float = 0.8
    quality_sd: float = 0.15
    judge_rate: float = 0.1
    feedback_rate: float = 0.05
    thumbs_down_rate: float = 0.1


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
    llm: LLM | None = None
    variant: str | None = None  # whose prices a cost query's `price` label gives
    _llm: dict[str, Any] | None = field(default=None, repr=False)

    def logs(self) -> Any:
        if self._logs is None:
            import numpy as np

            x = self.rng.normal(self.mu, self.sigma, size=self.n)
            if self.tail_fraction > 0 and self.tail_seconds > 0 and self.n:
                slow = self.rng.random(self.n) < self.tail_fraction
                x = np.where(slow, np.log(np.exp(x) + self.tail_seconds), x)
            self._logs = x
        return self._logs

    def draws(self) -> dict[str, Any]:
        """The LLM side of the batch, drawn once (see the module docstring)."""
        if self._llm is None:
            import numpy as np

            p = self.llm or LLM()
            r = self.rng
            rest = self.n - self.errors
            thr = int(r.binomial(rest, min(1.0, p.throttle_rate))) if rest else 0
            cf = int(r.binomial(rest - thr, p.content_filter_rate)) if rest - thr else 0
            ok = rest - thr - cf
            s = p.tokens_sigma

            def tokens(mean: float) -> Any:
                x = r.lognormal(math.log(mean) - s * s / 2.0, s, size=ok)
                return np.maximum(1.0, np.round(x))

            inp, out = tokens(p.input_tokens), tokens(p.output_tokens)
            judged = int(r.binomial(ok, p.judge_rate)) if ok else 0
            rated = int(r.binomial(ok, p.feedback_rate)) if ok else 0
            self._llm = {
                "throttled": thr,
                "content_filtered": cf,
                "ok": ok,
                "input": inp,
                "output": out,
                "ttft": r.normal(p.ttft_mu, p.ttft_sigma, size=ok),
                "quality": np.clip(r.normal(p.quality_mean, p.quality_sd, size=judged), 0, 1),
                "feedback": rated,
                "down": int(r.binomial(rated, p.thumbs_down_rate)) if rated else 0,
            }
        return self._llm

    def cost(self, price: str | None) -> Any:
        """USD per answered request; `price` is a cost query's label (rollout.llm.catalog)."""
        d, p = self.draws(), self.llm or LLM()
        pi, po = p.input_per_1k / 1000.0, p.output_per_1k / 1000.0
        if price:
            from rollout.llm.catalog import parse_price_label

            got = parse_price_label(price).get(self.variant or "")
            if got is not None:
                pi, po = got[0] * p.cost_factor, got[2] * p.cost_factor
        return d["input"] * pi + d["output"] * po


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
    b = draw_batch(lam, scn.rate(variant, mid), mu, scn.baseline.latency_sigma, tf, ts, counts, lat)
    b.llm, b.variant = scn.llm(variant, share, mid), variant
    return b


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
    """n ~ Poisson(lam), errors ~ Binomial(n, p); latencies lognormal(mu, sigma), a slow tail."""
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
    if name in ("latency_over", "ttft_over"):
        try:
            le = float(labels["le"])
        except (KeyError, ValueError):
            raise ProviderError(
                f'{name} needs a numeric le label (seconds), e.g. {name}{{le="2.1"}}'
            ) from None
        x = b.logs() if name == "latency_over" else b.draws()["ttft"]
        return float((x > math.log(le)).sum())
    if name in LLM_SERIES:
        return _llm_answer(name, labels, b)
    if b.n == 0:
        raise NoData("no requests in the window")
    import numpy as np

    return float(np.exp(np.quantile(b.logs(), 0.95)))


def _llm_answer(name: str, labels: dict[str, str], b: Batch) -> float:
    d = b.draws()
    if name in ("throttled", "content_filtered", "feedback"):
        return float(d[name])
    if name == "thumbs_down":
        return float(d["down"])
    # <stem>_count | _sum | _sum_squares, and _log_sum | _log_sum_squares of token counts
    stem, _, stat = name.removeprefix("input_tokens").removeprefix("output_tokens").partition("_")
    stem = name[: len(name) - len(stat) - 1] if stem == "" else stem
    if stem in ("input_tokens", "output_tokens"):
        x = d[stem.removesuffix("_tokens")]
        if stat.startswith("log_"):
            import numpy as np

            x, stat = np.log(x), stat.removeprefix("log_")
    elif stem == "cost":
        x = b.cost(labels.get("price"))
    else:  # ttft (already log-seconds), quality
        x = d[stem]
        stat = stat.removeprefix("log_")
    if stat == "count":
        return float(len(x))
    if stat == "sum":
        return float(x.sum())
    return float((x * x).sum())  # sum_squares
