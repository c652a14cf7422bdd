"""SIGTERM and SIGHUP behave like Ctrl-C during `apply`: the lease is released, the interruption
recorded, traffic left as recorded (resumable). Exit code 128 + the signal's number (143, 129),
130 for Ctrl-C, as shells report them."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def as_interrupts() -> Iterator[None]:
    """Turn SIGTERM / SIGHUP into Interrupted for the block (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
