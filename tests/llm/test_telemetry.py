"""rollout.client.Telemetry writes the metric names and labels the built-in signals query, with
both backends (the OpenTelemetry SDK's Prometheus exporter, and prometheus_client)."""

from __future__ import annotations

import re

import pytest

from rollout.client import Telemetry, error_type
from rollout.llm import catalog


def exposition_otel() -> tuple[Telemetry, object]:
    pytest.importorskip("opentelemetry.sdk")
    pytest.importorskip("opentelemetry.exporter.prometheus")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    return Telemetry("opentelemetry", meter_provider=MeterProvider(metric_readers=[reader])), reader


def calls(t: Telemetry) -> None:
    t.record(
        "candidate",
        model="gpt-4.1",
        latency_s=1.1,
        ttft_s=0.3,
        input_tokens=800,
        output_tokens=250,
        status=200,
    )
    t.record("candidate", latency_s=0.05, status=429)
    t.record("candidate", latency_s=0.2, content_filtered=True)
    t.record("baseline", latency_s=2.0, status=500)
    t.score("candidate", 0.7)
    t.feedback("candidate", down=True)


def test_error_type_keeps_429_and_content_filter_apart() -> None:
    assert error_type(200) is None and error_type("201") is None
    assert error_type(429) == "429" and error_type(503) == "503"
    assert error_type(200, content_filtered=True) == "content_filter"
    assert error_type("TimeoutError") == "TimeoutError"


def test_prometheus_client_backend_exposes_what_the_signals_query() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    reg = CollectorRegistry()
    t = Telemetry("prometheus", registry=reg)
    calls(t)
    assert t.last_error is None
    text = generate_latest(reg).decode()
    check_exposition(text)


def test_opentelemetry_backend_records_gen_ai_metrics() -> None:
    t, reader = exposition_otel()
    calls(t)
    assert t.last_error is None
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    names = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.server.time_to_first_token",
        "gen_ai.evaluation.score",
        "gen_ai.user.feedback",
    } <= set(names)
    points = names["gen_ai.client.operation.duration"].data.data_points
    errs = sorted(str(p.attributes.get("error.type")) for p in points)
    assert errs == ["429", "500", "None", "content_filter"]
    # The semantic conventions' bucket boundaries, which the catalog's `le` matchers name.
    assert tuple(points[0].explicit_bounds) == pytest.approx(catalog.OTEL_SECONDS)
    tokens = names["gen_ai.client.token.usage"].data.data_points
    assert {p.attributes["gen_ai.token.type"] for p in tokens} == {"input", "output"}
    assert all(p.attributes["variant"] == "candidate" for p in tokens)


def test_opentelemetry_prometheus_exporter_names_match_the_catalog() -> None:
    pytest.importorskip("opentelemetry.exporter.prometheus")
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import REGISTRY, generate_latest

    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        t = Telemetry("opentelemetry", meter_provider=provider)
        calls(t)
        check_exposition(generate_latest(REGISTRY).decode())
    finally:
        provider.shutdown()  # the reader unregisters its collector from REGISTRY


def check_exposition(text: str) -> None:
    def has(metric: str, **labels: str) -> bool:
        for line in text.splitlines():
            if line.startswith(metric + "{") and all(
                re.search(rf'{k}="{re.escape(v)}"', line) for k, v in labels.items()
            ):
                return True
        return False

    d = catalog.OTEL_DURATION
    assert has(f"{d}_count", variant="candidate", error_type="429")
    assert has(f"{d}_count", variant="candidate", error_type="content_filter")
    assert has(f"{d}_count", variant="baseline", error_type="500")
    assert has(f"{d}_bucket", variant="candidate", le="2.56")
    tk = catalog.OTEL_TOKENS_METRIC
    assert has(f"{tk}_sum", variant="candidate", gen_ai_token_type="output")
    assert has(f"{tk}_bucket", variant="candidate", gen_ai_token_type="input")
    assert has(f"{catalog.OTEL_TTFT}_count", variant="candidate")
    assert has(f"{catalog.OTEL_SCORE_METRIC}_sum", variant="candidate")
    assert has(catalog.OTEL_FEEDBACK, variant="candidate", gen_ai_feedback="down")


def test_bucket_by_labels_the_calls_and_feedback_the_bucketed_signals_group_by() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from rollout.client import bucket_label

    reg = CollectorRegistry()
    t = Telemetry("prometheus", registry=reg, bucket_by="bucket")
    b = bucket_label("support-bot", "user-17")
    t.record("candidate", latency_s=0.4, status=500, bucket=b)
    t.feedback("candidate", down=True, bucket=b)
    assert t.last_error is None
    text = generate_latest(reg).decode()
    d = catalog.OTEL_DURATION
    assert re.search(rf'{d}_count{{[^}}]*bucket="{b}"[^}}]*}}', text) or re.search(
        rf'{d}_count{{[^}}]*error_type="500"[^}}]*bucket="{b}"', text
    )
    assert re.search(rf'{catalog.OTEL_FEEDBACK}{{[^}}]*bucket="{b}"', text)
    # what a bucket_by gate's queries group by is this label
    q = catalog.by_bucket(
        {"events": "sum(increase(x[1m]))", "total": "sum(increase(y[1m]))"}, "bucket"
    )
    assert q["total"].startswith("sum by (bucket) (")
    # a call without its bucket is still recorded, under "none", and said
    t.record("candidate", latency_s=0.4, status=200)
    assert t.last_error is not None and "no bucket" in t.last_error
    assert 'bucket="none"' in generate_latest(reg).decode()


def test_opentelemetry_bucket_attribute_and_no_label_by_default() -> None:
    t, reader = exposition_otel()
    t.record("candidate", latency_s=0.4, status=200, bucket="7")  # ignored without bucket_by
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    points = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "gen_ai.client.operation.duration"
        for p in m.data.data_points
    ]
    assert points and all("bucket" not in p.attributes for p in points)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader2 = InMemoryMetricReader()
    t2 = Telemetry(
        "opentelemetry", meter_provider=MeterProvider(metric_readers=[reader2]), bucket_by="bucket"
    )
    t2.record("candidate", latency_s=0.4, status=429, bucket="7")
    t2.feedback("baseline", down=False, bucket="3")
    got = {
        m.name: {p.attributes.get("bucket") for p in m.data.data_points}
        for rm in reader2.get_metrics_data().resource_metrics  # type: ignore[union-attr]
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert got["gen_ai.client.operation.duration"] == {"7"}
    assert got["gen_ai.user.feedback"] == {"3"}
    with pytest.raises(ValueError, match="label name"):
        Telemetry("prometheus", bucket_by="bad label")
