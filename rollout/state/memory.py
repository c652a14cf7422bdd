"""An in-process state store, for tests and `rollout simulate`. Same semantics as SQLite."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

from rollout.errors import LeaseHeld
from rollout.records import Event, Holder, Run
from rollout.state import _common as common


class MemoryStore:
    def __init__(self, *, now: common.Now | None = None, hostname: str | None = None) -> None:
        self._now = now or common.utcnow
        self._hostname = hostname or common.hostname()
        self._lock = threading.Lock()  # the runner and a control verb may share one in tests
        self._runs: dict[str, Run] = {}  # latest attempt per rollout
        self._events: dict[str, list[Event]] = {}
        self._leases: dict[str, tuple[Holder, str]] = {}  # name -> (holder, token)

    def load(self, name: str) -> Run | None:
        with self._lock:
            return self._runs.get(name)

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        with self._lock:
            cur = self._runs.get(run.name)
            common.check_revision(
                run, None if cur is None else (cur.attempt, cur.revision), expected_revision
            )
            new = run.model_copy(update={"revision": expected_revision + 1})
            self._runs[run.name] = new
            log = self._events.setdefault(run.name, [])
            for e in events:
                log.append(e.model_copy(update={"seq": len(log) + 1, "attempt": run.attempt}))
            return new

    def history(self, name: str, *, limit: int = 50, all_attempts: bool = False) -> list[Event]:
        with self._lock:
            run = self._runs.get(name)
            evs = list(self._events.get(name, []))
        if run is not None and not all_attempts:
            evs = [e for e in evs if e.attempt == run.attempt]
        return evs[-limit:] if limit else evs

    def lease(
        self, name: str, holder: Holder, *, ttl: float = common.DEFAULT_TTL
    ) -> AbstractContextManager[common.LeaseHandle]:
        def acquire() -> common.Acquired:
            with self._lock:
                now = self._now()
                held = self._leases.get(name)
                if held and not common.may_take_over(held[0], holder, now, self._hostname):
                    raise LeaseHeld(common.held_message(name, held[0]))
                token = uuid.uuid4().hex
                mine = holder.model_copy(update={"since": now, "expires": common.expiry(now, ttl)})
                self._leases[name] = (mine, token)
                taken = held[0] if held and not common.same_holder(held[0], holder) else None
                return token, taken

        def renew(token: str) -> None:
            with self._lock:
                held = self._leases.get(name)
                if held is None or held[1] != token:
                    who = f"now held by {held[0]}" if held else "no longer held"
                    raise LeaseHeld(f"lost the lease on {name} ({who}); stopping without changes")
                new = held[0].model_copy(update={"expires": common.expiry(self._now(), ttl)})
                self._leases[name] = (new, token)

        def release(token: str) -> None:
            with self._lock:
                held = self._leases.get(name)
                if held is not None and held[1] == token:
                    del self._leases[name]

        return common.hold(acquire, renew, release)

    def holder(self, name: str) -> Holder | None:
        """The current lease holder, if any (for tests and `status`)."""
        with self._lock:
            held = self._leases.get(name)
        return held[0] if held else None

    def runs(self) -> list[Run]:
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: r.name)


def open_url(url: str) -> MemoryStore:
    return MemoryStore()
