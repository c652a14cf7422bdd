"""`rollout controller`: drive every active rollout in the store, for as long as it runs.

Any number of replicas may run against one PostgreSQL database (each claims due rollouts with
`FOR UPDATE SKIP LOCKED`); on SQLite, one. SIGTERM or Ctrl-C: the rollout in hand is finished,
the rest of the claimed batch given back, exit 0. `--exit-when-done` stops once no rollout is
active (a scheduled job that runs until its fleet is through). See docs/fleet.md.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, store
from rollout.controller import BATCH, Controller, Look
from rollout.errors import EXIT_OK, InvalidInput
from rollout.views import controller as view


def run(
    state: str | None = None,
    output: str = "text",
    batch: int = BATCH,
    exit_when_done: bool = False,
    workers: int = 1,
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    if batch < 1 or batch > 1000:
        raise InvalidInput(f"--batch {batch}: must be between 1 and 1000")
    if workers < 1 or workers > 64:
        raise InvalidInput(f"--workers {workers}: must be between 1 and 64")
    clock = clock_or_system(clock)
    st = store(state)
    stop = threading.Event()

    def shown(look: Look) -> None:
        if output == "json":
            views.emit_ndjson(view.SCHEMA, view.data(look))
        elif look.changed or look.result in ("error", "skipped"):
            views.emit_lines(view.human(look))

    ctl = Controller(
        store=st,
        clock=clock,
        extra=extra,
        batch=batch,
        exit_when_done=exit_when_done,
        workers=workers,
        on_look=shown,
        stop=stop,
    )
    views.emit_lines([f"controller {ctl.owner}: started"], err=True)
    with _stopping_on_signals(stop):
        ctl.run()
    why = "nothing active" if not stop.is_set() else "stopped by a signal"
    views.emit_lines([f"controller {ctl.owner}: {ctl.looks} looks, {why}"], err=True)
    return EXIT_OK


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM, SIGHUP, SIGINT set `stop`: the loop finishes the rollout in hand and leaves."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    old = {s: signal.signal(s, lambda n, f: stop.set()) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
