"""Keeping a lease: renewal on its own heartbeat, independent of tick work.

As client-go's leader election does: the holder renews every `ttl / 3` on a background thread,
and stops acting once it has not renewed for `renew_deadline` (< ttl) — so a runner stalled in a
35 s evaluation, or cut off from the store, stops writing to the router *before* the lease can
expire and another process may take over. `check()` is called before every router write (it is
part of the runner's fence) and at the top of every loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rollout.errors import Fenced, LeaseHeld, RolloutError
from rollout.state import Lease


class LeaseLost(Fenced):
    """This process no longer holds the lease (or cannot be sure it does): stop acting."""

    exit_code = 6


class LeaseKeeper:
    def __init__(
        self,
        handle: Lease,
        ttl: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.handle = handle
        self.ttl = ttl
        self.renew_deadline = ttl * 2.0 / 3.0
        self._mono = monotonic
        self._last_ok = monotonic()
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._beat, name="rollout-lease", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3.0):
            self.renew_once()

    def renew_once(self) -> None:
        try:
            self.handle.renew()
        except LeaseHeld as exc:
            self._lost = str(exc)
        except RolloutError:
            return  # a store blip: the deadline decides when to stop acting
        else:
            self._last_ok = self._mono()

    def check(self) -> None:
        if self._lost is not None:
            raise LeaseLost(self._lost)
        late = self._mono() - self._last_ok
        if late > self.renew_deadline:
            raise LeaseLost(
                f"could not renew the lease for {late:.0f}s (deadline {self.renew_deadline:.0f}s "
                f"of a {self.ttl:.0f}s lease): stopping before another process may take over"
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
