"""A state-store wrapper that masks secrets in everything written: the one redaction point for
state, whatever the backend (SQLite, PostgreSQL, memory).

Runs and events carry text from outside: a gateway's error body, httpx's message about a bad
header, Prometheus' own `error` field, a `--reason`. Each of them may quote a credential the
tool configured. Before a commit reaches the backend, every string in the run and its events is
masked: known secret values (rollout.secrets) and secret-looking patterns (`Bearer ...`,
`password=...`) everywhere, the stored plan included (as this module has always done: the
plan was checked for literal secrets at load, so a clean plan is unchanged by the patterns and
stays usable, abort builds the router from it; a masked one says where a secret would have
been written). Reads pass through: what was written is already clean.

The state URL's own password joins the known secrets when the store is opened, so a driver
message that quotes the URL is masked in every writer too.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pydantic import BaseModel

from rollout import secrets
from rollout.records import Event, Holder, Plan, Run

Mask = Callable[[str], str]


def _full(text: str) -> str:
    from rollout.redact import redact_text

    return redact_text(text)


def masked(value: Any, mask: Mask = _full) -> Any:
    """`value` with every string masked; the same object when nothing changed (no copies on the
    commit path of a clean run)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, BaseModel):
        changes: dict[str, Any] = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = masked(old, mask)
            if new is not old and new != old:
                changes[name] = new
        for name, old in (value.__pydantic_extra__ or {}).items():
            new = masked(old, mask)
            if new is not old and new != old:
                changes[name] = new
        return value.model_copy(update=changes) if changes else value
    if isinstance(value, dict):
        items = [(masked(k, mask), masked(v, mask)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        out = [masked(v, mask) for v in value]
        if all(a is b for a, b in zip(out, value, strict=True)):
            return value
        return type(value)(out)
    return value


class _CleanPlans:
    """Plan objects already masked under the secrets known then, by identity (weakly): a run's
    plan never changes while it goes on, and walking it was a fifth of a controller look."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[int, tuple[weakref.ref[Plan], frozenset[str]]] = {}

    def clean(self, plan: Plan, known: frozenset[str]) -> bool:
        found = self._seen.get(id(plan))
        return found is not None and found[0]() is plan and found[1] == known

    def add(self, plan: Plan, known: frozenset[str]) -> None:
        ident = id(plan)

        def gone(_: object) -> None:
            with self._lock:
                entry = self._seen.get(ident)
                if entry is not None and entry[0]() is None:
                    del self._seen[ident]

        with self._lock:
            self._seen[ident] = (weakref.ref(plan, gone), known)


_CLEAN = _CleanPlans()


def stored(plan: Plan, text: str) -> None:
    """`plan` was just parsed from `text`, a store's plans row (rollout.state.plans): written
    through this wrapper, so its patterns are masked; unless it holds a secret this process
    knows now, a commit need not walk it (a controller look loads a plan it never saw)."""
    known = secrets.known()
    if not secrets.any_known([text]):
        _CLEAN.add(plan, known)


def masked_run(run: Run) -> Run:
    known = secrets.known()
    plan = run.plan
    if not _CLEAN.clean(plan, known):
        # known values, then (the walk of the whole run did it too) secret-looking patterns
        out = masked(masked(plan, secrets.mask))
        plan = out if isinstance(out, Plan) else plan
        _CLEAN.add(plan, known)
    changes: dict[str, Any] = {"plan": plan} if plan is not run.plan else {}
    for name in Run.model_fields:
        if name != "plan":
            old = getattr(run, name)
            new = masked(old)
            if new is not old and new != old:
                changes[name] = new
    return run.model_copy(update=changes) if changes else run


def masked_event(event: Event) -> Event:
    out = masked(event)
    return out if isinstance(out, Event) else event


class RedactingStore:
    """Wraps a StateStore; commit masks, everything else is the wrapped store's."""

    def __init__(self, inner: Any, url: str | None = None) -> None:
        self.inner = inner
        secrets.register_url(url)

    def load(self, name: str) -> Run | None:
        run: Run | None = self.inner.load(name)
        return run

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        out: Run = self.inner.commit(
            masked_run(run),
            [masked_event(e) for e in events],
            expected_revision=expected_revision,
        )
        return out

    def history(self, name: str, *, limit: int = 50, all_attempts: bool = False) -> list[Event]:
        events: list[Event] = self.inner.history(name, limit=limit, all_attempts=all_attempts)
        return events

    def lease(
        self, name: str, holder: Holder, *, ttl: float = 300.0
    ) -> AbstractContextManager[Any]:
        lease: AbstractContextManager[Any] = self.inner.lease(name, holder, ttl=ttl)
        return lease

    def runs(self) -> list[Run]:
        runs: list[Run] = self.inner.runs()
        return runs

    def __getattr__(self, name: str) -> Any:  # holder(), close(), url, ...
        return getattr(self.inner, name)


def wrap(store: Any, url: str | None = None) -> Any:
    return store if isinstance(store, RedactingStore) else RedactingStore(store, url)


def opened(open_url: Callable[[str], Any], url: str) -> Any:
    """Open a backend with its URL's password already known (a connection error quoting the
    URL is masked too), wrapped."""
    secrets.register_url(url)
    return wrap(open_url(url), url)
