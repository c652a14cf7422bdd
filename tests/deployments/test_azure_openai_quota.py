"""Quota at the scope Azure enforces it, and capacities Azure accepts (issue 13, points 3, 4, 9).

Azure OpenAI quota is per subscription, region and model SKU, shared by every account there;
the account's own model list (as in Microsoft's spec example) names no usage. Provisioned SKUs
take capacity in steps above a minimum (e.g. 50 and 50 PTU). The fake ARM enforces all of it.
"""

from __future__ import annotations

import pytest

from rollout.errors import ProviderError
from rollout.records import Weights
from tests.deployments.test_azure_openai import ACCT, Q4O, Q41, fake_arm, make
from tests.fakes.arm import COGNITIVE_API, COGNITIVE_APIS, FakeArm

FOLLOW = {"capacity": "follow-weight", "sku": {"name": "GlobalStandard", "capacity": 50}}
PTU = "ProvisionedManaged"
P4O, P41 = "OpenAI.ProvisionedManaged.gpt-4o", "OpenAI.ProvisionedManaged.gpt-4.1"


def test_quota_used_by_another_account_in_the_region_counts() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 3
    arm.quota[Q41] = 100
    arm.add_deployment("aoai-other-team", "their-gpt41", "gpt-4.1", "2025-04-14", capacity=90)
    # This account uses 3 of 100; the region has 93 in use: 7 free, and 25 % needs +10.
    with pytest.raises(ProviderError, match=r"in region eastus is short by 3: this step adds 10"):
        make(arm, **FOLLOW).before_shift(Weights.of(25))
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == 3  # nothing scaled


def test_quota_is_read_from_the_regional_usages_and_models() -> None:
    arm = fake_arm()
    arm.accounts[ACCT] = "swedencentral"
    arm.location = "swedencentral"
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 2  # so 25 % adds capacity
    make(arm, **FOLLOW).before_shift(Weights.of(25))
    paths = [c.path for c in arm.calls if c.method == "GET"]
    sub = f"/subscriptions/{arm.subscription}/providers/Microsoft.CognitiveServices"
    assert f"{sub}/locations/swedencentral/models" in paths
    assert f"{sub}/locations/swedencentral/usages" in paths
    assert not [p for p in paths if p.endswith(f"/accounts/{ACCT}/usages")]


def test_no_usage_name_is_a_located_error_not_a_skipped_check() -> None:
    arm = FakeArm()
    arm.add_model("gpt-4o", "2024-08-06", "GlobalStandard", Q4O)
    arm.add_model("gpt-4.1", "2025-04-14", "GlobalStandard", None)  # the catalogue names none
    arm.add_deployment(ACCT, "gpt4o-support", "gpt-4o", "2024-08-06", capacity=50)
    arm.add_deployment(ACCT, "gpt41-support", "gpt-4.1", "2025-04-14", capacity=2)
    dm = make(arm, **FOLLOW)
    with pytest.raises(ProviderError) as err:
        dm.before_shift(Weights.of(25))
    msg = str(err.value)
    assert msg.startswith("deployments.quota_usage.candidate: the model catalogue of region")
    assert "cannot be checked" in msg
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == 2
    # Naming it makes the check run (and pass here).
    arm.quota[Q41] = 100
    make(arm, **FOLLOW, quota_usage={"candidate": Q41}).before_shift(Weights.of(25))
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == 13


def test_a_usage_the_region_does_not_report_is_an_error() -> None:
    arm = fake_arm()
    arm.deployments["gpt41-support"]["sku"]["capacity"] = 2
    dm = make(arm, **FOLLOW, quota_usage={"candidate": "OpenAI.GlobalStandard.typo"})
    with pytest.raises(ProviderError, match="reports no such usage"):
        dm.before_shift(Weights.of(25))


def ptu_arm() -> FakeArm:
    arm = FakeArm()
    arm.add_model("gpt-4o", "2024-08-06", PTU, P4O, minimum=50, step=50, maximum=2000)
    arm.add_model("gpt-4.1", "2025-04-14", PTU, P41, minimum=50, step=50, maximum=2000)
    arm.quota = {P4O: 1000, P41: 1000}
    arm.add_deployment(ACCT, "gpt4o-support", "gpt-4o", "2024-08-06", PTU, capacity=300)
    arm.add_deployment(ACCT, "gpt41-support", "gpt-4.1", "2025-04-14", PTU, capacity=50)
    return arm


@pytest.mark.parametrize(
    ("candidate", "want_b", "want_c"),
    [(5, 300, 50), (25, 250, 100), (50, 150, 150), (100, 50, 300)],
)
def test_ptu_capacity_is_rounded_to_the_step_and_clamped_to_the_minimum(
    candidate: int, want_b: int, want_c: int
) -> None:
    arm = ptu_arm()
    dm = make(arm, capacity="follow-weight", sku={"name": PTU, "capacity": 300})
    dm.before_shift(Weights.of(candidate))  # the fake refuses counts that are not steps
    assert arm.deployments["gpt4o-support"]["sku"]["capacity"] == want_b
    assert arm.deployments["gpt41-support"]["sku"]["capacity"] == want_c


def test_the_fake_refuses_a_ptu_count_that_is_not_a_step() -> None:
    from rollout.azure.rest import AzureError

    arm = ptu_arm()
    dm = make(arm, capacity="follow-weight", sku={"name": PTU, "capacity": 300})
    with pytest.raises(AzureError, match="InvalidCapacity"):
        dm._scale("candidate", 75)  # what the old code asked for at 25 % of 300


@pytest.mark.parametrize("version", sorted(COGNITIVE_APIS))
def test_every_stable_api_version_of_the_sdk_range_is_served(version: str) -> None:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    from tests.fakes.arm import FakeCredential

    assert COGNITIVE_API in COGNITIVE_APIS  # what the installed SDK sends
    arm = fake_arm()
    client = CognitiveServicesManagementClient(
        FakeCredential(), arm.subscription, api_version=version, transport=_transport(arm)
    )
    dep = client.deployments.get(arm.resource_group, ACCT, "gpt4o-support")
    assert dep.sku.capacity == 50
    assert {c.query["api-version"] for c in arm.calls} == {version}


def _transport(arm: FakeArm) -> object:
    from azure.core.pipeline.transport import RequestsTransport

    from tests.fakes.arm import sdk_session

    return RequestsTransport(session=sdk_session(arm), session_owner=False)


def test_an_api_version_outside_the_range_is_refused_as_arm_does() -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    from tests.fakes.arm import FakeCredential

    arm = fake_arm()
    client = CognitiveServicesManagementClient(
        FakeCredential(), arm.subscription, api_version="2023-05-01", transport=_transport(arm)
    )
    with pytest.raises(HttpResponseError, match="InvalidApiVersionParameter"):
        client.deployments.get(arm.resource_group, ACCT, "gpt4o-support")
