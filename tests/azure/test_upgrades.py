"""Azure's own model upgrades, listed and canaried (issue 13, "Canary Azure's own upgrades").

The real azure-mgmt-cognitiveservices SDK reads the fake ARM's account models (the spec's
AccountModel fields: isDefaultVersion, deprecation.inference, replacementConfig)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.pipeline.transport import RequestsTransport

from rollout.azure.upgrades import canary_plan, describe, find_upgrades
from rollout.loading import load
from rollout.records import Weights
from tests.deployments.test_azure_openai import ACCT, make
from tests.fakes.arm import FakeArm, FakeCredential, sdk_session

Q = "OpenAI.GlobalStandard.gpt-4o"


def arm() -> FakeArm:
    a = FakeArm()
    a.add_model(
        "gpt-4o",
        "2024-08-06",
        "GlobalStandard",
        Q,
        isDefaultVersion=False,
        deprecation={"inference": "2026-03-01T00:00:00Z"},
    )
    a.add_model("gpt-4o", "2024-11-20", "GlobalStandard", Q, isDefaultVersion=True)
    a.add_model("gpt-4.1", "2025-04-14", "GlobalStandard", "OpenAI.GlobalStandard.gpt-4.1")
    a.quota = {Q: 500, "OpenAI.GlobalStandard.gpt-4.1": 500}
    a.add_deployment(
        ACCT,
        "gpt4o-support",
        "gpt-4o",
        "2024-08-06",
        capacity=50,
        upgrade="OnceNewDefaultVersionAvailable",
    )
    a.add_deployment(
        ACCT, "gpt4o-batch", "gpt-4o", "2024-11-20", capacity=10, upgrade="NoAutoUpgrade"
    )
    return a


def client(a: FakeArm) -> object:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    transport = RequestsTransport(session=sdk_session(a), session_owner=False)
    return CognitiveServicesManagementClient(FakeCredential(), a.subscription, transport=transport)


def test_lists_deployments_azure_will_move_and_why() -> None:
    a = arm()
    ups = find_upgrades(client(a), a.resource_group, ACCT)
    assert [(u.deployment, u.version, u.to_version) for u in ups] == [
        ("gpt4o-support", "2024-08-06", "2024-11-20")
    ]  # gpt4o-batch is on the default already
    u = ups[0]
    assert u.automatic and u.when == "2026-03-01"
    text = describe(ups)
    assert "Azure moves the whole deployment to it, with no canary" in text
    assert "retires for inference on 2026-03-01" in text
    assert u.candidate_name == "gpt4o-support-2024-11-20"


def test_the_canary_plan_loads_and_creates_the_candidate_pinned(tmp_path: Path) -> None:
    a = arm()
    u = find_upgrades(client(a), a.resource_group, ACCT)[0]
    path = tmp_path / "plan.yaml"
    path.write_text(
        canary_plan(u, subscription_id=a.subscription, resource_group="rg", account=ACCT)
    )
    loaded = load(path, env={})
    weights = [s.weight for s in loaded.plan.steps if s.kind == "set_weight"]
    assert weights[-1] == 100
    spec = loaded.plan.spec
    deployments = spec.deployments if hasattr(spec, "deployments") else spec["deployments"]
    as_dict = deployments if isinstance(deployments, dict) else deployments.model_dump()
    assert as_dict["version_upgrade"] == "NoAutoUpgrade" and as_dict["pin_baseline"] is True


def test_pin_baseline_stops_azure_moving_it_and_the_candidate_is_created_no_auto() -> None:
    a = arm()
    dm = make(
        a,
        create=True,
        pin_baseline=True,
        sku={"name": "GlobalStandard", "capacity": 50},
        variants={
            "baseline": {
                "model": "gpt-4o",
                "model_version": "2024-08-06",
                "target": "gpt4o-support",
            },
            "candidate": {
                "model": "gpt-4o",
                "model_version": "2024-11-20",
                "target": "gpt4o-support-2024-11-20",
            },
        },
    )
    out = dm.preflight(Weights.of(5))
    assert out["baseline"].endswith(", pinned now (was auto-upgrading)")
    props = a.deployments["gpt4o-support"]["properties"]
    assert props["versionUpgradeOption"] == "NoAutoUpgrade"
    assert props["model"]["version"] == "2024-08-06"  # the same deployment, only pinned
    cand = a.deployments["gpt4o-support-2024-11-20"]["properties"]
    assert cand["versionUpgradeOption"] == "NoAutoUpgrade"
    again = make(a, pin_baseline=True, variants=dm.variants).preflight(Weights.of(5))
    assert again["baseline"].endswith(", pinned")  # already pinned: no second PUT
    assert (
        sum(c.method == "PUT" and c.path.rsplit("/", 1)[1] == "gpt4o-support" for c in a.calls) == 1
    )


@pytest.mark.parametrize("option", ["NoAutoUpgrade", "OnceCurrentVersionExpired"])
def test_options_that_wait_are_listed_without_the_no_canary_warning(option: str) -> None:
    a = arm()
    a.deployments["gpt4o-support"]["properties"]["versionUpgradeOption"] = option
    u = find_upgrades(client(a), a.resource_group, ACCT)[0]
    assert "with no canary" not in describe([u])
    assert u.automatic == (option == "OnceCurrentVersionExpired")
