from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.log_analytics import describe_error
from rollout.registry import BuildContext, build
from tests.fakes.credential import FakeCredential
from tests.fakes.log_analytics import FakeLogAnalytics, partial_error

WS = "63613592-b6f7-4c3d-a390-22ba13102111"
T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
WIN = Window(T0, T0 + timedelta(minutes=5))
Q = 'AppRequests | where Properties.variant == "{v}" | summarize count()'


class Env:
    def __init__(self, fake: FakeLogAnalytics | None = None, **options: Any) -> None:
        self.fake = fake or FakeLogAnalytics(WS)
        self.cred = FakeCredential()
        self.slept: list[float] = []
        ctx = BuildContext(
            plan_dir=Path("."),
            variants={},
            plan_name="p",
            extra={
                "azure_credential": self.cred,
                "http_transport": httpx.MockTransport(self.fake),
                "sleep": self.slept.append,
            },
        )
        self.source = build(
            "metrics", {"type": "log-analytics", "workspace_id": WS, **options}, ctx
        )


@pytest.fixture
def env() -> Env:
    e = Env()
    e.fake.on('"candidate"', [("count_", "long")], [[42]])
    e.fake.on('"baseline"', [("count_", "long")], [[958]])
    return e


def test_post_shape_body_timespan_and_scope(env: Env) -> None:
    assert env.source.query(Q.format(v="candidate"), WIN) == 42.0
    req = env.fake.requests[-1]
    assert req.method == "POST"
    assert str(req.url) == f"https://api.loganalytics.io/v1/workspaces/{WS}/query"
    assert req.headers["authorization"] == "Bearer fake-token"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["prefer"] == "wait=60"
    assert json.loads(req.content) == {
        "query": Q.format(v="candidate"),
        "timespan": "2026-01-01T00:00:00Z/2026-01-01T00:05:00Z",
    }
    assert env.cred.scopes == ["https://api.loganalytics.io/.default"]
    assert env.source.query(Q.format(v="baseline"), WIN) == 958.0


def test_cells_sent_as_strings_are_coerced_by_type() -> None:
    e = Env(FakeLogAnalytics(WS, cells_as_strings=True))
    e.fake.on("x", [("rate", "real")], [[1.286]])
    assert e.source.query("x", WIN) == pytest.approx(1.286)
    assert e.fake.bodies[-1]["query"] == "x"


def test_named_column_chosen_by_config() -> None:
    e = Env(column="errors")
    e.fake.on(
        "x", [("variant", "string"), ("errors", "long"), ("total", "long")], [["candidate", 3, 120]]
    )
    assert e.source.query("x", WIN) == 3.0
    e2 = Env(e.fake, column="missing")
    with pytest.raises(ProviderError, match=r"no column 'missing'; it has variant, errors, total"):
        e2.source.query("x", WIN)


def test_several_columns_without_config_is_an_error(env: Env) -> None:
    env.fake.on("two", [("a", "long"), ("b", "long")], [[1, 2]])
    with pytest.raises(ProviderError, match=r"2 columns \(a, b\).*column:"):
        env.source.query("two", WIN)


def test_no_rows_null_and_nan_are_no_data(env: Env) -> None:
    env.fake.on("none", [("count_", "long")], [])
    env.fake.on("null", [("avg_", "real")], [[None]])
    env.fake.on("nan", [("avg_", "real")], [["NaN"]])
    for q in ("none", "null", "nan"):
        with pytest.raises(NoData):
            env.source.query(q, WIN)


def test_several_rows_or_non_numeric_is_an_error(env: Env) -> None:
    env.fake.on("rows", [("count_", "long")], [[1], [2]])
    env.fake.on("text", [("v", "string")], [["12"]])
    env.fake.on("flag", [("ok", "bool")], [[True]])
    with pytest.raises(ProviderError, match="2 rows; summarize"):
        env.source.query("rows", WIN)
    with pytest.raises(ProviderError, match="is string, not a number"):
        env.source.query("text", WIN)
    with pytest.raises(ProviderError, match="is bool"):
        env.source.query("flag", WIN)


def test_partial_error_fails_by_default(env: Env) -> None:
    env.fake.on("big", [("count_", "long")], [[7]], error=partial_error("record count limit"))
    with pytest.raises(
        ProviderError, match=r"partial results: PartialError.*record count limit.*allow_partial"
    ):
        env.source.query("big", WIN)


def test_partial_error_allowed_uses_data_and_warns(capsys: pytest.CaptureFixture[str]) -> None:
    e = Env(allow_partial=True)
    e.fake.on("big", [("count_", "long")], [[7]], error=partial_error("record count limit"))
    assert e.source.query("big", WIN) == 7.0
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "record count limit" in err


def test_throttled_then_success_honours_retry_after(env: Env) -> None:
    env.fake.throttle(times=1, retry_after="3")
    assert env.source.query(Q.format(v="candidate"), WIN) == 42.0
    assert env.slept == [3.0]
    assert len(env.fake.requests) == 2
    assert env.fake.bodies[0] == env.fake.bodies[1]  # the same request again


def test_kql_error_is_a_provider_error_with_the_cause(env: Env) -> None:
    with pytest.raises(ProviderError) as info:
        env.source.query("NoSuchTable | count", WIN)
    msg = str(info.value)
    assert "HTTP 400 BadArgumentError" in msg and "request id la-0001" in msg
    assert "Failed to resolve table or column expression" in msg  # the cause, from innererror
    assert env.slept == []


def test_400_without_an_error_body_is_still_clear(env: Env) -> None:
    env.fake.respond_next(httpx.Response(400, content=b"Bad Request"))
    with pytest.raises(ProviderError, match="HTTP 400 Unknown: Bad Request"):
        env.source.query("x", WIN)


def test_unknown_workspace_and_bad_auth() -> None:
    e = Env(FakeLogAnalytics("other-workspace"))
    with pytest.raises(ProviderError, match="404 WorkspaceNotFoundError"):
        e.source.query("print x = 1", WIN)
    e2 = Env(FakeLogAnalytics(WS, token="another-token"))
    with pytest.raises(ProviderError, match="401 AuthorizationRequiredError"):
        e2.source.query("print x = 1", WIN)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"tables": []}',
        b'{"tables": [{"name": "PrimaryResult"}]}',
        b'{"tables": [{"name": "PrimaryResult", "columns": [{"name": "c", "type": "long"}], '
        b'"rows": [["many"]]}]}',
    ],
)
def test_garbage_response_is_a_provider_error(env: Env, body: bytes) -> None:
    env.fake.respond_next(httpx.Response(200, content=body))
    with pytest.raises(ProviderError):
        env.source.query("print x = 1", WIN)


def test_error_only_200_is_a_provider_error(env: Env) -> None:
    env.fake.respond_next(
        httpx.Response(
            200,
            json={
                "error": {
                    "code": "BadArgumentError",
                    "message": "bad",
                    "innererror": {"code": "SyntaxError", "message": "line 1"},
                }
            },
        )
    )
    with pytest.raises(ProviderError, match=r"query failed: BadArgumentError: bad \(line 1\)"):
        env.source.query("print x = 1", WIN)


def test_check_runs_a_print_query(env: Env) -> None:
    env.source.check()
    assert env.fake.bodies[-1] == {"query": "print ok = 1", "timespan": "PT5M"}
    bad = Env(FakeLogAnalytics(WS, token="nope"))
    with pytest.raises(ProviderError, match="401"):
        bad.source.check()


def test_sovereign_endpoint_sets_host_and_scope() -> None:
    e = Env(
        FakeLogAnalytics(WS, host="api.loganalytics.us"), endpoint="https://api.loganalytics.us/"
    )
    assert e.source.query("print n = 2.5", WIN) == 2.5
    assert e.fake.requests[-1].url.host == "api.loganalytics.us"
    assert e.cred.scopes == ["https://api.loganalytics.us/.default"]


def test_describe_error_reads_details_and_inner_errors() -> None:
    text = describe_error(partial_error("limit hit"))
    assert text.startswith("PartialError: There were some errors")
    assert "Something went wrong processing your query on the server. (limit hit)" in text
    assert describe_error("plain") == "plain"


def test_config_rejects_an_arm_id_and_unknown_keys() -> None:
    from pydantic import ValidationError

    from rollout.metrics.log_analytics import Config

    with pytest.raises(ValidationError, match="workspace id"):
        Config(
            workspace_id="/subscriptions/x/resourceGroups/rg/providers/"
            "Microsoft.OperationalInsights/workspaces/w"
        )
    with pytest.raises(ValidationError):
        Config(workspace_id=WS, colunm="x")  # type: ignore[call-arg]
