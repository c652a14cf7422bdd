"""The DeploymentManager suite: azure-openai (the real SDK against tests/fakes/arm.py) passes it,
and managers that would block a rollback or fail unclearly fail it."""

from __future__ import annotations

from datetime import datetime

import pytest

from rollout.errors import ProviderError
from rollout.records import Weights
from rollout.testing.deployments import (
    DeploymentConformance,
    DeploymentHarness,
    check_deployments,
)

pytest.importorskip("azure.mgmt.cognitiveservices")


class TestAzureOpenAIConformance(DeploymentConformance):
    @pytest.fixture
    def harness(self) -> DeploymentHarness:
        from tests.deployments.test_azure_openai import fake_arm, make

        arm = fake_arm()
        manager = make(
            arm, capacity="follow-weight", sku={"name": "GlobalStandard", "capacity": 50}
        )
        return DeploymentHarness(
            manager=manager,
            fail=lambda: setattr(arm, "down", 500),
            recover=lambda: setattr(arm, "down", None),
            mentions="gpt4o-support",
        )


class Toy:
    """Quota-checked shifts; `down` makes every cloud call raise `error`."""

    def __init__(self, error: Exception | None = None, guard_rollback: bool = True) -> None:
        self.down = False
        self.error = error or ProviderError("toy-account: quota API unavailable")
        self.guard_rollback = guard_rollback

    def _cloud(self) -> None:
        if self.down:
            raise self.error

    def preflight(self, weights: Weights) -> dict[str, str]:
        self._cloud()
        return {"baseline": "a: ok", "candidate": "b: ok"}

    def before_shift(self, weights: Weights) -> list[str]:
        if weights.candidate == 0 and self.guard_rollback:
            try:
                self._cloud()
            except ProviderError as exc:
                return [f"capacity not restored: {exc}"]
            return []
        self._cloud()
        return [f"quota ok for {weights.candidate} %"]

    def finalize(self) -> datetime | None:
        return None


def toy(manager: Toy) -> DeploymentHarness:
    return DeploymentHarness(
        manager=manager,
        fail=lambda: setattr(manager, "down", True),
        recover=lambda: setattr(manager, "down", False),
        mentions="toy-account",
    )


def test_a_correct_toy_passes() -> None:
    check_deployments(lambda: toy(Toy()))


def test_a_rollback_stopped_by_the_cloud_fails() -> None:
    with pytest.raises(AssertionError, match=r"a rollback\s+must go ahead"):
        check_deployments(lambda: toy(Toy(guard_rollback=False)))


def test_an_unclear_failure_fails() -> None:
    with pytest.raises(AssertionError, match="does not say what failed"):
        check_deployments(lambda: toy(Toy(error=ProviderError("HTTP 500"))))
