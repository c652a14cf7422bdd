"""A state-store wrapper that masks secrets in everything written: the one redaction point for
state, whatever the backend (SQLite, PostgreSQL, memory).

Runs and events carry text from outside: a gateway's error body, httpx's message about a bad
header, Prometheus' own `error` field, a `--reason`. Each of them may quote a credential the
tool configured. Before a commit reaches the backend, every string in the run and its events is
masked: known secret values (rollout.secrets) everywhere, and secret-looking patterns
(`Bearer ...`, `password=...`) everywhere except the stored plan itself, which was checked for
literal secrets at load and must stay usable (abort builds the router from it). Reads pass
through: what was written is already clean.

The state URL's own password joins the known secrets when the store is opened, so a driver
message that quotes the URL is masked in every writer too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pydantic import BaseModel

from rollout import secrets
from rollout.records import Event, Holder, Run

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


def masked_run(run: Run) -> Run:
    plan = masked(run.plan, secrets.mask)  # known values only: the plan must stay usable
    rest = masked(run.model_copy(update={"plan": plan}) if plan is not run.plan else run)
    return rest if isinstance(rest, Run) else run


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
