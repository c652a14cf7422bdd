"""LeaseKeeper: renewal on its own heartbeat, and a renew deadline shorter than the TTL."""

from __future__ import annotations

import pytest

from rollout.errors import LeaseHeld, StateError
from rollout.lease import LeaseKeeper, LeaseLost


class Handle:
    def __init__(self) -> None:
        self.previous = None
        self.renewals = 0
        self.fail: Exception | None = None

    def renew(self) -> None:
        if self.fail is not None:
            raise self.fail
        self.renewals += 1


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_keeper_that_cannot_renew_stops_acting_before_the_lease_can_expire() -> None:
    handle, mono = Handle(), Mono()
    keeper = LeaseKeeper(handle, ttl=30, monotonic=mono, start=False)
    mono.t += 15
    keeper.renew_once()
    keeper.check()  # renewed: fine
    handle.fail = StateError("store down")
    mono.t += 19
    keeper.renew_once()
    keeper.check()  # 19 s since the last renewal: within the 20 s deadline
    mono.t += 2
    with pytest.raises(LeaseLost, match="deadline 20s of a 30s lease"):
        keeper.check()  # 21 s: stop acting, 9 s before anyone else may take over
    assert keeper.renew_deadline < keeper.ttl


def test_a_lease_taken_by_someone_else_is_lost_at_once() -> None:
    handle, mono = Handle(), Mono()
    keeper = LeaseKeeper(handle, ttl=30, monotonic=mono, start=False)
    handle.fail = LeaseHeld("lost the lease on demo (now held by x@y pid 9)")
    keeper.renew_once()
    with pytest.raises(LeaseLost, match="now held by x@y"):
        keeper.check()
    assert LeaseLost("x").exit_code == 6


def test_the_heartbeat_renews_on_its_own_thread() -> None:
    import threading

    handle = Handle()
    done = threading.Event()
    original = handle.renew

    def renew() -> None:
        original()
        done.set()

    handle.renew = renew  # type: ignore[method-assign]
    keeper = LeaseKeeper(handle, ttl=0.03)  # beats every 10 ms of real time
    try:
        assert done.wait(timeout=10)  # generous: only that it happens without any tick
    finally:
        keeper.close()
    assert handle.renewals >= 1
