"""Notifications: Slack, Microsoft Teams and a generic JSON webhook, from the run's events.

    notifier = notify.start(plan)                 # a no-op (no thread, no httpx) without targets
    runner = Runner(..., on_event=notifier.wrap(progress.event))
    ...
    notifier.close(store, clock)                  # waits at most the timeout, records failures

Each notification is sent from its own daemon thread with a deadline of `timeout` seconds
(default 3) from the moment its event was committed, retries included (connection errors and
408/429/5xx are retried with a short back-off while time is left). Nothing on the runner's path
waits for a webhook: a shift or a rollback is committed and acted on whatever the endpoint does.
`close` waits for the sends in flight until their deadlines at the latest, then records every
failure in the run's event log as an event of kind `notify` (with the error, the URL masked: the
URL, its query tokens and every header value join the known secrets before anything is sent).
Failures are recorded by the caller's thread after the runner returned, never from the sending
thread, so a notification can never race the runner's own commits.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rollout import secrets
from rollout.notify.config import KINDS, NotifyTarget
from rollout.notify.messages import BODIES, Notification, Tracker

if TYPE_CHECKING:
    from rollout.clock import Clock
    from rollout.records import Event, Plan
    from rollout.state import StateStore

MAX_IN_FLIGHT = 16  # sends at once per notifier; beyond that a notification fails at once
BACKOFF = 0.2  # seconds before the first retry; doubled each time, always within the deadline

__all__ = ["KINDS", "Failure", "Notifier", "NotifyTarget", "send_events", "start"]


@dataclass(frozen=True)
class Failure:
    target: str  # slack, teams, webhook
    url_env: str
    kind: str  # what the notification was about
    error: str  # masked
    at: float  # time.monotonic() when it was given up

    def message(self) -> str:
        return f"{self.target} notification ({self.kind}) via ${self.url_env} failed: {self.error}"


@dataclass
class _Send:
    target: NotifyTarget
    note: Notification
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)


class Notifier:
    """Feeds one run's events to its notification targets. Never raises into the caller."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        rollout: str,
        attempt: int | None = None,
        env: Mapping[str, str] | None = None,
        post: Callable[..., Any] | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.rollout = rollout
        self.tracker = Tracker(rollout, attempt)
        self.env = env if env is not None else os.environ
        self._post = post  # for tests: replaces httpx.post
        self._lock = threading.Lock()
        self._sends: list[_Send] = []
        self.failures: list[Failure] = []
        self.sent: list[tuple[str, str]] = []  # (target type, kind) delivered
        self._stop = threading.Event()
        self._abandoned: set[int] = set()  # sends given up by wait(): their late end is ignored
        self._ended: set[int] = set()  # sends whose end (sent or failed) is recorded

    # -- feeding ----------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if not self.targets:
            return
        try:
            note = self.tracker.classify(event)
        except Exception:  # a notification must never stand in the way of the rollout
            return
        if note is None:
            return
        for t in self.targets:
            if t.wants(note.kind):
                self._start(t, note)

    def wrap(self, fn: Callable[[Event], None]) -> Callable[[Event], None]:
        """`fn`, then this notifier: for the runner's on_event."""
        if not self.targets:
            return fn

        def both(event: Event) -> None:
            fn(event)
            self(event)

        return both

    def _start(self, target: NotifyTarget, note: Notification) -> None:
        s = _Send(target, note, time.monotonic() + target.timeout)
        with self._lock:
            busy = sum(1 for x in self._sends if not x.done.is_set())
            if busy >= MAX_IN_FLIGHT:
                self._fail(s, f"{busy} notifications already in flight; not sent")
                s.done.set()
                return
            self._sends.append(s)
        threading.Thread(target=self._run, args=(s,), name="rollout-notify", daemon=True).start()

    # -- sending (in the send's own thread) ---------------------------------------------------
    def _run(self, s: _Send) -> None:
        try:
            self._deliver(s)
            with self._lock:
                if id(s) not in self._abandoned:
                    self._ended.add(id(s))
                    self.sent.append((s.target.type, s.note.kind))
        except Exception as exc:
            self._fail(s, str(exc) or type(exc).__name__)
        finally:
            s.done.set()

    def _deliver(self, s: _Send) -> None:
        t = s.target
        url = self.env.get(t.url_env, "").strip()
        if not url:
            raise RuntimeError(f"the environment variable {t.url_env} is not set")
        _register(url)
        if not url.startswith(("https://", "http://")):
            raise RuntimeError(f"${t.url_env} is not an http(s) URL")
        headers = {"Content-Type": "application/json"}
        for name, var in t.headers_env.items():
            value = self.env.get(var)
            if value is None:
                raise RuntimeError(f"the environment variable {var} (header {name}) is not set")
            secrets.register(value, value.rpartition(" ")[2])  # `Bearer TOKEN`: the token too
            headers[name] = value
        body = json.dumps(BODIES[t.type](s.note), default=str).encode("utf-8")
        post = self._post or _httpx_post
        attempt = 0
        while True:
            left = s.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {t.timeout:g}s")
            status, error = post(url, body, headers, left)
            if error is None and status is not None and status < 300:
                return
            retryable = error is not None or status in (408, 429) or (status or 0) >= 500
            why = error or f"HTTP {status}"
            attempt += 1
            if not retryable or attempt > t.retries:
                raise RuntimeError(why)
            pause = BACKOFF * 2 ** (attempt - 1)
            if time.monotonic() + pause >= s.deadline:
                raise RuntimeError(f"{why} (no time left to retry within {t.timeout:g}s)")
            self._stop.wait(pause)

    def _failure(self, s: _Send, error: str) -> Failure:
        from rollout.redact import redact_text

        url = self.env.get(s.target.url_env, "")
        text = error.replace(url, "***") if url else error
        return Failure(
            s.target.type, s.target.url_env, s.note.kind, redact_text(text), time.monotonic()
        )

    def _fail(self, s: _Send, error: str) -> None:
        f = self._failure(s, error)
        with self._lock:
            if id(s) not in self._abandoned and id(s) not in self._ended:
                self._ended.add(id(s))
                self.failures.append(f)

    # -- closing ------------------------------------------------------------------------------
    def wait(self) -> None:
        """Until every send is done or past its deadline (never longer than that)."""
        with self._lock:
            sends = list(self._sends)
        for s in sends:
            left = s.deadline - time.monotonic()
            if s.done.wait(max(0.0, left) + 0.05):
                continue
            given_up = self._failure(s, f"no answer within {s.target.timeout:g}s; given up")
            # One record per send: the sending thread may end (and record) at this very moment,
            # so giving up and recording it are one step under the lock.
            with self._lock:
                if id(s) not in self._ended:
                    self._abandoned.add(id(s))
                    self._ended.add(id(s))
                    self.failures.append(given_up)

    def close(self, store: StateStore | None = None, clock: Clock | None = None) -> list[Failure]:
        """Wait (bounded by the deadlines), then record each failure as a `notify` event."""
        if not self.targets:
            return []
        self.wait()
        self._stop.set()
        with self._lock:
            failures, self.failures = list(self.failures), []
        if store is not None and failures:
            record(store, self.rollout, failures, clock)
        return failures


def _register(url: str) -> None:
    """The webhook URL is the credential: all of it, its path (Slack's and Teams' tokens live
    there) and its query tokens join the known secrets."""
    from urllib.parse import urlsplit

    secrets.register(url)
    secrets.register_url(url)
    try:
        path = urlsplit(url).path
    except ValueError:
        return
    if len(path) >= 12:
        secrets.register(path, path.strip("/"))


def _httpx_post(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None]:
    import httpx  # lazily: `rollout --help` imports no httpx

    try:
        r = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return None, f"no answer within the timeout ({timeout:.1f}s left)"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return r.status_code, None


def record(
    store: StateStore, name: str, failures: Sequence[Failure], clock: Clock | None = None
) -> None:
    """The failures into the run's event log (best effort: never in the way of traffic)."""
    from datetime import UTC, datetime

    from rollout.errors import RolloutError
    from rollout.records import Event
    from rollout.redact import redact_text
    from rollout.state.update import update

    now = clock.now() if clock is not None else datetime.now(UTC)
    events = [
        Event(
            kind="notify",
            at=now,
            message=redact_text(f.message()),
            data={
                "target": f.target,
                "url_env": f.url_env,
                "notification": f.kind,
                "error": f.error,
            },
        )
        for f in failures
    ]
    try:
        update(store, name, lambda latest: (latest, events), what="record a failed notification")
    except RolloutError:
        pass


def start(plan: Plan, attempt: int | None = None, env: Mapping[str, str] | None = None) -> Notifier:
    """The notifier of a plan's `notify:` targets (a no-op one when there are none)."""
    return Notifier(getattr(plan.spec, "notify", ()) or (), plan.name, attempt, env)


def send_events(
    plan: Plan,
    events: Sequence[Event],
    store: StateStore | None = None,
    clock: Clock | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Failure]:
    """For verbs that record events themselves (abort): send, wait (bounded), record failures."""
    n = start(plan, env=env)
    for e in events:
        n(e)
    return n.close(store, clock)


def after_abort(store: StateStore | None, name: str, clock: Clock | None = None) -> None:
    """`rollout abort` records the abort itself (no runner): notify it, once the baseline is
    restored, verified and recorded. Bounded by the targets' timeouts; never raises."""
    from rollout.errors import RolloutError

    if store is None:
        return
    try:
        run = store.load(name)
        if run is None or not getattr(run.plan.spec, "notify", None):
            return
        last = store.history(name, limit=1)
    except RolloutError:
        return
    if last and last[-1].kind == "phase" and last[-1].data.get("phase") == "aborted":
        send_events(run.plan, last, store, clock)
