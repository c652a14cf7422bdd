"""The Router suite passes a correct router and catches the mistakes it exists to catch."""

from __future__ import annotations

import pytest

from rollout.records import Weights
from rollout.testing import FakeRouter
from rollout.testing.routers import Harness, RouterConformance, check_router


def fake_harness(router: FakeRouter | None = None) -> Harness:
    router = router or FakeRouter()

    def fail() -> None:
        router.fail_next = router.fail_reads = 10**6

    def recover() -> None:
        router.fail_next = router.fail_reads = 0

    return Harness(router=router, fail=fail, recover=recover, mentions="fake router")


class TestFakeRouterConformance(RouterConformance):
    @pytest.fixture
    def harness(self) -> Harness:
        return fake_harness()


class HalfApplies(FakeRouter):
    """Writes the weights, then reports the failure: a retry-less router that lies."""

    def set_weights(self, weights: Weights) -> None:
        if self.fail_next:
            self.weights = weights
        super().set_weights(weights)


class RaisesRuntimeError(FakeRouter):
    def get_weights(self) -> Weights:
        if self.fail_reads:
            raise RuntimeError("connection reset")
        return self.weights


def test_a_router_that_half_applies_fails_the_suite() -> None:
    with pytest.raises(AssertionError, match="a failed set_weights changed"):
        check_router(lambda: fake_harness(HalfApplies()))


def test_a_router_that_raises_other_errors_fails_the_suite() -> None:
    with pytest.raises(RuntimeError, match="connection reset"):
        check_router(lambda: fake_harness(RaisesRuntimeError()))


def test_a_failure_that_does_not_say_what_failed_fails_the_suite() -> None:
    def harness() -> Harness:
        h = fake_harness()
        h.mentions = "routes/support-bot.json"  # FakeRouter's messages do not name it
        return h

    with pytest.raises(AssertionError, match="does not say what failed"):
        check_router(harness)
