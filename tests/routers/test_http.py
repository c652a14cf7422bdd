from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from rollout import registry
from rollout.errors import InvalidInput, ProviderError
from rollout.records import Weights
from rollout.routers.http import Config, HttpRouter, lookup
from rollout.testing.routers import Harness, RouterConformance

BASE = "https://gateway.test"
ROUTE_URL = BASE + "/api/routes/support-bot"


@pytest.fixture
def make(gateway: Any, http_spec: Any, context: Any, sleeps: list[float]) -> Any:
    """make(**overrides) -> an http router on the in-process gateway, sleeps recorded."""

    def _make(base: str = BASE, transport: Any = None, **overrides: Any) -> HttpRouter:
        ctx = context(http_transport=transport or gateway.transport, sleep=sleeps.append)
        router = registry.build("router", http_spec(base, **overrides), ctx)
        assert isinstance(router, HttpRouter)
        return router

    return _make


def _set(gw: Any, status: int | None) -> None:
    gw.status = status


class TestHttpConformance(RouterConformance):
    @pytest.fixture
    def harness(self, make: Any, gateway: Any) -> Harness:
        return Harness(
            router=make(),
            fail=lambda: _set(gateway, 500),
            recover=lambda: _set(gateway, None),
            mentions=ROUTE_URL,
        )


@pytest.mark.slow
class TestHttpRealServerConformance(RouterConformance):
    """The same suite over real sockets: a gateway on 127.0.0.1 that stores the weights."""

    @pytest.fixture
    def harness(self, real_gateway: Any, http_spec: Any, context: Any) -> Harness:
        gw, base = real_gateway
        router = registry.build("router", http_spec(base), context(sleep=lambda s: None))
        return Harness(
            router=router,
            fail=lambda: _set(gw, 503),
            recover=lambda: _set(gw, None),
            mentions=base + "/api/routes/support-bot",
        )


@pytest.mark.slow
def test_real_server_stores_the_rendered_body(
    real_gateway: Any, http_spec: Any, context: Any
) -> None:
    gw, base = real_gateway
    router = registry.build("router", http_spec(base), context())
    router.set_weights(Weights.of(25))
    assert gw.weights == {"primary": 75, "canary": 25}
    assert router.get_weights() == Weights.of(25)


def test_body_headers_and_method(make: Any, gateway: Any) -> None:
    make().set_weights(Weights.of(5))
    method, path, headers, body = gateway.requests[-1]
    assert (method, path) == ("PUT", "/api/routes/support-bot")
    assert json.loads(body) == {"primary": 95, "canary": 5, "backend": "gpt41-support"}
    assert (
        headers["authorization"] == "Bearer s3cret-token-value"
    )  # ${GW_TOKEN} from the environment
    assert headers["content-type"] == "application/json"


def test_flat_names_and_post(make: Any, gateway: Any, http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["set"] |= {
        "method": "POST",
        "body": '{"primary": {{ baseline }}, "canary": {{ candidate }}, "r": "{{ rollout }}"}',
    }
    router = make(**{"set": spec["set"]})
    router.set_weights(Weights.of(50))
    method, _, _, body = gateway.requests[-1]
    assert method == "POST"
    assert json.loads(body) == {"primary": 50, "canary": 50, "r": "support-bot"}


def test_missing_env_var_names_it_and_sends_nothing(
    make: Any, gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = make()
    monkeypatch.delenv("GW_TOKEN")
    with pytest.raises(ProviderError, match="environment variable GW_TOKEN, which is not set"):
        router.set_weights(Weights.of(5))
    assert gateway.requests == []


def test_literal_secret_in_a_header_is_refused(http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["set"]["headers"] = {"Authorization": "Bearer abc123"}
    spec.pop("type")
    with pytest.raises(ValidationError, match="from the environment"):
        Config.model_validate(spec)
    spec["set"]["headers"] = {"X-Api-Key": "${KEY}", "X-Team": "llm"}  # env, and a harmless literal
    assert Config.model_validate(spec).set_.headers["X-Team"] == "llm"


def test_bad_template_fails_at_build(make: Any, http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["set"]["body"] = '{"w": {{ wieghts.candidate }}}'
    with pytest.raises(InvalidInput, match="wieghts"):
        make(**{"set": spec["set"]})
    spec["set"]["body"] = '{"w": {{ weights.candidate }'
    with pytest.raises(InvalidInput, match=r"set\.body template"):
        make(**{"set": spec["set"]})


def test_sandbox_blocks_unsafe_templates(make: Any, http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["set"]["body"] = "{{ weights.__class__.__mro__ }}"
    with pytest.raises(InvalidInput):
        make(**{"set": spec["set"]})


def test_throttled_call_honours_retry_after(make: Any, gateway: Any, sleeps: list[float]) -> None:
    gateway.script = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "2"})]
    make().set_weights(Weights.of(25))
    assert sleeps == [7.0, 2.0]
    assert gateway.weights == {"primary": 75, "canary": 25}
    assert len(gateway.requests) == 3


def test_persistent_5xx_gives_up_after_retries(
    make: Any, gateway: Any, sleeps: list[float]
) -> None:
    gateway.status = 502
    with pytest.raises(
        ProviderError, match=r"PUT https://gateway.test/api/routes/support-bot: HTTP 502"
    ):
        make(retries=3).set_weights(Weights.of(25))
    assert len(gateway.requests) == 4 and len(sleeps) == 3


def test_client_error_is_not_retried_and_is_redacted(
    make: Any, gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TOKEN", "wrong")
    gateway.script = [(403, {})]
    with pytest.raises(ProviderError, match="HTTP 403") as err:
        make().set_weights(Weights.of(5))
    assert len(gateway.requests) == 1
    assert "wrong" not in str(err.value)


def test_transport_error_becomes_provider_error(make: Any, sleeps: list[float]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ProviderError, match=r"ConnectError.*after 3 attempts"):
        make(transport=httpx.MockTransport(refuse)).get_weights()
    assert len(sleeps) == 2


def test_weights_path_with_only_the_candidate(make: Any, gateway: Any, http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["get"]["weights_path"] = {"candidate": "data.weights.canary"}
    router = make(get=spec["get"])
    gateway.weights = {"primary": 0, "canary": 30}  # baseline is derived, not read
    assert router.get_weights() == Weights.of(30)


@pytest.mark.parametrize(
    ("reply", "expect"),
    [
        ({"data": {}}, "no 'data.weights.primary' in the reply"),
        ({"data": {"weights": {"primary": 90, "canary": 20}}}, "do not sum to 100"),
        ({"data": {"weights": {"primary": 94.5, "canary": 5.5}}}, "whole percent"),
        ({"data": {"weights": {"primary": "lots", "canary": 0}}}, "not a weight"),
    ],
)
def test_unusable_replies(make: Any, reply: Any, expect: str) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=reply)

    with pytest.raises(ProviderError, match=expect):
        make(transport=httpx.MockTransport(serve)).get_weights()


def test_non_json_reply(make: Any) -> None:
    router = make(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>login</html>"))
    )
    with pytest.raises(ProviderError, match="not JSON: <html>login</html>"):
        router.get_weights()


def test_weights_as_numeric_strings(make: Any) -> None:
    reply = {"data": {"weights": {"primary": "75", "canary": 25.0}}}
    router = make(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=reply)))
    assert router.get_weights() == Weights.of(25)


def test_lookup() -> None:
    data = {"routes": [{"weight": 80}, {"weight": 20}], "a": {"b.c": 1}}
    assert lookup(data, "routes.1.weight") == 20
    assert lookup(data, "routes.-1.weight") == 20
    with pytest.raises(KeyError):
        lookup(data, "routes.2.weight")
    with pytest.raises(KeyError):
        lookup(data, "a.b")


def test_timeout_takes_a_duration(http_spec: Any) -> None:
    spec = http_spec(BASE, timeout="15s")
    spec.pop("type")
    assert Config.model_validate(spec).timeout == 15
    with pytest.raises(ValidationError):
        Config.model_validate({**spec, "timeout": 0})


@pytest.mark.slow  # starts a process
def test_importing_the_module_loads_no_http_or_template_library() -> None:
    code = (
        "import sys, rollout.routers.http;"
        " print(sorted(m for m in ('httpx', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_template_error_in_an_untried_branch(make: Any, gateway: Any, http_spec: Any) -> None:
    spec = http_spec(BASE)
    spec["set"]["body"] = "{% if candidate %}{{ nope }}{% else %}{}{% endif %}"
    router = make(**{"set": spec["set"]})  # the trial render at 0 % does not reach `nope`
    with pytest.raises(InvalidInput, match="nope"):
        router.set_weights(Weights.of(5))
    assert gateway.requests == []


PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: support-bot
variants:
  baseline:  {model: gpt-4o, target: gpt4o-support}
  candidate: {model: gpt-4.1, target: gpt41-support}
router:
  type: http
  set:
    url: https://gateway.test/api/routes/support-bot
    headers: {Authorization: "Bearer ${GW_TOKEN}"}
    body: '{% raw %}{"primary": {{ weights.baseline }}, "canary": {{ candidate }}}{% endraw %}'
  get:
    url: https://gateway.test/api/routes/support-bot
    headers: {Authorization: "Bearer ${GW_TOKEN}"}
    weights_path: {candidate: data.weights.canary}
  timeout: 5s
metrics: {type: simulated}
stages:
  - {name: full, weight: 100}
"""


def test_a_plan_with_the_documented_body_loads_and_routes(
    tmp_path: Any, gateway: Any, sleeps: list[float]
) -> None:
    from rollout.loading import load

    (tmp_path / "plan.yaml").write_text(PLAN)
    loaded = load(tmp_path / "plan.yaml", env={})
    ctx = registry.BuildContext(
        plan_dir=tmp_path,
        variants=loaded.plan.spec.variants.model_dump(),
        plan_name=loaded.plan.name,
        extra={"http_transport": gateway.transport, "sleep": sleeps.append},
    )
    router = registry.build("router", {"type": "http", **loaded.spec.router.options()}, ctx)
    router.set_weights(Weights.of(25))
    assert gateway.weights == {"primary": 75, "canary": 25}
    assert router.get_weights() == Weights.of(25)
    assert "${GW_TOKEN}" in loaded.plan.spec.model_dump_json(), (
        "the plan keeps the reference, never the token"
    )
    assert "s3cret" not in loaded.plan.spec.model_dump_json()
