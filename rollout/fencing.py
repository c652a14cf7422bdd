"""Fencing for router writes: a write that lost the race is never sent.

The runner records a shift, then asks the router to make it. Between the two, and between a
router's own retry attempts (a 429, a 412, a transport error), someone may have aborted or paused
the rollout. So the runner installs a *fence* around each `set_weights` call: a check that
re-reads the run's revision and pending intents and raises `Fenced` when the write is stale.
Every router calls `fencing.check()` immediately before each attempt that changes traffic;
with no fence installed (abort restoring the baseline, tests, `rollout check`) it does nothing.

    with fencing.fence(still_current):      # runner
        router.set_weights(w)

    fencing.check()                         # router, before every write attempt
    resp = client.put(...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_FENCE: ContextVar[Callable[[], None] | None] = ContextVar("rollout_fence", default=None)


@contextmanager
def fence(check_current: Callable[[], None]) -> Iterator[None]:
    """Install `check_current` (raises Fenced when the write is stale) for the block."""
    token = _FENCE.set(check_current)
    try:
        yield
    finally:
        _FENCE.reset(token)


def check() -> None:
    """Raise Fenced if a fence is installed and says this write lost the race."""
    current = _FENCE.get()
    if current is not None:
        current()
