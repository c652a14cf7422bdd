"""Deployments azure-openai: the REAL azure-mgmt-cognitiveservices SDK (requests transport,
LRO polling, retries) against the in-memory ARM of tests/fakes/arm.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport

from rollout import registry
from rollout.azure.rest import AzureError
from rollout.clock import FakeClock
from rollout.errors import ProviderError
from rollout.records import Weights
from tests.fakes.arm import COGNITIVE_API, FakeArm, FakeCredential, sdk_session

ACCT = "aoai-prod"
Q4O, Q41 = "OpenAI.GlobalStandard.gpt-4o", "OpenAI.GlobalStandard.gpt-4.1"
VARIANTS = {
    "baseline": {"model": "gpt-4o", "model_version": "2024-08-06", "target": "gpt4o-support"},
    "candidate": {"model": "gpt-4.1", "model_version": "2025-04-14", "target": "gpt41-support"},
}


def fake_arm(candidate: bool = True, quota: float = 200) -> FakeArm:
    arm = FakeArm()
    arm.add_model("gpt-4o", "2024-08-06", "GlobalStandard", Q4O)
    arm.add_model("gpt-4.1", "2025-04-14", "GlobalStandard", Q41)
    arm.quota = {Q4O: quota, Q41: quota}
    arm.add_deployment(ACCT, "gpt4o-support", "gpt-4o", "2024-08-06", capacity=50)
    if candidate:
        arm.add_deployment(ACCT, "gpt41-support", "gpt-4.1", "2025-04-14", capacity=50)
    return arm


class RecordingTransport(RequestsTransport):
    """The SDK's own requests transport; only its sleep (used for Retry-After) is recorded."""

    def __init__(self, session: Any, slept: list[float]) -> None:
        super().__init__(session=session, session_owner=False)
        self.slept = slept

    def sleep(self, duration: float) -> None:
        self.slept.append(duration)


def make(
    arm: FakeArm,
    slept: list[float] | None = None,
    clock: FakeClock | None = None,
    variants: dict[str, dict[str, Any]] | None = None,
    **opts: Any,
) -> Any:
    extra: dict[str, Any] = {
        "azure_credential": FakeCredential(),
        "azure_transport": RecordingTransport(sdk_session(arm), slept if slept is not None else []),
        "azure_sdk_options": {"polling_interval": 0, "retry_backoff_factor": 0},
    }
    if clock is not None:
        extra["clock"] = clock
    ctx = registry.BuildContext(
        plan_dir=Path("."), variants=variants or VARIANTS, plan_name="support-bot", extra=extra
    )
    spec = {
        "type": "azure-openai",
        "subscription_id": arm.subscription,
        "resource_group": arm.resource_group,
        "account": ACCT,
        **opts,
    }
    return registry.build("deployments", spec, ctx)


def calls(arm: FakeArm) -> list[str]:
    return [f"{c.method} {c.path.rsplit('/', 1)[1]}" for c in arm.calls]


def test_preflight_checks_both_deployments_with_the_sdk_api_version() -> None:
    arm = fake_arm()
    out = make(arm).preflight(Weights.of(5))
    assert out == {
        "baseline": "gpt4o-support: gpt-4o 2024-08-06, GlobalStandard x50",
        "candidate": "gpt41-support: gpt-4.1 2025-04-14, GlobalStandard x50",
    }
    assert calls(arm) == ["GET gpt4o-support", "GET gpt41-support"]
    assert all(c.query == {"api-version": COGNITIVE_API} for c in arm.calls)
    assert (
        arm.calls[0].path
        == "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/"
        "aoai-prod/deployments/gpt4o-support"
    )


def test_create_if_missing_waits_for_the_lro() -> None:
    arm = fake_arm(candidate=False)
    arm.lro_polls = 2  # InProgress twice, then Succeeded
    out = make(arm, create=True, sku={"name": "GlobalStandard", "capacity": 30}).preflight(
        Weights.of(5)
    )
    assert out["candidate"] == "gpt41-support: gpt-4.1 2025-04-14, GlobalStandard x30, created"
    assert calls(arm) == [
        "GET gpt4o-support",
        "GET gpt41-support",
        "GET aoai-prod",  # the account's region: quota is regional
        "GET models",  # the region's catalogue: usage names and capacity steps
        "GET usages",  # the subscription's usages in that region
        "PUT gpt41-support",
        "GET 1",
        "GET 1",
        "GET 1",
        "GET gpt41-support",
    ]
    put = next(c for c in arm.calls if c.method == "PUT")
    assert put.body == {
        "sku": {"name": "GlobalStandard", "capacity": 30},
        "properties": {
            "model": {"format": "OpenAI", "name": "gpt-4.1", "version": "2025-04-14"},
            "versionUpgradeOption": "NoAutoUpgrade",
        },
    }
    assert arm.deployments["gpt41-support"]["properties"]["provisioningState"] == "Succeeded"


def test_missing_candidate_without_create_says_how_to_fix_it() -> None:
    with pytest.raises(
        ProviderError,
        match=r"'gpt41-support' for the candidate not found in account aoai-prod "
        r"\(set create: true",
    ):
        make(fake_arm(candidate=False)).preflight(Weights.of(5))


def test_wrong_model_version_is_refused() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["properties"]["model"]["version"] = "2024-11-20"
    with pytest.raises(
        ProviderError, match=r"serves gpt-4\.1 version '2024-11-20', the plan says '2025-04-14'"
    ):
        make(arm).preflight(Weights.of(5))


def test_failed_lro_surfaces_azures_code_and_message() -> None:
    arm = fake_arm(candidate=False)
    arm.lro_error = {
        "code": "InsufficientQuota",
        "message": "This operation require 30 new capacity in quota Tokens Per Minute",
    }
    with pytest.raises(AzureError) as err:
        make(arm, create=True, sku={"capacity": 30}).preflight(Weights.of(5))
    assert err.value.code == "InsufficientQuota"
    assert str(err.value).startswith(
        "create deployment gpt41-support (account aoai-prod): the operation failed: "
        "InsufficientQuota: This operation require 30 new capacity"
    )
    assert err.value.request_id and err.value.request_id.startswith("req-")


def test_throttled_call_succeeds_after_retry_after() -> None:
    arm = fake_arm()
    arm.inject(
        "GET",
        "/deployments/gpt41-support",
        429,
        {"error": {"code": "TooManyRequests", "message": "throttled"}},
        {"Retry-After": "3"},
    )
    slept: list[float] = []
    out = make(arm, slept).preflight(Weights.of(5))
    assert "candidate" in out
    assert slept == [3.0]  # azure-core honoured Retry-After through the transport's sleep
    assert calls(arm) == ["GET gpt4o-support", "GET gpt41-support", "GET gpt41-support"]


def test_arm_error_keeps_code_message_and_request_id() -> None:
    arm = fake_arm()
    arm.inject(
        "GET",
        "/deployments/gpt4o-support",
        403,
        {"error": {"code": "AuthorizationFailed", "message": "no read on the account"}},
    )
    with pytest.raises(AzureError) as err:
        make(arm).preflight(Weights.of(5))
    assert (err.value.status, err.value.code) == (403, "AuthorizationFailed")
    assert "no read on the account" in str(err.value) and "request id req-1" in str(err.value)


FOLLOW = {
    "capacity": "follow-weight",
    "sku": {"name": "GlobalStandard", "capacity": 50},
    "min_capacity": 2,
}


def test_quota_shortfall_stops_the_rollout_before_the_shift() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 3
    arm.quota[Q41] = 8  # 3 in use: 5 free
    # The router is an APIM pool on the same fake ARM: shift only after before_shift passes.
    from tests.routers.test_azure_apim import POOL, SVC
    from tests.routers.test_azure_apim import make as make_router

    arm.add_backend(SVC, "aoai-gpt4o", "https://a")
    arm.add_backend(SVC, "aoai-gpt41", "https://b")
    arm.add_pool(SVC, POOL, {"aoai-gpt4o": 100, "aoai-gpt41": 0})
    router = make_router(arm)[0]
    dm = make(arm, **FOLLOW)
    dm.preflight(Weights.of(5))
    with pytest.raises(ProviderError) as err:
        for c in (5, 25, 50):  # what the runner does at each set_weight step
            dm.before_shift(Weights.of(c))
            router.set_weights(Weights.of(c))
    msg = str(err.value)
    assert "quota OpenAI.GlobalStandard.gpt-4.1 in region eastus is short by 5" in msg
    assert (
        "adds 10 capacity (gpt41-support +10) but only 5 is free (limit 8, in use 3 by all" in msg
    )
    assert router.get_weights() == Weights.of(5)  # the 25 % shift never happened
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == 3  # nothing scaled either
    assert arm.deployments["gpt4o-support"]["sku"]["capacity"] == 48  # from the 5 % step


def test_preflight_checks_the_first_stage_quota() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 1
    arm.quota[Q41] = 2
    with pytest.raises(
        ProviderError, match=r"short by 1: this step adds 2 capacity"
    ):  # 5 % of 50 -> 3, from 1; 1 free
        make(arm, **FOLLOW).preflight(Weights.of(5))


def test_follow_weight_scales_down_first_then_up() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 2
    notes = make(arm, **FOLLOW).before_shift(Weights.of(25))
    assert notes == ["gpt4o-support: capacity 50 -> 38", "gpt41-support: capacity 2 -> 13"]
    patches = [c for c in arm.calls if c.method == "PATCH"]
    assert [(c.path.rsplit("/", 1)[1], c.body) for c in patches] == [
        ("gpt4o-support", {"sku": {"name": "GlobalStandard", "capacity": 38}}),
        ("gpt41-support", {"sku": {"name": "GlobalStandard", "capacity": 13}}),
    ]
    assert all(c.query == {"api-version": COGNITIVE_API} for c in patches)


def test_follow_weight_respects_bounds() -> None:
    arm = fake_arm()
    make(arm, **{**FOLLOW, "max_capacity": 40}).before_shift(Weights.of(100))
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == 40
    assert arm.deployments["gpt4o-support"]["sku"]["capacity"] == 2


def test_rollback_is_never_blocked_by_quota() -> None:
    arm = fake_arm()
    arm.deployments["gpt4o-support"]["sku"]["capacity"] = 10
    arm.quota[Q4O] = 10  # the baseline cannot grow back
    arm.inject(
        "PATCH",
        "/deployments/gpt4o-support",
        400,
        {"error": {"code": "InsufficientQuota", "message": "no room"}},
    )
    notes = make(arm, **FOLLOW).before_shift(Weights.all_baseline())
    assert notes[0] == "gpt41-support: capacity 50 -> 2"
    assert (
        notes[1].startswith("gpt4o-support: could not scale 10 -> 50")
        and "InsufficientQuota" in notes[1]
    )


def test_fixed_capacity_does_nothing_before_a_shift() -> None:
    arm = fake_arm()
    assert make(arm).before_shift(Weights.of(50)) == []
    assert arm.calls == []


def test_finalize_keeps_the_baseline_then_deletes_it() -> None:
    arm, clock = fake_arm(), FakeClock()
    dm = make(arm, clock=clock, finalize={"keep_baseline": "24h"})
    due = dm.finalize()
    assert due is not None and (due - clock.now()).total_seconds() == 86400
    assert arm.deployments["gpt4o-support"]["tags"] == {"rollout-finalize-after": due.isoformat()}
    clock.advance(3600)
    assert dm.finalize() == due and "gpt4o-support" in arm.deployments
    clock.advance(86400)
    assert dm.finalize() is None
    assert "gpt4o-support" not in arm.deployments
    assert any(c.method == "DELETE" for c in arm.calls)


def test_finalize_scale_down() -> None:
    arm = fake_arm()
    assert make(arm, finalize="scale_down", min_capacity=3).finalize() is None
    assert arm.deployments["gpt4o-support"]["sku"]["capacity"] == 3


def test_finalize_keep_touches_nothing() -> None:
    arm = fake_arm()
    assert make(arm).finalize() is None
    assert arm.calls == []


def test_config_rules() -> None:
    from pydantic import ValidationError

    from rollout.deployments.azure_openai import Config

    base = {"subscription_id": "s", "resource_group": "r", "account": "a"}
    with pytest.raises(ValidationError, match="need sku"):
        Config.model_validate({**base, "create": True})
    with pytest.raises(ValidationError, match="below min_capacity"):
        Config.model_validate({**base, "min_capacity": 5, "max_capacity": 2})
    assert Config.model_validate({**base, "finalize": "delete"}).finalize.action == "delete"
    assert (
        Config.model_validate(
            {**base, "finalize": {"keep_baseline": "2h", "then": "scale_down"}}
        ).finalize.keep_baseline
        == 7200
    )
