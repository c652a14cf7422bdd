"""The MetricsSource suite: the prometheus source (over an in-process fake server) passes it,
and sources that break the gates' rules fail it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.prometheus import Config, PrometheusSource
from rollout.testing.metrics import (
    MetricsSourceConformance,
    SourceHarness,
    check_metrics_source,
)

Q = 'sum(increase(llm_requests_total{variant="candidate"}[60s]))'


class FakePrometheus:
    """Answers `vector(1)` and Q; any other query has no series. `down` makes it a 503."""

    def __init__(self) -> None:
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, text="upstream unavailable")
        query = request.url.params["query"]
        result: list[dict[str, Any]] = []
        if query == "vector(1)":
            result = [{"metric": {}, "value": [0, "1"]}]
        elif query == Q:
            result = [{"metric": {}, "value": [0, "120"]}]
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return httpx.Response(200, json=body)


def prometheus_harness() -> SourceHarness:
    fake = FakePrometheus()
    source = PrometheusSource(
        Config.model_validate({"url": "http://prom.test:9090", "retries": 1}),
        transport=httpx.MockTransport(fake),
        sleep=lambda s: None,
    )
    return SourceHarness(
        source=source,
        query=Q,
        expected=120.0,
        empty='sum(increase(llm_requests_total{variant="nobody"}[60s]))',
        fail=lambda: setattr(fake, "down", True),
        recover=lambda: setattr(fake, "down", False),
        mentions="prom.test",
    )


class TestPrometheusConformance(MetricsSourceConformance):
    @pytest.fixture
    def harness(self) -> SourceHarness:
        return prometheus_harness()


class Toy:
    """A source from a dict; `broken` makes it raise `error`. Variants of it break one rule."""

    def __init__(self, error: Exception | None = None, empty: Any = NoData("none")) -> None:
        self.values = {"q": 7.0}
        self.broken = False
        self.error = error or ProviderError("toy source: down")
        self.empty = empty

    def query(self, query: str, window: Window) -> float:
        if self.broken:
            raise self.error
        if query not in self.values:
            if isinstance(self.empty, Exception):
                raise self.empty
            return float(self.empty)
        return self.values[query]

    def check(self) -> None:
        if self.broken:
            raise self.error


def toy_harness(source: Toy) -> SourceHarness:
    return SourceHarness(
        source=source,
        query="q",
        expected=7.0,
        empty="missing",
        fail=lambda: setattr(source, "broken", True),
        recover=lambda: setattr(source, "broken", False),
        mentions="toy source",
    )


def test_a_correct_toy_passes() -> None:
    check_metrics_source(lambda: toy_harness(Toy()))


def test_nan_for_no_samples_fails() -> None:
    with pytest.raises(AssertionError, match="NoData"):
        check_metrics_source(lambda: toy_harness(Toy(empty=float("nan"))))


def test_no_samples_as_provider_error_fails() -> None:
    with pytest.raises(AssertionError, match="not a failure"):
        check_metrics_source(lambda: toy_harness(Toy(empty=ProviderError("no series"))))


def test_a_failure_that_is_not_a_provider_error_fails() -> None:
    with pytest.raises(ConnectionError):
        check_metrics_source(lambda: toy_harness(Toy(error=ConnectionError("toy source"))))


def test_a_wrong_number_fails() -> None:
    def harness() -> SourceHarness:
        h = toy_harness(Toy())
        h.expected = 8.0
        return h

    with pytest.raises(AssertionError, match=r"expected 8\.0"):
        check_metrics_source(harness)
