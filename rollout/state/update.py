"""The one commit-with-retry loop: read the latest run, change it, commit it against the revision
it was read at; when another process committed first (StaleState), read again and re-decide.

    update(store, name, change, what="record the abort") -> Run | None

`change(run)` returns the new run and its events, or None when there is nothing (more) to do —
it is called again on every retry, with the latest run, so a decision is never made on stale
state. Every verb that writes a run goes through here or through the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rollout.errors import StaleState
from rollout.records import Event, Run
from rollout.state import StateStore

TRIES = 10

Change = Callable[[Run], tuple[Run, Sequence[Event]] | None]


def update(store: StateStore, name: str, change: Change, *, what: str) -> Run | None:
    """Commit `change` on the latest run of `name`. None: no run, or nothing to change."""
    for _ in range(TRIES):
        run = store.load(name)
        if run is None:
            return None
        changed = change(run)
        if changed is None:
            return run
        new, events = changed
        try:
            return store.commit(new, events, expected_revision=run.revision)
        except StaleState:
            continue
    raise StaleState(
        f"could not {what} for {name}: the run kept changing ({TRIES} tries); try again"
    )
