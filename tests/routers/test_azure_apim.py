"""Router azure-apim against the fake ARM (tests/fakes/arm.py) through AzureClient + httpx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout import registry
from rollout.errors import ProviderError
from rollout.records import Weights
from rollout.testing.routers import Harness, RouterConformance
from tests.fakes.arm import APIM_API, FakeArm, FakeCredential

SVC, POOL = "apim-llm", "aoai-pool"
VARIANTS = {
    "baseline": {"model": "gpt-4o", "target": "aoai-gpt4o"},
    "candidate": {"model": "gpt-4.1", "target": "aoai-gpt41"},
}


def make(
    arm: FakeArm | None = None, sleeps: list[float] | None = None, **opts: Any
) -> tuple[Any, FakeArm, FakeCredential]:
    if arm is None:
        arm = FakeArm()
        arm.add_backend(SVC, "aoai-gpt4o", "https://a.openai.azure.com/openai")
        arm.add_backend(SVC, "aoai-gpt41", "https://b.openai.azure.com/openai")
        arm.add_pool(SVC, POOL, {"aoai-gpt4o": 100, "aoai-gpt41": 0})
    cred = FakeCredential()
    slept = sleeps if sleeps is not None else []
    ctx = registry.BuildContext(
        plan_dir=Path("."),
        variants=VARIANTS,
        plan_name="support-bot",
        extra={
            "azure_credential": cred,
            "http_transport": httpx.MockTransport(arm.httpx_handler),
            "sleep": slept.append,
        },
    )
    spec = {
        "type": "azure-apim",
        "subscription_id": arm.subscription,
        "resource_group": arm.resource_group,
        "service": SVC,
        "pool": POOL,
        **opts,
    }
    return registry.build("router", spec, ctx), arm, cred


class TestApimConformance(RouterConformance):
    @pytest.fixture
    def harness(self) -> Harness:
        router, arm, _ = make()

        def serve(n: int) -> dict[str, int]:  # the gateway's routing (priorities, breakers)
            counts = arm.route(SVC, POOL, n, seed=n)
            return {"baseline": counts["aoai-gpt4o"], "candidate": counts["aoai-gpt41"]}

        return Harness(
            router=router,
            fail=lambda: setattr(arm, "down", 503),
            recover=lambda: setattr(arm, "down", None),
            mentions=f"{SVC}/{POOL}",
            serve=serve,
        )


def test_set_weights_puts_the_whole_pool_with_if_match_and_reads_back_percent() -> None:
    router, arm, cred = make()
    router.set_weights(Weights.of(10))
    puts = [c for c in arm.calls if c.method == "PUT"]
    assert len(puts) == 1
    put = puts[0]
    assert put.query == {"api-version": APIM_API}
    assert put.headers["if-match"] == '"1"'  # the ETag of the GET before it
    assert put.body["properties"]["type"] == "Pool"
    assert put.body["properties"]["description"] == "LLM pool"  # the rest of the contract kept
    assert [
        (s["id"].rsplit("/", 1)[1], s["weight"], s["priority"])
        for s in put.body["properties"]["pool"]["services"]
    ] == [("aoai-gpt4o", 90, 1), ("aoai-gpt41", 10, 1)]
    assert router.get_weights() == Weights.of(10)
    assert set(cred.scopes) == {("https://management.azure.com/.default",)}


def test_relative_weights_convert_to_percent() -> None:
    router, arm, _ = make()
    svcs = arm.backends[arm.backend_id(SVC, POOL)]["properties"]["pool"]["services"]
    svcs[0]["weight"], svcs[1]["weight"] = 3, 1  # APIM weights need not sum to 100
    assert router.get_weights() == Weights.of(25)


def test_unchanged_weights_do_not_write() -> None:
    router, arm, _ = make()
    router.set_weights(Weights.of(5))
    router.set_weights(Weights.of(5))
    assert sum(c.method == "PUT" for c in arm.calls) == 1


def test_412_is_retried_with_a_fresh_etag() -> None:
    router, arm, _ = make()
    # Another tool edits the pool between our GET and our PUT, once.
    real = arm.handle
    edited = []

    def handle(method: str, url: str, headers: dict[str, str], raw: bytes | None) -> Any:
        if method == "PUT" and not edited:
            edited.append(1)
            arm.concurrent_edit(SVC, POOL)
        return real(method, url, headers, raw)

    arm.handle = handle  # type: ignore[method-assign]
    router.set_weights(Weights.of(25))
    puts = [c for c in arm.calls if c.method == "PUT"]
    assert [p.headers["if-match"] for p in puts] == ['"1"', '"2"']
    assert [c.method for c in arm.calls] == ["GET", "PUT", "GET", "PUT"]
    assert arm.pool_weights(SVC, POOL) == {"aoai-gpt4o": 75, "aoai-gpt41": 25}


def test_endless_412_gives_up_with_a_clear_message() -> None:
    router, arm, _ = make(conflict_retries=3)
    arm.inject(
        "PUT",
        "/backends/",
        412,
        {"error": {"code": "PreconditionFailed", "message": "etag"}},
        times=10,
    )
    with pytest.raises(ProviderError, match="412 3 times"):
        router.set_weights(Weights.of(25))
    assert sum(c.method == "PUT" for c in arm.calls) == 3


def test_throttled_put_succeeds_after_retry_after() -> None:
    sleeps: list[float] = []
    router, arm, _ = make(sleeps=sleeps)
    arm.inject(
        "PUT",
        "/backends/",
        429,
        {"error": {"code": "TooManyRequests", "message": "slow down"}},
        {"Retry-After": "7"},
    )
    router.set_weights(Weights.of(50))
    assert sleeps == [7.0]
    assert arm.pool_weights(SVC, POOL) == {"aoai-gpt4o": 50, "aoai-gpt41": 50}


def test_azure_error_carries_code_message_and_request_id() -> None:
    router, arm, _ = make()
    arm.inject(
        "PUT",
        "/backends/",
        400,
        {"error": {"code": "ValidationError", "message": "weight out of range"}},
    )
    with pytest.raises(ProviderError) as err:
        router.set_weights(Weights.of(50))
    msg = str(err.value)
    assert "ValidationError" in msg and "weight out of range" in msg and "request id req-" in msg


def test_unknown_target_names_the_members() -> None:
    arm = FakeArm()
    arm.add_backend(SVC, "aoai-gpt4o", "https://a")
    arm.add_backend(SVC, "other", "https://b")
    arm.add_pool(SVC, POOL, {"aoai-gpt4o": 100, "other": 0})
    router, _, _ = make(arm)
    with pytest.raises(
        ProviderError,
        match=r"no member 'aoai-gpt41' for variant candidate \(members: aoai-gpt4o, other\)",
    ):
        router.get_weights()


def test_members_option_overrides_targets() -> None:
    arm = FakeArm()
    for b in ("be-old", "be-new"):
        arm.add_backend(SVC, b, "https://x")
    arm.add_pool(SVC, POOL, {"be-old": 100, "be-new": 0})
    router, _, _ = make(arm, members={"baseline": "be-old", "candidate": "be-new"})
    router.set_weights(Weights.of(5))
    assert arm.pool_weights(SVC, POOL) == {"be-old": 95, "be-new": 5}


def test_foreign_member_with_weight_is_refused() -> None:
    arm = FakeArm()
    for b in ("aoai-gpt4o", "aoai-gpt41", "legacy"):
        arm.add_backend(SVC, b, "https://x")
    arm.add_pool(SVC, POOL, {"aoai-gpt4o": 80, "aoai-gpt41": 0, "legacy": 20})
    router, _, _ = make(arm)
    with pytest.raises(ProviderError, match="outside the plan with weight > 0: legacy"):
        router.set_weights(Weights.of(5))
    assert sum(c.method == "PUT" for c in arm.calls) == 0


def test_single_backend_is_not_a_pool() -> None:
    arm = FakeArm()
    arm.add_backend(SVC, POOL, "https://x")
    router, _, _ = make(arm)
    with pytest.raises(ProviderError, match="Single backend"):
        router.get_weights()


def test_config_rejects_unknown_options() -> None:
    from pydantic import ValidationError

    from rollout.routers.azure_apim import Config

    with pytest.raises(ValidationError):
        Config.model_validate(
            {
                "subscription_id": "s",
                "resource_group": "r",
                "service": "a",
                "pool": "p",
                "wieght": 1,
            }
        )


@pytest.mark.slow  # starts a process
def test_importing_the_router_imports_no_azure_module() -> None:
    code = (
        "import sys, rollout.routers.azure_apim, rollout.routers.azure_appconfig, "
        "rollout.deployments.azure_openai, rollout.cli;"
        "bad = [m for m in sys.modules if m == 'azure' or m.startswith('azure.')]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert out.returncode == 0, out.stdout + out.stderr
