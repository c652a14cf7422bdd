"""Router litellm against the fake management API (tests/fakes/litellm_proxy.py); the real
proxy is in test_litellm_proxy.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout import fencing, registry
from rollout.errors import Fenced, ProviderError
from rollout.records import Weights
from rollout.testing.routers import Harness, RouterConformance
from tests.fakes.litellm_proxy import MASTER_KEY, FakeLiteLLM

GROUP = "support-bot"
VARIANTS = {"baseline": {"target": "gpt4o-support"}, "candidate": {"target": "gpt41-support"}}


def proxy(**kw: Any) -> FakeLiteLLM:
    fake = FakeLiteLLM(**kw)
    fake.add(GROUP, "gpt4o-support", 100)
    fake.add(GROUP, "gpt41-support", 0)
    fake.add("other-group", "embedder", 1)
    return fake


def make(fake: FakeLiteLLM, monkeypatch: pytest.MonkeyPatch, **opts: Any) -> Any:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants=VARIANTS,
        plan_name="support-bot",
        extra={"http_transport": httpx.MockTransport(fake.handler), "sleep": lambda s: None},
    )
    spec = {
        "type": "litellm",
        "url": "http://127.0.0.1:4000",
        "model_group": GROUP,
        "api_key_env": "LITELLM_MASTER_KEY",
        **opts,
    }
    return registry.build("router", spec, ctx)


class TestLiteLLMConformance(RouterConformance):
    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch) -> Harness:
        fake = proxy()
        router = make(fake, monkeypatch)

        def serve(n: int) -> dict[str, int]:
            counts = fake.route(GROUP, n, seed=n)
            return {"baseline": counts["gpt4o-support"], "candidate": counts["gpt41-support"]}

        return Harness(
            router=router,
            fail=lambda: setattr(fake, "down", 503),
            recover=lambda: setattr(fake, "down", None),
            mentions="http://127.0.0.1:4000",
            serve=serve,
        )


def test_set_weights_patches_both_members_lowering_first(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = proxy()
    router = make(fake, monkeypatch)
    router.set_weights(Weights.of(25))
    patches = [(p, b) for m, p, b in fake.calls if m == "PATCH"]
    assert patches == [
        ("/model/gpt4o-support/update", {"litellm_params": {"weight": 75}}),
        ("/model/gpt41-support/update", {"litellm_params": {"weight": 25}}),
    ]
    router.set_weights(Weights.all_baseline())  # a rollback: the candidate falls first
    patches = [p for m, p, _ in fake.calls if m == "PATCH"][2:]
    assert patches == ["/model/gpt41-support/update", "/model/gpt4o-support/update"]
    assert router.get_weights() == Weights.all_baseline()


def test_served_counts_requests_per_deployment_from_prometheus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = proxy()
    router = make(fake, monkeypatch)
    router.set_weights(Weights.of(25))
    assert router.served() is None  # nothing served yet
    fake.route(GROUP, 4000, seed=1)
    got = router.served()
    assert got is not None and abs(got.candidate - 25) <= 3
    fake.cooled_down.add("gpt41-support")  # LiteLLM cooled the candidate down after failures
    fake.route(GROUP, 1000, seed=2)
    assert router.served() == Weights.all_baseline()  # the weights still say 25
    assert router.get_weights() == Weights.of(25)
    assert any("cooled down" in c for c in router.causes())


def test_a_strategy_that_ignores_weights_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    router = make(proxy(routing_strategy="latency-based-routing"), monkeypatch)
    with pytest.raises(ProviderError, match="routing_strategy is 'latency-based-routing'"):
        router.set_weights(Weights.of(5))


def test_other_members_that_take_traffic_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = proxy()
    fake.add(GROUP, "legacy", 5)
    with pytest.raises(ProviderError, match="outside the plan that take traffic: legacy"):
        make(fake, monkeypatch).set_weights(Weights.of(5))


def test_one_weight_missing_is_order_dependent_and_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeLiteLLM()
    fake.add(GROUP, "gpt4o-support", None)
    fake.add(GROUP, "gpt41-support", 10)
    with pytest.raises(ProviderError, match="only one member has a weight"):
        make(fake, monkeypatch).get_weights()
    # Indeed: LiteLLM looks at the first deployment only, so this serves 50/50.
    counts = fake.route(GROUP, 4000)
    assert abs(counts["gpt41-support"] / 4000 - 0.5) < 0.04


def test_a_proxy_without_a_database_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    router = make(proxy(database=False), monkeypatch)
    with pytest.raises(ProviderError) as err:
        router.set_weights(Weights.of(5))
    msg = str(err.value)
    assert "HTTP 500: DB not connected" in msg and "STORE_MODEL_IN_DB=True" in msg


def test_a_config_file_model_is_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeLiteLLM()
    fake.add(GROUP, "gpt4o-support", 100, db_model=False)
    fake.add(GROUP, "gpt41-support", 0, db_model=False)
    with pytest.raises(ProviderError, match=r"Cannot edit config-based model.*add it with"):
        make(fake, monkeypatch).set_weights(Weights.of(5))


def test_unknown_group_and_member_name_what_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderError, match=r"no such model group \(the proxy has: other-group"):
        make(proxy(), monkeypatch, model_group="nope").get_weights()
    with pytest.raises(ProviderError, match="no deployment 'x' for variant candidate"):
        make(proxy(), monkeypatch, members={"candidate": "x"}).get_weights()


def test_wrong_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    router = make(proxy(), monkeypatch)
    router.headers["Authorization"] = "Bearer wrong"
    with pytest.raises(ProviderError, match="HTTP 401: Authentication Error"):
        router.get_weights()


def test_missing_key_env_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    ctx = registry.BuildContext(plan_dir=Path("."), variants=VARIANTS, plan_name="p", extra={})
    spec = {
        "type": "litellm",
        "url": "http://h",
        "model_group": GROUP,
        "api_key_env": "NO_SUCH_KEY",
    }
    with pytest.raises(ProviderError, match="NO_SUCH_KEY"):
        registry.build("router", spec, ctx)


def test_every_patch_attempt_is_fenced(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = proxy()
    router = make(fake, monkeypatch)
    seen: list[int] = []

    def fence() -> None:
        seen.append(1)
        if len(seen) == 2:
            raise Fenced("aborted meanwhile")

    with fencing.fence(fence), pytest.raises(Fenced):
        router.set_weights(Weights.of(25))
    assert len(seen) == 2  # before each of the two PATCHes; the second was never sent
    assert (fake.weight("gpt4o-support"), fake.weight("gpt41-support")) == (75, 0)
