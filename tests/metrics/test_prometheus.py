"""Metrics source `prometheus`: request shape, result handling, retries, auth, and a real server."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from rollout import registry
from rollout.errors import InvalidInput, NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.prometheus import Config, PrometheusSource
from rollout.registry import BuildContext

END = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
WINDOW = Window(END - timedelta(seconds=30), END)
Q = 'sum(increase(llm_requests_total{variant="candidate"}[30s]))'


def vector(*values: str, labels: list[dict[str, str]] | None = None) -> dict[str, Any]:
    labels = labels or [{} for _ in values]
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": m, "value": [END.timestamp(), v]}
                for m, v in zip(labels, values, strict=True)
            ],
        },
    }


class Fake:
    """Replies from a script (one entry per request; the last one repeats) and records requests."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, json=reply)


def source(fake: Fake, sleeps: list[float] | None = None, **config: Any) -> PrometheusSource:
    cfg = Config.model_validate({"url": "http://prom.test:9090", **config})
    return PrometheusSource(
        cfg,
        transport=httpx.MockTransport(fake),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_instant_query_at_the_window_end() -> None:
    fake = Fake(vector("42"))
    assert source(fake).query(Q, WINDOW) == 42.0
    (req,) = fake.requests
    assert req.method == "GET"
    assert req.url.path == "/api/v1/query"
    assert req.url.params["query"] == Q
    assert float(req.url.params["time"]) == pytest.approx(END.timestamp())


def test_post_sends_a_form_body() -> None:
    fake = Fake(vector("1.5"))
    assert source(fake, method="POST").query(Q, WINDOW) == 1.5
    (req,) = fake.requests
    assert req.method == "POST"
    form = parse_qs(req.content.decode())
    assert form["query"] == [Q]
    assert float(form["time"][0]) == pytest.approx(END.timestamp())


def test_url_with_a_path_prefix_and_trailing_slash() -> None:
    fake = Fake(vector("1"))
    source(fake, url="https://mimir.test/prometheus/").query(Q, WINDOW)
    assert str(fake.requests[0].url).startswith("https://mimir.test/prometheus/api/v1/query?")


def test_scalar_result() -> None:
    fake = Fake(
        {"status": "success", "data": {"resultType": "scalar", "result": [END.timestamp(), "0.25"]}}
    )
    assert source(fake).query("scalar(x)", WINDOW) == 0.25


def test_empty_vector_is_no_data() -> None:
    with pytest.raises(NoData):
        source(Fake(vector())).query(Q, WINDOW)


def test_nan_is_no_data() -> None:
    with pytest.raises(NoData):
        source(Fake(vector("NaN"))).query("a / b", WINDOW)


def test_infinity_passes_through() -> None:
    # histogram_quantile returns +Inf when everything is in the top bucket: a real (bad) value.
    assert math.isinf(source(Fake(vector("+Inf"))).query("histogram_quantile(...)", WINDOW))


def test_several_series_is_an_error_asking_for_sum() -> None:
    fake = Fake(vector("1", "2", labels=[{"code": "200"}, {"code": "500"}]))
    with pytest.raises(ProviderError) as e:
        source(fake).query("increase(x[1m])", WINDOW)
    assert "2 series" in str(e.value) and "sum(" in str(e.value) and 'code="500"' in str(e.value)


def test_range_vector_is_an_error() -> None:
    fake = Fake({"status": "success", "data": {"resultType": "matrix", "result": []}})
    with pytest.raises(ProviderError, match="range vector"):
        source(fake).query("x[1m]", WINDOW)


def test_prometheus_error_body_is_reported_and_not_retried() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    fake = Fake(httpx.Response(400, json=body))
    with pytest.raises(ProviderError) as e:
        source(fake).query("sum(x{)", WINDOW)
    assert "bad_data" in str(e.value) and "parse error" in str(e.value)
    assert len(fake.requests) == 1


def test_server_errors_are_retried_with_backoff_then_succeed() -> None:
    sleeps: list[float] = []
    fake = Fake(
        httpx.Response(503, text="overloaded"),
        httpx.Response(429, headers={"Retry-After": "2"}),
        vector("7"),
    )
    assert source(fake, sleeps).query(Q, WINDOW) == 7.0
    assert len(fake.requests) == 3
    assert len(sleeps) == 2 and sleeps[1] == 2.0


def test_persistent_server_error_is_a_provider_error_after_all_attempts() -> None:
    sleeps: list[float] = []
    fake = Fake(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ProviderError, match="HTTP 502"):
        source(fake, sleeps, retries=3).query(Q, WINDOW)
    assert len(fake.requests) == 3 and len(sleeps) == 2


def test_unreachable_server_is_a_provider_error() -> None:
    fake = Fake(httpx.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as e:
        source(fake, retries=2).query(Q, WINDOW)
    assert "ConnectError" in str(e.value) and "prom.test" in str(e.value)
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html><body>Grafana login</body></html>"),
        httpx.Response(200, text=""),
        httpx.Response(200, json={"hello": "world"}),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": "x"}]},
            },
        ),
        httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, "abc"]}]},
            },
        ),
        httpx.Response(
            200, json={"status": "success", "data": {"resultType": "string", "result": [1, "s"]}}
        ),
    ],
)
def test_garbage_is_a_provider_error_never_a_number(reply: httpx.Response) -> None:
    with pytest.raises(ProviderError):
        source(Fake(reply)).query(Q, WINDOW)


def test_bearer_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "tok-123456789")
    fake = Fake(vector("1"))
    cfg = Config(
        url="http://prom.test", bearer_token_env="PROM_TOKEN", headers={"X-Scope-OrgID": "team-a"}
    )
    PrometheusSource(cfg, transport=httpx.MockTransport(fake), sleep=lambda s: None).query(
        Q, WINDOW
    )
    assert fake.requests[0].headers["authorization"] == "Bearer tok-123456789"
    assert fake.requests[0].headers["x-scope-orgid"] == "team-a"


def test_basic_auth_and_env_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_USER", "alice")
    monkeypatch.setenv("PROM_PASS", "pa55word")
    monkeypatch.setenv("PROM_KEY", "k-1")
    fake = Fake(vector("1"))
    cfg = Config(
        url="http://prom.test",
        username_env="PROM_USER",
        password_env="PROM_PASS",
        headers_env={"X-Api-Key": "PROM_KEY"},
    )
    PrometheusSource(cfg, transport=httpx.MockTransport(fake), sleep=lambda s: None).query(
        Q, WINDOW
    )
    h = fake.requests[0].headers
    assert h["authorization"] == "Basic " + base64.b64encode(b"alice:pa55word").decode()
    assert h["x-api-key"] == "k-1"


def test_missing_credential_variable_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    with pytest.raises(InvalidInput, match="NOT_SET_TOKEN"):
        PrometheusSource(Config(url="http://prom.test", bearer_token_env="NOT_SET_TOKEN"))


def test_unauthorised_says_so_without_leaking_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "tok-supersecret-987")
    fake = Fake(httpx.Response(401, text="unauthorized"))
    cfg = Config(url="http://prom.test", bearer_token_env="PROM_TOKEN")
    with pytest.raises(ProviderError) as e:
        PrometheusSource(cfg, transport=httpx.MockTransport(fake), sleep=lambda s: None).query(
            Q, WINDOW
        )
    assert "not authorised" in str(e.value) and "tok-supersecret-987" not in str(e.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"url": "prom:9090"},
        {"url": "http://p", "username_env": "U"},
        {"url": "http://p", "bearer_token_env": "T", "username_env": "U", "password_env": "P"},
        {"url": "http://p", "token": "inline-secret"},
        {"url": "http://p", "timeout": 0},
    ],
)
def test_config_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Config.model_validate(bad)


def test_check_queries_vector_1() -> None:
    fake = Fake(vector("1"))
    source(fake).check()
    assert fake.requests[0].url.params["query"] == "vector(1)"
    assert "time" not in fake.requests[0].url.params


def test_check_fails_on_something_that_is_not_prometheus() -> None:
    with pytest.raises(ProviderError, match="Prometheus"):
        source(Fake(httpx.Response(200, text="<html>welcome</html>"))).check()
    with pytest.raises(ProviderError):
        source(Fake(vector("0"))).check()


def test_built_through_the_registry(tmp_path: Path) -> None:
    fake = Fake(vector("3"))
    ctx = BuildContext(
        plan_dir=tmp_path,
        variants={},
        plan_name="p",
        extra={"httpx_transport": httpx.MockTransport(fake), "sleep": lambda s: None},
    )
    src = registry.build("metrics", {"type": "prometheus", "url": "http://prom.test:9090"}, ctx)
    assert src.query(Q, WINDOW) == 3.0
    assert json.loads(json.dumps(fake.requests[0].url.params["query"])) == Q


# -- a real server ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.prometheus
def test_against_a_real_prometheus() -> None:
    from tests.helpers.prometheus_server import PrometheusServer

    with PrometheusServer(targets=["self"], job="prom") as prom:
        prom.wait_for('up{job="prom"} == 1')
        src = PrometheusSource(Config(url=prom.url, timeout=10))
        src.check()
        now = datetime.now(UTC)
        window = Window(now - timedelta(seconds=30), now)
        assert src.query('sum(up{job="prom"})', window) == 1.0
        assert src.query("vector(2) * 3", window) == 6.0
        with pytest.raises(NoData):
            src.query('sum(metric_that_does_not_exist{variant="candidate"})', window)
        with pytest.raises(NoData):
            src.query("vector(0) / vector(0)", window)  # NaN
        with pytest.raises(ProviderError, match="bad_data"):
            src.query("sum(up{job=)", window)
        with pytest.raises(ProviderError, match="series"):
            src.query('up or label_replace(up, "x", "y", "", "")', window)
        src.close()
        url = prom.url
    # the server is gone: unreachable is a ProviderError after the retries, not a number
    gone = PrometheusSource(Config(url=url, timeout=2, retries=2), sleep=lambda s: None)
    with pytest.raises(ProviderError, match="ConnectError"):
        gone.query("vector(1)", window)
