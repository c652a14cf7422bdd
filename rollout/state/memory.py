"""An in-process state store, for tests and `rollout simulate`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from rollout.errors import LeaseHeld, StaleState
from rollout.model import Event, Holder, Run


class _Lease:
    def renew(self) -> None:
        pass


class MemoryStore:
    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._events: dict[str, list[Event]] = {}
        self._leases: dict[str, Holder] = {}

    def load(self, name: str) -> Run | None:
        return self._runs.get(name)

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        cur = self._runs.get(run.name)
        if expected_revision == 0:
            if cur is not None and cur.attempt >= run.attempt:
                raise StaleState(f"{run.name}: attempt {run.attempt} already exists")
        elif cur is None or cur.revision != expected_revision or cur.attempt != run.attempt:
            raise StaleState(f"{run.name}: revision moved on")
        new = run.model_copy(update={"revision": expected_revision + 1})
        self._runs[run.name] = new
        log = self._events.setdefault(run.name, [])
        for e in events:
            log.append(e.model_copy(update={"seq": len(log) + 1, "attempt": run.attempt}))
        return new

    def history(self, name: str, *, limit: int = 50, all_attempts: bool = False) -> list[Event]:
        run = self._runs.get(name)
        evs = self._events.get(name, [])
        if run is not None and not all_attempts:
            evs = [e for e in evs if e.attempt == run.attempt]
        return evs[-limit:] if limit else evs

    @contextmanager
    def lease(self, name: str, holder: Holder, *, ttl: float) -> Iterator[_Lease]:
        if name in self._leases:
            raise LeaseHeld(f"{name} is being applied by {self._leases[name]}")
        self._leases[name] = holder.model_copy(update={"since": datetime.now(UTC)})
        try:
            yield _Lease()
        finally:
            self._leases.pop(name, None)

    def runs(self) -> list[Run]:
        return sorted(self._runs.values(), key=lambda r: r.name)


def open_url(url: str) -> MemoryStore:
    return MemoryStore()
