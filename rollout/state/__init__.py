"""State stores keep runs, their event logs and leases. Every change is one transaction."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from rollout.records import Event, Holder, Run

DEFAULT_URL = "sqlite:///.rollout/state.db"


class Lease(Protocol):
    # The holder this lease was taken over from (dead, or its lease expired), for the audit trail.
    previous: Holder | None

    # Push the expiry forward (rollout.lease.LeaseKeeper calls it on its own heartbeat).
    # Raises LeaseHeld if the lease was lost.
    def renew(self) -> None: ...


class StateStore(Protocol):
    # The latest attempt of a rollout, or None.
    def load(self, name: str) -> Run | None: ...

    # Write `run` (revision bumped) and append `events` in one transaction, only if the stored
    # revision is still `expected_revision` (0: a new attempt). Raises StaleState otherwise.
    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run: ...

    # Events of the latest attempt (or all attempts), oldest first, at most `limit` (newest kept).
    def history(self, name: str, *, limit: int = 50, all_attempts: bool = False) -> list[Event]: ...

    # Exclusive right to drive this rollout. Raises LeaseHeld naming the holder. A lease whose
    # holder is dead (same host, pid gone) or has expired is taken over.
    def lease(self, name: str, holder: Holder, *, ttl: float) -> AbstractContextManager[Lease]: ...

    # The latest attempt of every rollout, for `rollout list`.
    def runs(self) -> list[Run]: ...


class Claim(NamedTuple):
    name: str
    due: datetime  # when its next look fell due (the controller's lag is measured from here)
    previous: str | None  # a replica whose claim expired unfinished (a takeover), or None


class Claims(Protocol):
    """Due times for `rollout controller` replicas: which rollout needs a look, and who is on it.

    A claim only spreads the work; the rollout's lease, fencing and revision checks keep two
    replicas from both acting, exactly as for two `apply` processes."""

    # Put every active rollout that is new or changed (another writer: apply, an intent, abort)
    # since its last look on the schedule, due at `now`.
    def sync(self, now: datetime) -> None: ...

    # Up to `limit` rollouts due at `now` that no live claim holds, claimed by `owner` until
    # now + ttl; rollouts other replicas have claimed are skipped, never waited for.
    def claim_due(self, owner: str, now: datetime, *, limit: int, ttl: float) -> list[Claim]: ...

    # After a look (or when giving a claim back unlooked): due again at `due` (None: finished,
    # off the schedule), with the (attempt, revision) looked at; a claim `owner` lost is ignored.
    def reschedule(
        self, name: str, owner: str, due: datetime | None, seen: tuple[int, int]
    ) -> None: ...


def state_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("ROLLOUT_STATE") or DEFAULT_URL


def open_store(url: str | None = None) -> StateStore:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db`, a bare path, or `postgresql://...`."""
    from rollout import registry

    url = state_url(url)
    if "://" not in url:
        url = "sqlite:///" + url
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    mod = registry.module_for("state", scheme)
    from rollout.state.redacting import opened  # every write masked, whatever the backend

    store: StateStore = opened(mod.open_url, url)
    return store


def sqlite_path(url: str) -> Path:
    return Path(url.split("://", 1)[1][1:] if url.startswith("sqlite:///") else url)
