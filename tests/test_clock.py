"""SystemClock is anchored to the monotonic clock: wall-clock jumps neither skip nor stall bakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout.clock import SystemClock

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_wall_clock_jump_does_not_move_now() -> None:
    wall = [T0]
    mono = [100.0]
    clock = SystemClock(wall=lambda: wall[0], monotonic=lambda: mono[0])
    assert clock.now() == T0
    wall[0] = T0 + timedelta(minutes=10)  # NTP steps the wall clock forward ...
    mono[0] += 5  # ... while 5 s really pass
    assert clock.now() == T0 + timedelta(seconds=5)  # a 10-minute bake is not skipped
    wall[0] = T0 - timedelta(hours=1)  # and back
    mono[0] += 5
    assert clock.now() == T0 + timedelta(seconds=10)  # nor stalled


def test_the_default_clock_starts_at_the_wall_time() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert before - timedelta(seconds=5) <= now <= datetime.now(UTC) + timedelta(seconds=5)
    assert now.tzinfo is not None
