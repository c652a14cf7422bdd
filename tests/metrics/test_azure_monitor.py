from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.clock import FakeClock
from rollout.errors import InvalidInput, NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.azure_monitor import Cond, Query, combine, parse_query
from rollout.registry import BuildContext, build
from tests.fakes.azure_monitor import FakeAzureMonitor
from tests.fakes.credential import FakeCredential

RID = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct"
T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
WIN = Window(T0, T0 + timedelta(minutes=10))
EVENTS = (
    "AzureOpenAIRequests:total where ModelDeploymentName = 'canary' and StatusCode in ('5*', '429')"
)


class Env:
    def __init__(self, resource_id: str = RID, **options: Any) -> None:
        self.fake = FakeAzureMonitor(resource_id)
        self.cred = FakeCredential()
        self.slept: list[float] = []
        self.clock = FakeClock(T0 + timedelta(hours=1))
        ctx = BuildContext(
            plan_dir=Path("."),
            variants={},
            plan_name="p",
            extra={
                "azure_credential": self.cred,
                "http_transport": httpx.MockTransport(self.fake),
                "sleep": self.slept.append,
                "clock": self.clock,
            },
        )
        self.source = build(
            "metrics", {"type": "azure-monitor", "resource_id": resource_id, **options}, ctx
        )


@pytest.fixture
def env() -> Env:
    e = Env()
    f = e.fake
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        f.add_requests("canary", 200, 95, at)
        f.add_requests("stable", 200, 990, at)
        f.add_requests("stable", 500, 1, at)
    f.add_requests("canary", 429, 3, T0 + timedelta(minutes=2))
    f.add_requests("canary", 503, 2, T0 + timedelta(minutes=7))
    f.add_requests("canary", 400, 4, T0 + timedelta(minutes=7))  # a client error: not counted
    f.add_requests("canary", 500, 50, T0 + timedelta(minutes=11))  # outside the window
    return e


def test_request_shape_path_api_version_params_and_scope(env: Env) -> None:
    assert env.source.query(EVENTS, WIN) == 5.0
    req = env.fake.requests[-1]
    assert req.method == "GET"
    assert req.url.host == "management.azure.com"
    assert req.url.path == RID + "/providers/Microsoft.Insights/metrics"
    assert req.headers["authorization"] == "Bearer fake-token"
    assert env.fake.params == {
        "api-version": "2024-02-01",
        "metricnames": "AzureOpenAIRequests",
        "aggregation": "total",
        "interval": "PT1M",
        "timespan": "2026-01-01T00:00:00Z/2026-01-01T00:10:00Z",
        # the prefix '5*' cannot be said in $filter: Azure splits, we match the series
        "$filter": "ModelDeploymentName eq 'canary' and StatusCode eq '*'",
        "top": "50",
    }
    assert b"$filter=" in req.url.query  # the literal `$`, as the Azure SDK sends it
    assert env.cred.scopes == ["https://management.azure.com/.default"]


def test_totals_per_deployment(env: Env) -> None:
    total = "AzureOpenAIRequests:total where ModelDeploymentName = '{t}'"
    assert env.source.query(total.format(t="canary"), WIN) == 95 * 10 + 3 + 2 + 4
    assert env.source.query(total.format(t="stable"), WIN) == 991 * 10
    assert env.fake.params["$filter"] == "ModelDeploymentName eq 'stable'"
    assert (
        env.source.query(
            "AzureOpenAIRequests:total where ModelDeploymentName = 'stable' and StatusCode = '5*'",
            WIN,
        )
        == 10
    )


def test_exact_values_go_to_the_filter_with_or(env: Env) -> None:
    q = "AzureOpenAIRequests:count where ModelDeploymentName in ('canary', 'stable')"
    # Every request of both deployments in the window: 10 x (95 + 990 + 1) + 3 + 2 + 4.
    assert env.source.query(q, WIN) == 10 * (95 + 990 + 1) + 3 + 2 + 4
    assert (
        env.fake.params["$filter"]
        == "ModelDeploymentName eq 'canary' or ModelDeploymentName eq 'stable'"
    )
    assert env.fake.params["aggregation"] == "count"


def test_status_code_is_always_split_so_its_values_are_seen(env: Env) -> None:
    q = (
        "AzureOpenAIRequests:total where ModelDeploymentName = 'canary' "
        "and StatusCode in ('429', '503')"
    )
    assert env.source.query(q, WIN) == 5
    assert env.fake.params["$filter"] == "ModelDeploymentName eq 'canary' and StatusCode eq '*'"


@pytest.fixture
def worded() -> Env:
    """An account whose StatusCode dimension carries words, not HTTP codes."""
    e = Env()
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        e.fake.add_requests("canary", "Success", 95, at)
        e.fake.add_requests("canary", "ServerErrors", 5, at)
    return e


def test_status_codes_that_are_not_http_codes_are_an_error_not_a_silent_zero(
    worded: Env,
) -> None:
    # Before: '5*' and '429' matched nothing, `default 0` applied, the error gate passed.
    with pytest.raises(ProviderError, match=r"StatusCode values are 'ServerErrors', 'Success'"):
        worded.source.query(EVENTS + " default 0", WIN)


def test_check_fails_when_no_status_code_looks_like_http(worded: Env) -> None:
    worded.clock.advance(-50 * 60)  # the last hour covers the traffic
    with pytest.raises(ProviderError, match="none of them an HTTP status code"):
        worded.source.check()
    assert worded.fake.params["$filter"] == "StatusCode eq '*'"


def test_dimension_names_come_back_lower_cased_and_are_matched_without_case(env: Env) -> None:
    env.source.query(EVENTS, WIN)
    series = env.fake.answers[-1]["value"][0]["timeseries"]
    assert {mv["name"]["value"] for s in series for mv in s["metadatavalues"]} == {
        "modeldeploymentname",
        "statuscode",
    }
    assert {s["metadatavalues"][1]["value"] for s in series} == {"200", "400", "429", "503"}
    assert {"timeStamp": "2026-01-01T00:00:00Z"} in series[-1]["data"]  # an empty bucket
    # mixed case in the plan still selects the series
    q = "AzureOpenAIRequests:total where modeldeploymentNAME = 'CANARY' and STATUSCODE = '42*'"
    assert env.source.query(q, WIN) == 3


def test_empty_buckets_only_timestamp_and_all_empty_is_no_data(env: Env) -> None:
    env.fake.add_requests("quiet", 200, 7, T0 + timedelta(minutes=4))
    assert (
        env.source.query("AzureOpenAIRequests:total where ModelDeploymentName = 'quiet'", WIN) == 7
    )
    with pytest.raises(NoData):
        env.source.query("AzureOpenAIRequests:total where ModelDeploymentName = 'nobody'", WIN)
    with pytest.raises(NoData):  # no 5xx at all: Azure returns no series for the split
        env.source.query(
            "AzureOpenAIRequests:total where ModelDeploymentName = 'quiet' and StatusCode = '5*'",
            WIN,
        )


def test_default_answers_when_there_is_no_data(env: Env) -> None:
    assert (
        env.source.query(
            "AzureOpenAIRequests:total where ModelDeploymentName = 'nobody' default 0", WIN
        )
        == 0.0
    )
    env.fake.fail_metric("AzureOpenAIRequests")
    with pytest.raises(ProviderError):  # a failure is never turned into the default
        env.source.query(
            "AzureOpenAIRequests:total where ModelDeploymentName = 'nobody' default 0", WIN
        )


def test_average_is_weighted_by_count_across_series() -> None:
    e = Env()
    e.fake.add(
        "AzureOpenAITimeToResponse", T0, 100.0, n=9, ModelDeploymentName="canary", StatusCode="200"
    )
    e.fake.add(
        "AzureOpenAITimeToResponse",
        T0 + timedelta(minutes=3),
        1000.0,
        n=1,
        ModelDeploymentName="canary",
        StatusCode="500",
    )
    q = (
        "AzureOpenAITimeToResponse:average where ModelDeploymentName = 'canary' "
        "and StatusCode = '*'"
    )
    assert e.source.query(q, WIN) == pytest.approx(190.0)  # (9*100 + 1000) / 10, not (100+1000)/2
    assert e.fake.params["aggregation"] == "average,count"
    assert e.source.query(q.replace(":average", ":maximum"), WIN) == 1000.0
    assert e.source.query(q.replace(":average", ":minimum"), WIN) == 100.0


def test_error_inside_a_200_is_a_provider_error(env: Env) -> None:
    env.fake.fail_metric(
        "AzureOpenAIRequests", "InvalidSamplingType", "Sampling type is not found."
    )
    with pytest.raises(
        ProviderError, match=r"InvalidSamplingType: Sampling type is not found\..*request id 0000"
    ):
        env.source.query(EVENTS, WIN)


def test_throttled_then_success_honours_retry_after(env: Env) -> None:
    env.fake.throttle(times=2, retry_after="7")
    assert env.source.query(EVENTS, WIN) == 5.0
    assert env.slept == [7.0, 7.0]
    assert len(env.fake.requests) == 3


def test_throttled_forever_is_a_provider_error(env: Env) -> None:
    env.fake.throttle(times=10, retry_after="1")
    with pytest.raises(ProviderError, match="429 TooManyRequests"):
        env.source.query(EVENTS, WIN)
    assert len(env.slept) == 4  # five attempts in all


def test_4xx_error_body_gives_code_message_and_request_id(env: Env) -> None:
    with pytest.raises(ProviderError) as info:
        env.source.query("NoSuchMetric:total", WIN)
    msg = str(info.value)
    assert (
        "HTTP 400 BadRequest" in msg
        and "Failed to find metric configuration" in msg
        and "request id 0000" in msg
    )
    assert env.slept == []  # a 400 is not retried


def test_unknown_dimension_is_a_clear_error(env: Env) -> None:
    with pytest.raises(ProviderError, match="does not support requested dimension"):
        env.source.query("AzureOpenAITTLTInMS:average where StatusCode = '500'", WIN)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b'{"value": [{"name": {"value": "AzureOpenAIRequests"}, "timeseries": ["x", 1]}]}',
        b'{"value": 3}',
        b'{"nothing": []}',
        b'{"value": [{"name": {"value": "AzureOpenAIRequests"}, "errorCode": "Success", '
        b'"timeseries": [{"data": [{"timeStamp": "x", "total": "lots"}]}]}]}',
    ],
)
def test_garbage_response_is_a_provider_error(env: Env, body: bytes) -> None:
    env.fake.respond_next(httpx.Response(200, content=body))
    with pytest.raises(ProviderError):
        env.source.query("AzureOpenAIRequests:total", WIN)


def test_answer_missing_the_metric_is_an_error(env: Env) -> None:
    env.fake.respond_next(httpx.Response(200, json={"timespan": "x", "value": []}))
    with pytest.raises(ProviderError, match="no metric named"):
        env.source.query("AzureOpenAIRequests:total", WIN)


def test_credential_failure_is_a_provider_error() -> None:
    e = Env()
    e.cred.error = RuntimeError("DefaultAzureCredential failed to retrieve a token")
    with pytest.raises(ProviderError, match="Azure credentials"):
        e.source.query("AzureOpenAIRequests:total", WIN)
    assert e.fake.requests == []


def test_interval_lag_namespace_and_top_options() -> None:
    e = Env(
        interval="PT5M", lag="2m", metric_namespace="Microsoft.CognitiveServices/accounts", top=7
    )
    e.fake.add_requests("canary", 200, 4, T0 - timedelta(minutes=1))
    assert (
        e.source.query("AzureOpenAIRequests:total where ModelDeploymentName = 'canary'", WIN) == 4
    )
    p = e.fake.params
    assert p["interval"] == "PT5M" and p["top"] == "7"
    assert p["metricnamespace"] == "Microsoft.CognitiveServices/accounts"
    # lag 2m: [23:58, 00:08), floored to the 5-minute grid
    assert p["timespan"] == "2025-12-31T23:55:00Z/2026-01-01T00:05:00Z"


def test_consecutive_unaligned_windows_never_count_a_bucket_twice() -> None:
    e = Env()
    for second in range(0, 600, 10):
        e.fake.add_requests("canary", 200, 1, T0 + timedelta(seconds=second))
    q = "AzureOpenAIRequests:total where ModelDeploymentName = 'canary'"
    edges = [T0 + timedelta(seconds=s) for s in (0, 95, 130, 361, 600)]
    counts = [e.source.query(q, Window(a, b)) for a, b in pairwise(edges)]
    stamps = [r.url.params["timespan"] for r in e.fake.requests]
    assert stamps == [
        "2026-01-01T00:00:00Z/2026-01-01T00:01:00Z",
        "2026-01-01T00:01:00Z/2026-01-01T00:02:00Z",
        "2026-01-01T00:02:00Z/2026-01-01T00:06:00Z",
        "2026-01-01T00:06:00Z/2026-01-01T00:10:00Z",
    ]
    assert counts == [6, 6, 24, 24]  # every request once: 60 in all
    with pytest.raises(NoData, match="shorter than the metrics interval"):
        e.source.query(q, Window(T0 + timedelta(seconds=5), T0 + timedelta(seconds=50)))


def test_top_limits_split_series() -> None:
    e = Env(top=2)
    for code, n in (("500", 5), ("502", 3), ("503", 1)):
        e.fake.add_requests("canary", code, n, T0)
    # Azure keeps only `top` series: the plan's `top` must be large enough for the split
    assert e.source.query("AzureOpenAIRequests:total where StatusCode = '5*'", WIN) == 8


def test_check_makes_a_cheap_call(env: Env) -> None:
    env.source.check()
    assert env.fake.params["timespan"] == "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z"
    env.fake.fail_metric("AzureOpenAIRequests", "Unauthorized", "no access")
    with pytest.raises(ProviderError, match="no access"):
        env.source.check()


def test_sovereign_endpoint_sets_host_and_scope() -> None:
    e = Env(endpoint="https://management.usgovcloudapi.net/")
    e.fake.add_requests("canary", 200, 1, T0)
    assert e.source.query("AzureOpenAIRequests:total", WIN) == 1
    assert e.fake.requests[-1].url.host == "management.usgovcloudapi.net"
    assert e.cred.scopes == ["https://management.usgovcloudapi.net/.default"]


# --- query syntax ----------------------------------------------------------------------------


def test_parse_query_forms() -> None:
    assert parse_query(EVENTS) == Query(
        "AzureOpenAIRequests",
        "total",
        (Cond("ModelDeploymentName", ("canary",)), Cond("StatusCode", ("5*", "429"))),
    )
    assert parse_query(
        "GeneratedTokens:sum where ModelDeploymentName eq 'o''brien' default 0"
    ) == Query("GeneratedTokens", "total", (Cond("ModelDeploymentName", ("o'brien",)),), 0.0)
    assert parse_query("'Percentage CPU':avg") == Query("Percentage CPU", "average")
    assert Query("M", "total", (Cond("D", ("o'b",)),)).odata_filter() == "D eq 'o''b'"


@pytest.mark.parametrize(
    "bad",
    [
        "AzureOpenAIRequests",
        "AzureOpenAIRequests:median",
        "M:total where D = canary",
        "M:total where D in ()",
        "M:total where D = 'a' or E = 'b'",
        "M:total default x",
        "M:total extra",
    ],
)
def test_parse_query_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput, match="azure-monitor query"):
        parse_query(bad)


def test_bad_query_at_runtime_is_a_provider_error(env: Env) -> None:
    with pytest.raises(ProviderError, match="azure-monitor query"):
        env.source.query("AzureOpenAIRequests", WIN)
    assert env.fake.requests == []


def test_combine_no_points_is_no_data() -> None:
    with pytest.raises(NoData):
        combine([{"metadatavalues": [], "data": [{"timeStamp": "2026-01-01T00:00:00Z"}]}], "total")
    with pytest.raises(NoData):
        combine([], "average")


@pytest.mark.parametrize("rid", ["acct", "/subscriptions/x/resourceGroups/rg"])
def test_config_rejects_a_non_arm_id(rid: str) -> None:
    from pydantic import ValidationError

    from rollout.metrics.azure_monitor import Config

    with pytest.raises(ValidationError, match="ARM id"):
        Config(resource_id=rid)
    with pytest.raises(ValidationError):
        Config(resource_id=RID, interval="1m")
    with pytest.raises(ValidationError):
        Config(resource_id=RID, colour="red")  # type: ignore[call-arg]


def test_the_azure_example_plans_gates_read_the_fake() -> None:
    """examples/azure/plan.yaml, rendered per variant, gives each deployment its own numbers."""
    from rollout.loading import load
    from rollout.metrics.render import render_query

    spec = load(Path(__file__).parents[2] / "examples" / "azure" / "plan.yaml", env={}).spec
    e = Env(**spec.metrics.options())
    fake = e.fake
    start = T0 - timedelta(minutes=3)  # the plan's lag: 3m
    for minute in range(5):
        fake.add_requests("gpt4o-support", 200, 100, start + timedelta(minutes=minute))
        fake.add_requests("gpt41-support", 200, 10, start + timedelta(minutes=minute))
        fake.add(
            "AzureOpenAITimeToResponse",
            start + timedelta(minutes=minute),
            800.0,
            n=10,
            ModelDeploymentName="gpt41-support",
            StatusCode="200",
        )
    fake.add_requests("gpt41-support", 503, 2, start)
    fake.add_requests("gpt41-support", 429, 1, start + timedelta(minutes=4))
    window = Window(T0, T0 + timedelta(minutes=5))
    got: dict[tuple[str, str, str], float | None] = {}
    for gate in spec.gates:
        for role, template in gate.queries().items():
            for variant in ("baseline", "candidate"):
                v = getattr(spec.variants, variant)
                q = render_query(
                    template,
                    variant=variant,
                    target=v.target,
                    window=window,
                    model=v.model,
                    model_version=v.model_version,
                    stage="pilot",
                    interval=300,
                )
                try:
                    got[gate.name, role, variant] = e.source.query(q, window)
                except NoData:
                    got[gate.name, role, variant] = None
    assert got == {
        ("error-rate", "events", "baseline"): 0.0,
        ("error-rate", "total", "baseline"): 500.0,
        ("error-rate", "events", "candidate"): 3.0,
        ("error-rate", "total", "candidate"): 53.0,
        ("time-to-response", "query", "baseline"): None,
        ("time-to-response", "query", "candidate"): 800.0,
    }


def test_parse_error_says_what_was_expected() -> None:
    with pytest.raises(InvalidInput, match=r"expected a 'quoted' value, got 'canary'"):
        parse_query("AzureOpenAIRequests:total where ModelDeploymentName = canary")


def test_fake_credential_records_scopes_for_both_token_calls() -> None:
    cred = FakeCredential("t0k")
    assert cred.get_token("https://a/.default").token == "t0k"
    info = cred.get_token_info("https://b/.default")
    assert (info.token, info.token_type) == ("t0k", "Bearer")
    assert cred.scopes == ["https://a/.default", "https://b/.default"]
    with pytest.raises(ValueError, match="exactly one scope"):
        cred.get_token("https://a/.default", "https://b/.default")
