"""Time, injected. The engine never reads the clock; the runner gets one of these."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...  # tz-aware UTC

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time read once, then advanced by the monotonic clock.

    Bakes are measured as `now - step_started_at`; anchoring `now` to the monotonic clock means a
    wall-clock jump (NTP step, a VM resumed, a person setting the date) neither skips a bake nor
    stalls one in a running process. A new process re-reads the wall clock, which is right: time
    that passed while nobody watched did pass, and the gap's data is judged on resume."""

    def __init__(
        self,
        wall: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._mono = monotonic
        self._wall0 = (wall or (lambda: datetime.now(UTC)))()
        self._mono0 = monotonic()

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._mono() - self._mono0)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Virtual time: sleep moves `now` forward at once. For tests and `rollout simulate`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += timedelta(seconds=max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
