"""rollout.client's telemetry: each model call as OpenTelemetry GenAI metrics (the optional
`otel` extra, opentelemetry-api) or prometheus_client metrics, named and labelled the way the
built-in LLM signals query them (rollout.llm.catalog). See rollout.client for the usage.

Neither library is imported until a Telemetry is made.
"""

from __future__ import annotations

import re
from typing import Any

# The GenAI semantic conventions' advisory boundaries (rollout.llm.catalog queries these `le`s).
SECONDS_BUCKETS = tuple(0.01 * 2**i for i in range(14))  # 0.01 .. 81.92 s
TOKEN_BUCKETS = tuple(float(4**i) for i in range(12))  # 1 .. 4,194,304
SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))  # 0.1 .. 1.0


def error_type(status: int | str | None, content_filtered: bool = False) -> str | None:
    """`error.type` of one call: None on success; 429 and content filter blocks are their own."""
    if content_filtered:
        return "content_filter"
    if status is None:
        return None
    text = str(status)
    if text.isdigit():
        return None if int(text) < 400 else text
    return text  # an exception's class name


class Telemetry:
    """Records model calls as OpenTelemetry GenAI metrics or prometheus_client metrics.

    backend: "auto" (OpenTelemetry when opentelemetry-api is importable), "opentelemetry"
    (with `meter_provider`, else the global one) or "prometheus" (with `registry`, else the
    default registry). Recording never raises into the app; `last_error` says what failed.

    `bucket_by="bucket"` adds that label to the calls and the feedback (what proportion gates
    count), so a gate with the same `bucket_by` judges users, not requests: pass each call's
    `bucket=Routes.bucket_label(user_key)` (64 values, independent of the variant the key got).
    A call without one is recorded under bucket "none" and `last_error` says so."""

    def __init__(
        self,
        backend: str = "auto",
        *,
        meter_provider: Any = None,
        registry: Any = None,
        operation: str = "chat",
        bucket_by: str | None = None,
    ) -> None:
        self.operation = operation
        if bucket_by is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", bucket_by):
            raise ValueError(f"bucket_by is a label name (got {bucket_by!r})")
        self.bucket_by = bucket_by
        self.last_error: str | None = None
        if backend == "auto":
            import importlib.util

            backend = (
                "opentelemetry"
                if importlib.util.find_spec("opentelemetry") is not None
                else "prometheus"
            )
        if backend not in ("opentelemetry", "prometheus"):
            raise ValueError(f"backend is opentelemetry, prometheus or auto (got {backend!r})")
        self.backend = backend
        if backend == "opentelemetry":
            self._otel(meter_provider)
        else:
            self._prom(registry)

    def _otel(self, provider: Any) -> None:
        from opentelemetry import metrics

        meter = (provider or metrics.get_meter_provider()).get_meter("rollout.client")
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(SECONDS_BUCKETS),
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )
        self._ttft = meter.create_histogram(
            "gen_ai.server.time_to_first_token",
            unit="s",
            description="Time to generate first token for successful responses",
            explicit_bucket_boundaries_advisory=list(SECONDS_BUCKETS),
        )
        self._score = meter.create_histogram(
            "gen_ai.evaluation.score",
            description="Judge or evaluation score of a sampled response (0-1)",
            explicit_bucket_boundaries_advisory=list(SCORE_BUCKETS),
        )
        self._feedback = meter.create_counter(
            "gen_ai.user.feedback", unit="{rating}", description="User ratings of responses"
        )

    def _prom(self, registry: Any) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram

        reg = registry if registry is not None else REGISTRY
        common = ["variant", "gen_ai_operation_name", "gen_ai_request_model"]
        by = [self.bucket_by] if self.bucket_by else []
        self._p_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration",
            [*common, "error_type", *by],
            buckets=SECONDS_BUCKETS,
            registry=reg,
        )
        self._p_tokens = Histogram(
            "gen_ai_client_token_usage",
            "Measures number of input and output tokens used",
            [*common, "gen_ai_token_type"],
            buckets=TOKEN_BUCKETS,
            registry=reg,
        )
        self._p_ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to generate first token for successful responses",
            common,
            buckets=SECONDS_BUCKETS,
            registry=reg,
        )
        self._p_score = Histogram(
            "gen_ai_evaluation_score",
            "Judge or evaluation score of a sampled response (0-1)",
            ["variant"],
            buckets=SCORE_BUCKETS,
            registry=reg,
        )
        self._p_feedback = Counter(
            "gen_ai_user_feedback",
            "User ratings of responses",
            ["variant", "gen_ai_feedback", *by],
            registry=reg,
        )

    def record(
        self,
        variant: str,
        *,
        latency_s: float,
        model: str | None = None,
        status: int | str | None = 200,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        ttft_s: float | None = None,
        content_filtered: bool = False,
        bucket: str | None = None,
    ) -> None:
        """One model call: its variant (Choice.variant), duration, outcome, tokens and TTFT;
        `bucket`: the key's bucket label when the Telemetry was made with `bucket_by`."""
        try:
            err = error_type(status, content_filtered)
            by = self._by(bucket)
            if self.backend == "opentelemetry":
                attrs: dict[str, str] = {
                    "variant": variant,
                    "gen_ai.operation.name": self.operation,
                }
                if model:
                    attrs["gen_ai.request.model"] = model
                call = {**attrs, **({"error.type": err} if err else {}), **by}
                self._duration.record(latency_s, call)
                for kind, n in (("input", input_tokens), ("output", output_tokens)):
                    if n is not None and err is None:
                        self._tokens.record(n, {**attrs, "gen_ai.token.type": kind})
                if ttft_s is not None and err is None:
                    self._ttft.record(ttft_s, attrs)
                return
            labels = (variant, self.operation, model or "")
            self._p_duration.labels(*labels, err or "", *by.values()).observe(latency_s)
            for kind, n in (("input", input_tokens), ("output", output_tokens)):
                if n is not None and err is None:
                    self._p_tokens.labels(*labels, kind).observe(n)
            if ttft_s is not None and err is None:
                self._p_ttft.labels(*labels).observe(ttft_s)
        except Exception as exc:  # telemetry must never break the app's call
            self.last_error = f"record: {exc}"

    def _by(self, bucket: str | None) -> dict[str, str]:
        """The bucket label of one call, when this Telemetry groups by one."""
        if self.bucket_by is None:
            return {}
        if bucket is None:
            self.last_error = f"record: no bucket given (bucket_by={self.bucket_by!r}): 'none'"
            bucket = "none"
        return {self.bucket_by: str(bucket)}

    def score(self, variant: str, value: float) -> None:
        """A judge's (or evaluator's) score of one sampled response, 0-1."""
        try:
            if self.backend == "opentelemetry":
                self._score.record(value, {"variant": variant})
            else:
                self._p_score.labels(variant).observe(value)
        except Exception as exc:
            self.last_error = f"score: {exc}"

    def feedback(self, variant: str, *, down: bool, bucket: str | None = None) -> None:
        """A user's thumbs up (down=False) or down on one response."""
        rating = "down" if down else "up"
        try:
            by = self._by(bucket)
            if self.backend == "opentelemetry":
                self._feedback.add(1, {"variant": variant, "gen_ai.feedback": rating, **by})
            else:
                self._p_feedback.labels(variant, rating, *by.values()).inc()
        except Exception as exc:
            self.last_error = f"feedback: {exc}"
