"""The built-in LLM signals and how each metrics source answers them.

A gate may name a signal instead of writing queries:

    gates:
      - {name: errors,    signal: error-rate,     max_ratio: 1.2}
      - {name: throttled, signal: throttled-rate, max_ratio: 1.5}
      - {name: ttft,      signal: ttft,           max_ratio: 1.2}     # geometric mean, x1.2
      - {name: slow,      signal: latency-p95-exceedance, threshold: 2560, max_ratio: 1.3}
      - {name: tokens,    signal: output-tokens-per-request, max_ratio: 1.15}
      - {name: cost,      signal: cost-per-request, max_ratio: 1.1}
      - {name: quality,   signal: quality-score,  max_decrease: 0.02}

While the plan is validated (`expand_signals`, called by rollout.spec) each such gate gets the
`kind` and the queries of its metrics source's type (the gate's `source`, else `metrics`), so it
is an ordinary gate from then on; the variant is selected the way written queries do it
(`{{ variant }}` or `{{ target }}`). Times are given in milliseconds (`max: 2000`,
`threshold: 2560`); time signals are tested on the mean of log-seconds, so `max_ratio: 1.2` on
`ttft` bounds the geometric mean and is turned into `max_increase: ln 1.2`. Throttling (429) is
its own signal and never counts as an error, nor does a content-filter block.

An unknown signal, or one that the source cannot answer (LiteLLM and Azure Monitor export no
per-request token spread, so no token means there), is a plan error at `gates[i].signal`.
A gate that gives its own `kind` and queries keeps them: the signal then only names its unit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]
Queries = dict[str, str]

RATE, TIME, TOKENS, USD, SCORE = "rate", "ms", "tokens", "usd", "score"


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str  # proportion | mean: what most sources answer (a source may answer `value`)
    unit: str  # RATE, TIME (log-seconds underneath), TOKENS (log-tokens underneath), USD, SCORE
    doc: str
    threshold: bool = False  # exceedance: needs `threshold` (ms)


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("error-rate", "proportion", RATE, "failed calls (5xx, timeouts); not 429s"),
        Signal("throttled-rate", "proportion", RATE, "calls refused with 429 (quota, capacity)"),
        Signal("content-filtered-rate", "proportion", RATE, "calls blocked by a content filter"),
        Signal("ttft", "mean", TIME, "time to first token (geometric mean)"),
        Signal("latency", "mean", TIME, "total call latency (geometric mean)"),
        Signal(
            "latency-p95-exceedance",
            "proportion",
            RATE,
            "share of calls slower than `threshold` ms (set it near the baseline's p95)",
            threshold=True,
        ),
        Signal(
            "ttft-exceedance",
            "proportion",
            RATE,
            "share of calls whose first token came after `threshold` ms",
            threshold=True,
        ),
        Signal("input-tokens-per-request", "mean", TOKENS, "prompt tokens per call"),
        Signal("output-tokens-per-request", "mean", TOKENS, "completion tokens per call"),
        Signal("cost-per-request", "mean", USD, "USD per call, from tokens and pricing"),
        Signal("quality-score", "mean", SCORE, "judge or eval score per sampled call (0-1)"),
        Signal("thumbs-down-rate", "proportion", RATE, "share of rated answers rated down"),
    )
}

V = 'variant="{{ variant }}"'
T = 'model_id="{{ target }}"'
WINDOW = "[{{ window }}]"
# OpenTelemetry GenAI semantic conventions' advisory bucket boundaries (rollout.client sets them).
OTEL_SECONDS: tuple[float, ...] = tuple(0.01 * 2**i for i in range(14))  # 0.01 .. 81.92 s
OTEL_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
OTEL_SCORE = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# LiteLLM's LATENCY_BUCKETS (litellm/types/integrations/prometheus.py), +Inf left out.
LITELLM_SECONDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
LITELLM_SECONDS += (10.0, 30.0, 60.0, 120.0, 300.0, 420.0, 600.0)


class Unsupported(Exception):
    """The source cannot answer this signal; the message says why and what to do."""


@dataclass(frozen=True)
class Context:
    """What a source's queries may need besides the signal: threshold (s) and prices."""

    threshold_s: float | None
    prices: dict[str, tuple[float, float, float]]  # variant -> USD per (input, cached, output)


# -- Prometheus helpers -------------------------------------------------------------------------


def _le(b: float) -> str:
    """A `le` matcher for boundary b, whichever way the exporter or Prometheus wrote it."""
    forms = {repr(float(b)), f"{b:g}"}
    if float(b).is_integer():
        forms.add(str(int(b)))
    return 'le=~"' + "|".join(sorted(f.replace(".", "[.]") for f in forms)) + '"'


def _inc(metric: str, sel: str) -> str:
    return f"sum(increase({metric}{{{sel}}}{WINDOW}))"


def _bucket_moments(
    bucket: str, count: str, sel: str, bounds: Sequence[float], *, log: bool, upper: bool = False
) -> tuple[str, str]:
    """(sum, sum of squares) of the observations (or of their logs), from a histogram.

    `log`: each observation is put at its bucket's midpoint in log space, and its spread within
    the bucket is added to the squares as for a uniform distribution over the bucket, so sum and
    squares are moments of one distribution and the spread is not understated.
    `upper` (non-negative values whose exact sum is read from `_sum`): each square is bounded by
    its bucket's upper edge squared, an upper bound whatever the values, so the variance the
    mean gate sees is never below the true one (its confidence sequence stays valid)."""
    edges = [bounds[0] / 2.0 if log else 0.0, *bounds, bounds[-1] * 4.0]
    f: Callable[[float], float] = math.log if log else (lambda x: x)
    reps, squares = [], []
    for a, b in itertools.pairwise(edges):
        lo, hi = f(a), f(b)
        reps.append((lo + hi) / 2.0)
        squares.append(hi * hi if upper else (lo * lo + lo * hi + hi * hi) / 3.0)
    # Observations in bucket i = cum_i - cum_{i-1}; summed by parts over the cumulative counts.
    terms_s, terms_q = [], []
    for i, b in enumerate(bounds):
        cum = _inc(bucket, f"{sel},{_le(b)}")
        terms_s.append(f"{cum} * {reps[i] - reps[i + 1]!r}")
        terms_q.append(f"{cum} * {squares[i] - squares[i + 1]!r}")
    total = _inc(count, sel)
    s = " + ".join([*terms_s, f"{total} * {reps[-1]!r}"])
    q = " + ".join([*terms_q, f"{total} * {squares[-1]!r}"])
    return f"({s})", f"({q})"


def _histogram(
    name: str, sel: str, bounds: Sequence[float], *, log: bool, exact_sum: bool
) -> Queries:
    upper = exact_sum and not log
    s, q = _bucket_moments(f"{name}_bucket", f"{name}_count", sel, bounds, log=log, upper=upper)
    return {
        "count": _inc(f"{name}_count", sel),
        "sum": _inc(f"{name}_sum", sel) if exact_sum and not log else s,
        "sum_squares": q,
    }


def _exceedance(name: str, sel: str, bounds: Sequence[float], ctx: Context) -> Queries:
    thr = ctx.threshold_s
    assert thr is not None
    match = [b for b in bounds if math.isclose(b, thr, rel_tol=1e-9)]
    if not match:
        raise Unsupported(
            f"threshold must be a bucket boundary of {name} on this source: "
            + ", ".join(f"{b * 1000:g}" for b in bounds)
            + " (ms)"
        )
    count = _inc(f"{name}_count", sel)
    return {
        "events": f"({count} - {_inc(f'{name}_bucket', f'{sel},{_le(match[0])}')})",
        "total": count,
    }


def _per_variant(values: dict[str, float]) -> str:
    """A PromQL scalar that is values[variant] for the rendered {{ variant }}."""
    vec = " or ".join(
        f'label_replace(vector({values.get(v, 0.0)!r}), "variant", "{v}", "", "")'
        for v in ("baseline", "candidate")
    )
    pick = 'label_replace(vector(1), "variant", "{{ variant }}", "", "")'
    return f"scalar(({vec}) and on (variant) {pick})"


# -- per source type ----------------------------------------------------------------------------

OTEL_DURATION = "gen_ai_client_operation_duration_seconds"
OTEL_TTFT = "gen_ai_server_time_to_first_token_seconds"
OTEL_TOKENS_METRIC = "gen_ai_client_token_usage"
OTEL_SCORE_METRIC = "gen_ai_evaluation_score"
OTEL_FEEDBACK = "gen_ai_user_feedback_total"
DOWN = '"down"'


def prometheus(sig: Signal, ctx: Context) -> tuple[str, Queries]:
    """Prometheus scraping an app that records the OpenTelemetry GenAI metrics (rollout.client,
    or any OTel GenAI instrumentation) through the SDK's Prometheus exporter."""
    count = _inc(f"{OTEL_DURATION}_count", V)
    n = sig.name

    def errors(sel: str) -> str:
        return f"({_inc(f'{OTEL_DURATION}_count', V + ',' + sel)} or vector(0))"

    if n == "error-rate":
        return "proportion", {
            "events": errors('error_type!="",error_type!~"429|content_filter"'),
            "total": count,
        }
    if n == "throttled-rate":
        return "proportion", {"events": errors('error_type="429"'), "total": count}
    if n == "content-filtered-rate":
        return "proportion", {"events": errors('error_type="content_filter"'), "total": count}
    if n == "latency":
        return "mean", _histogram(OTEL_DURATION, V, OTEL_SECONDS, log=True, exact_sum=False)
    if n == "ttft":
        return "mean", _histogram(OTEL_TTFT, V, OTEL_SECONDS, log=True, exact_sum=False)
    if n == "latency-p95-exceedance":
        return "proportion", _exceedance(OTEL_DURATION, V, OTEL_SECONDS, ctx)
    if n == "ttft-exceedance":
        return "proportion", _exceedance(OTEL_TTFT, V, OTEL_SECONDS, ctx)
    if n in ("input-tokens-per-request", "output-tokens-per-request"):
        sel = V + f',gen_ai_token_type="{n.split("-")[0]}"'
        return "mean", _histogram(OTEL_TOKENS_METRIC, sel, OTEL_TOKENS, log=True, exact_sum=False)
    if n == "cost-per-request":
        return "mean", _otel_cost(ctx)
    if n == "quality-score":
        return "mean", _histogram(OTEL_SCORE_METRIC, V, OTEL_SCORE, log=False, exact_sum=True)
    if n == "thumbs-down-rate":
        return "proportion", {
            "events": f"({_inc(OTEL_FEEDBACK, V + ',gen_ai_feedback=' + DOWN)} or vector(0))",
            "total": _inc(OTEL_FEEDBACK, V),
        }
    raise Unsupported(f"no Prometheus query for {n}")


def _otel_cost(ctx: Context) -> Queries:
    """Cost per request from the token histograms and each variant's prices.

    sum = price_in x sum(input tokens) + price_out x sum(output tokens). Squares: with a, b the
    prices, (a x + b y)^2 <= (a + b)(a x^2 + b y^2), so the spread is never understated."""
    sel_in = V + ',gen_ai_token_type="input"'
    sel_out = V + ',gen_ai_token_type="output"'
    a = {v: p[0] for v, p in ctx.prices.items()}
    b = {v: p[2] for v, p in ctx.prices.items()}
    qa = {v: a[v] * (a[v] + b[v]) for v in a}
    qb = {v: b[v] * (a[v] + b[v]) for v in b}
    _, sq_in = _bucket_moments(
        f"{OTEL_TOKENS_METRIC}_bucket",
        f"{OTEL_TOKENS_METRIC}_count",
        sel_in,
        OTEL_TOKENS,
        log=False,
        upper=True,
    )
    _, sq_out = _bucket_moments(
        f"{OTEL_TOKENS_METRIC}_bucket",
        f"{OTEL_TOKENS_METRIC}_count",
        sel_out,
        OTEL_TOKENS,
        log=False,
        upper=True,
    )
    return {
        "count": _inc(f"{OTEL_TOKENS_METRIC}_count", sel_out),
        "sum": f"({_inc(f'{OTEL_TOKENS_METRIC}_sum', sel_in)} * {_per_variant(a)}"
        f" + {_inc(f'{OTEL_TOKENS_METRIC}_sum', sel_out)} * {_per_variant(b)})",
        "sum_squares": f"({sq_in} * {_per_variant(qa)} + {sq_out} * {_per_variant(qb)})",
    }


LITELLM_TOTAL = "litellm_deployment_total_requests_total"
LITELLM_FAILED = "litellm_deployment_failure_responses_total"
LITELLM_LATENCY = "litellm_llm_api_latency_metric"
LITELLM_TTFT = "litellm_llm_api_time_to_first_token_metric"
_FILTERED = 'exception_class=~".*ContentPolicyViolation.*"'


def litellm(sig: Signal, ctx: Context) -> tuple[str, Queries]:
    """Prometheus scraping a LiteLLM proxy (`callbacks: ["prometheus"]`); the variant is the
    deployment whose model_id is the variant's target (as router `litellm` has it)."""
    n = sig.name
    total = _inc(LITELLM_TOTAL, T)

    def failed(sel: str) -> str:
        return f"({_inc(LITELLM_FAILED, T + ',' + sel)} or vector(0))"

    if n == "error-rate":
        return "proportion", {
            "events": failed(
                'exception_status!="429",exception_class!~".*ContentPolicyViolation.*"'
            ),
            "total": total,
        }
    if n == "throttled-rate":
        return "proportion", {"events": failed('exception_status="429"'), "total": total}
    if n == "content-filtered-rate":
        return "proportion", {"events": failed(_FILTERED), "total": total}
    if n == "latency":
        return "mean", _histogram(LITELLM_LATENCY, T, LITELLM_SECONDS, log=True, exact_sum=False)
    if n == "ttft":
        return "mean", _histogram(LITELLM_TTFT, T, LITELLM_SECONDS, log=True, exact_sum=False)
    if n == "latency-p95-exceedance":
        return "proportion", _exceedance(LITELLM_LATENCY, T, LITELLM_SECONDS, ctx)
    if n == "ttft-exceedance":
        return "proportion", _exceedance(LITELLM_TTFT, T, LITELLM_SECONDS, ctx)
    raise Unsupported(
        "LiteLLM's proxy exports tokens and spend as totals only (no per-request spread to test "
        "a mean on): instrument the app with rollout.client (OpenTelemetry) and use a "
        "prometheus source, or write the queries"
    )


_AZ = "where ModelDeploymentName = '{{ target }}'"


def azure_monitor(sig: Signal, ctx: Context) -> tuple[str, Queries]:
    """Azure OpenAI platform metrics of the account; the variant is its deployment (target)."""
    n = sig.name
    total = f"AzureOpenAIRequests:total {_AZ}"
    if n == "error-rate":
        return "proportion", {"events": f"{total} and StatusCode = '5*' default 0", "total": total}
    if n == "throttled-rate":
        return "proportion", {"events": f"{total} and StatusCode = '429' default 0", "total": total}
    if n == "ttft":
        # A platform average, no samples: a `value` gate (threshold semantics), in ms.
        return "value", {"query": f"AzureOpenAITimeToResponse:average {_AZ}"}
    raise Unsupported(
        "Azure Monitor platform metrics have request counts by StatusCode, ProcessedPromptTokens, "
        "GeneratedTokens and TimeToResponse as totals and averages, not per-request samples: "
        "use a log-analytics or prometheus source for this signal, or write the queries"
    )


_LA = 'AppDependencies | where tostring(Properties["variant"]) == "{{ variant }}"'
_LA_OK = " and Success == true | extend x = "


def log_analytics(sig: Signal, ctx: Context) -> tuple[str, Queries]:
    """Application Insights dependency rows of the app's model calls (OpenTelemetry GenAI spans
    exported by the Azure Monitor distro: gen_ai.* attributes in Properties)."""
    n = sig.name
    total = f"{_LA} | summarize sum(ItemCount)"

    def where(cond: str) -> str:
        return f"{_LA} and {cond} | summarize sum(ItemCount)"

    if n == "error-rate":
        cond = 'Success == false and ResultCode != "429" and tostring(Properties["error.type"])'
        return "proportion", {"events": where(cond + ' != "content_filter"'), "total": total}
    if n == "throttled-rate":
        return "proportion", {"events": where('ResultCode == "429"'), "total": total}
    if n == "content-filtered-rate":
        cond = 'tostring(Properties["error.type"]) == "content_filter"'
        return "proportion", {"events": where(cond), "total": total}
    if n == "latency-p95-exceedance":
        assert ctx.threshold_s is not None
        return "proportion", {
            "events": where(f"DurationMs > {ctx.threshold_s * 1000:g}"),
            "total": total,
        }
    x = {
        "latency": "log(DurationMs / 1000.0)",
        "input-tokens-per-request": 'log(toreal(Properties["gen_ai.usage.input_tokens"]))',
        "output-tokens-per-request": 'log(toreal(Properties["gen_ai.usage.output_tokens"]))',
    }.get(n)
    if x is None:
        raise Unsupported(f"no Application Insights query for {n}: write the queries")
    base = f"{_LA} and Success == true | extend x = {x} | where isnotnull(x)"
    return "mean", {
        "count": f"{base} | summarize sum(ItemCount)",
        "sum": f"{base} | summarize sum(x * ItemCount)",
        "sum_squares": f"{base} | summarize sum(x * x * ItemCount)",
    }


SIM_SERIES = {
    "latency": "latency",
    "ttft": "ttft",
    "input-tokens-per-request": "input_tokens",
    "output-tokens-per-request": "output_tokens",
    "cost-per-request": "cost",
    "quality-score": "quality",
}


def simulated(sig: Signal, ctx: Context) -> tuple[str, Queries]:
    """The simulated source's series (rollout.sim.traffic.SERIES)."""
    n = sig.name
    if n == "error-rate":
        return "proportion", {"events": f"errors{{{V}}}", "total": f"requests{{{V}}}"}
    if n == "throttled-rate":
        return "proportion", {"events": f"throttled{{{V}}}", "total": f"requests{{{V}}}"}
    if n == "content-filtered-rate":
        return "proportion", {"events": f"content_filtered{{{V}}}", "total": f"requests{{{V}}}"}
    if n == "thumbs-down-rate":
        return "proportion", {"events": f"thumbs_down{{{V}}}", "total": f"feedback{{{V}}}"}
    if n in ("latency-p95-exceedance", "ttft-exceedance"):
        series = "latency_over" if n.startswith("latency") else "ttft_over"
        total = "requests" if n.startswith("latency") else "ttft_count"
        return "proportion", {
            "events": f'{series}{{{V},le="{ctx.threshold_s:g}"}}',
            "total": f"{total}{{{V}}}",
        }
    s = SIM_SERIES[n]
    labels = V
    if n == "cost-per-request":
        labels += ',price="' + _price_label(ctx.prices) + '"'
    if s in ("latency", "ttft", "input_tokens", "output_tokens"):
        return "mean", {
            "count": f"{s}_count{{{labels}}}",
            "sum": f"{s}_log_sum{{{labels}}}",
            "sum_squares": f"{s}_log_sum_squares{{{labels}}}",
        }
    return "mean", {
        "count": f"{s}_count{{{labels}}}",
        "sum": f"{s}_sum{{{labels}}}",
        "sum_squares": f"{s}_sum_squares{{{labels}}}",
    }


def _price_label(prices: dict[str, tuple[float, float, float]]) -> str:
    return ";".join(
        f"{v}:{prices[v][0] * 1000:g}/{prices[v][1] * 1000:g}/{prices[v][2] * 1000:g}"
        for v in ("baseline", "candidate")
        if v in prices
    )


def parse_price_label(text: str) -> dict[str, tuple[float, float, float]]:
    """The simulated cost series' `price` label: USD per 1k (input/cached/output) per variant."""
    out: dict[str, tuple[float, float, float]] = {}
    for part in text.split(";"):
        if ":" not in part:
            continue
        v, nums = part.split(":", 1)
        i, c, o = (float(x) / 1000.0 for x in nums.split("/"))
        out[v] = (i, c, o)
    return out


SOURCES: dict[str, Callable[[Signal, Context], tuple[str, Queries]]] = {
    "prometheus": prometheus,
    "litellm": litellm,
    "azure-monitor": azure_monitor,
    "log-analytics": log_analytics,
    "simulated": simulated,
}
QUERY_ROLES = ("events", "total", "count", "sum", "sum_squares", "query")


# -- the expansion ------------------------------------------------------------------------------


def expand_signals(data: Any) -> Any:
    """The plan's raw data with every signal gate given its kind, queries and converted bounds.

    Raises rollout.spec.PlanRuleErrors (each problem at gates[i].<field>) for an unknown signal,
    a source that cannot answer it, or bounds that do not fit it. Malformed data is returned as
    it is, for the schema to report."""
    if not isinstance(data, dict) or not isinstance(data.get("gates"), list):
        return data
    if not any(isinstance(g, dict) and "signal" in g for g in data["gates"]):
        return data
    problems: list[tuple[Loc, str]] = []
    gates = []
    for i, g in enumerate(data["gates"]):
        if isinstance(g, dict) and g.get("signal") is not None and g.get("kind") is None:
            try:
                g = expand_gate(g, data)
            except _Problem as exc:
                problems.append((("gates", i, exc.field), str(exc)))
        gates.append(g)
    if problems:
        from rollout.errors import PlanRuleErrors

        raise PlanRuleErrors(problems)
    return {**data, "gates": gates}


class _Problem(ValueError):
    def __init__(self, field: str, msg: str) -> None:
        super().__init__(msg)
        self.field = field


def source_type(gate: dict[str, Any], data: dict[str, Any]) -> str | None:
    src = gate.get("source")
    section = (data.get("sources") or {}).get(src) if src else data.get("metrics")
    if not isinstance(section, dict):
        return None
    t = section.get("type")
    if t == "prometheus" and section.get("signals") == "litellm":
        return "litellm"
    return t if isinstance(t, str) else None


def expand_gate(g: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    name = g["signal"]
    sig = SIGNALS.get(name) if isinstance(name, str) else None
    if sig is None:
        import difflib

        close = difflib.get_close_matches(str(name), SIGNALS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _Problem("signal", f"unknown signal {name!r}{hint}; known: {', '.join(SIGNALS)}")
    written = [r for r in QUERY_ROLES if g.get(r) is not None]
    if written:
        raise _Problem(
            written[0],
            f"a signal gate takes no queries ({', '.join(written)}): give `kind` with your own "
            "queries, or leave them out and the signal's are used",
        )
    stype = source_type(g, data)
    fn = SOURCES.get(stype or "")
    if fn is None:
        raise _Problem(
            "signal",
            f"metrics source type {stype!r} has no built-in queries for signals "
            f"(built in for: {', '.join(SOURCES)}); write the gate's kind and queries",
        )
    thr = g.get("threshold")
    if sig.threshold and not _number(thr):
        raise _Problem("signal", f"{name} needs threshold: milliseconds (near the baseline's p95)")
    if not sig.threshold and thr is not None:
        raise _Problem("threshold", f"threshold does not apply to {name}")
    prices: dict[str, tuple[float, float, float]] = {}
    if name == "cost-per-request":
        prices = _prices(data)
    thr_s = float(thr) / 1000.0 if isinstance(thr, int | float) and _number(thr) else None
    ctx = Context(threshold_s=thr_s, prices=prices)
    try:
        kind, queries = fn(sig, ctx)
    except Unsupported as exc:
        raise _Problem("signal", f"{name} on a {stype} source: {exc}") from None
    label = g.get("bucket_by")
    if isinstance(label, str) and kind == "proportion":
        if stype == "litellm":
            raise _Problem(
                "bucket_by",
                f"LiteLLM's metrics carry no label of the sticky key to group {name} by; "
                "leave bucket_by out (the gate then counts requests) or scrape the app's own "
                "OpenTelemetry GenAI metrics (metrics: {type: prometheus})",
            )
        if stype == "prometheus":
            queries = by_bucket(queries, label)
    out = {**g, "kind": kind, **queries}
    if sig.unit in LOG_UNITS and kind == "mean":
        out = _log_bounds(out, name, LOG_UNITS[sig.unit])
    return out


def by_bucket(queries: Queries, label: str) -> Queries:
    """A proportion signal's Prometheus queries with one series per value of `label` (a hash
    bucket of the sticky key, for `bucket_by`): every sum keeps the label, and the events'
    `or vector(0)` (no failures at all is 0, not no data) becomes 0 for each bucket that has
    requests, so a bucket without failures reads 0 rather than missing."""
    grouped = f"sum by ({label}) (increase("
    total = queries["total"].replace("sum(increase(", grouped)
    zero = f" or 0 * {total})"
    return {
        role: q.replace("sum(increase(", grouped).replace(" or vector(0))", zero)
        for role, q in queries.items()
    }


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0


# Signals tested on the mean of logs (the geometric mean), and what their plan numbers are in:
# times in ms (of seconds underneath), tokens in tokens. Token counts are heavy-tailed, and a
# raw mean of heavy-tailed values is never certified (rollout.gates.sequential).
LOG_UNITS = {TIME: 1000.0, TOKENS: 1.0}


def _log_bounds(g: dict[str, Any], name: str, scale: float) -> dict[str, Any]:
    """Means of logs: ratios become log differences, absolute bounds (ms, tokens) logs."""
    out = dict(g)
    for b in ("max_increase", "max_decrease"):
        if out.get(b) is not None:
            raise _Problem(b, f"{name} is bounded by max_ratio (e.g. 1.2) or max / min, not by {b}")
    for b, to, sign in (("max_ratio", "max_increase", 1.0), ("min_ratio", "max_decrease", -1.0)):
        v = out.pop(b, None)
        if v is not None:
            if not _number(v):
                raise _Problem(b, "must be a number > 0")
            if sign * math.log(v) < 0:
                raise _Problem(b, f"{b} {v} of a time signal must be {'>' if sign > 0 else '<'} 1")
            out[to] = abs(math.log(v))
    for b in ("max", "min"):
        v = out.get(b)
        if v is not None:
            if not _number(v):
                raise _Problem(b, "must be > 0 (ms for times)")
            out[b] = math.log(float(v) / scale)
    return out


def _prices(data: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    from rollout.llm.pricing import lookup

    overrides = data.get("pricing") if isinstance(data.get("pricing"), dict) else None
    out = {}
    variants = data.get("variants") or {}
    for v in ("baseline", "candidate"):
        spec = variants.get(v) if isinstance(variants, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("model"), str):
            raise _Problem("signal", f"cost-per-request needs variants.{v}.model")
        try:
            price = lookup(spec["model"], spec.get("model_version"), overrides)
        except ValueError as exc:
            raise _Problem("signal", f"pricing for {spec['model']}: {exc}") from None
        if price is None or price.input_per_1k is None or price.output_per_1k is None:
            ver = spec.get("model_version")
            key = f"{spec['model']}@{ver}" if ver else spec["model"]
            raise _Problem(
                "signal",
                f"no PAYG price for {key} ({v}) in rollout/llm/pricing.yaml: add "
                f"pricing: {{{key}: {{input_per_1k: ..., output_per_1k: ...}}}} to the plan",
            )
        out[v] = price.per_token()
    return out


def unit_of(signal: str | None) -> str | None:
    sig = SIGNALS.get(signal or "")
    return sig.unit if sig else None


def simulated_roles(
    signal: str | None, kind: str, threshold_ms: float | None, spec: Any = None
) -> Queries | None:
    """The simulated series that stand for a signal gate of any source, for `rollout simulate`
    (None when the signal has no simulated form of this gate's kind). Cost uses each variant's
    price from `spec` (a PlanSpec: its variants and pricing), else the scenario's."""
    sig = SIGNALS.get(signal or "")
    if sig is None:
        return None
    thr = threshold_ms / 1000.0 if threshold_ms else (1.0 if sig.threshold else None)
    prices: dict[str, tuple[float, float, float]] = {}
    if sig.name == "cost-per-request" and spec is not None:
        try:
            prices = _prices(spec.model_dump(mode="json", by_alias=True, exclude_none=True))
        except _Problem:
            prices = {}
    got_kind, queries = simulated(sig, Context(threshold_s=thr, prices=prices))
    if got_kind != kind:
        return None
    # The variant label is a placeholder here; simulate answers each variant from its own draws.
    return {r: q.replace("{{ variant }}", "candidate") for r, q in queries.items()}
