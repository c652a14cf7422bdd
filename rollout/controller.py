"""`rollout controller`: stateless replicas that drive every active rollout in one store.

Each replica loops: put new and changed rollouts on the schedule (`Claims.sync`), claim a batch
of due ones (`Claims.claim_due`: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never wait
on each other), and for each claimed rollout do what `rollout reconcile` does for one: take its
lease, run the runner once (observe, advance, commit, act fenced, verify), release the lease,
and reschedule it at its last look + the analysis interval. A claim only spreads the work: the
lease, the fence and the revision check are what keep two replicas (or a replica and an
`apply`) from both moving traffic, exactly as for two `apply` processes.

A replica that dies leaves at most one lease (taken over at once on the same host, or at its
expiry) and one batch of claims (taken by others after `claim_ttl`); both takeovers go into the
rollout's audit trail. SIGTERM: finish the rollout in hand, give the rest of the batch back,
exit. Time is injected (`clock`); stores without claims (memory) get an in-process schedule,
which is right for one replica only.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rollout.clock import Clock
from rollout.errors import LeaseHeld, RolloutError
from rollout.records import Event, Phase, Run
from rollout.state import Claim, Claims, StateStore

BATCH = 16  # claims per round trip: fewer transactions, and little to give back on SIGTERM
CLAIM_TTL = 30.0  # a dead replica's unlooked claims go to the others after this (a slow look
# past it costs a second look, skipped on the lease, never a second act)
SYNC_EVERY = 5.0  # seconds between looks for new or changed rollouts
IDLE = 1.0  # seconds to sleep when nothing is due


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Look:
    """One claimed rollout looked at: what the benchmark and the log line need."""

    name: str
    due: datetime
    decided: datetime
    result: str  # the phase after the look, or skipped / error / gone
    message: str
    changed: bool  # the look committed something

    @property
    def lag(self) -> float:
        return max(0.0, (self.decided - self.due).total_seconds())


def next_due(run: Run, now: datetime) -> datetime | None:
    """Last look + the analysis interval (never in the past); None once the run is finished."""
    if run.phase.finished:
        return None
    interval = timedelta(seconds=float(run.plan.spec.analysis.interval))
    due = (run.last_tick_at or now) + interval
    return due if due > now else now + interval  # nothing was due at all: look again later


class LocalClaims:
    """The schedule in this process, for stores without `Claims` (one replica)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.due: dict[str, tuple[datetime, tuple[int, int]]] = {}
        self.held: set[str] = set()

    def sync(self, now: datetime) -> None:
        for r in self.store.runs():
            seen = (r.attempt, r.revision)
            if r.phase.finished:
                continue
            old = self.due.get(r.name)
            if old is None or old[1] != seen:
                self.due[r.name] = (min(now, old[0]) if old else now, seen)

    def claim_due(self, owner: str, now: datetime, *, limit: int, ttl: float) -> list[Claim]:
        ready = sorted((d, n) for n, (d, _) in self.due.items() if d <= now and n not in self.held)
        out = [Claim(n, d, None) for d, n in ready[:limit]]
        self.held.update(c.name for c in out)
        return out

    def reschedule(
        self, name: str, owner: str, due: datetime | None, seen: tuple[int, int]
    ) -> None:
        self.held.discard(name)
        if due is None:
            self.due.pop(name, None)
        else:
            self.due[name] = (due, seen)


def claims_of(store: StateStore) -> Claims:
    inner: Any = getattr(store, "inner", store)  # the redacting wrapper passes claims through
    if all(hasattr(inner, m) for m in ("sync", "claim_due", "reschedule")):
        keep = getattr(inner, "keep_connections", None)
        if keep is not None:
            keep()  # PostgreSQL: one connection per thread, not one per transaction
        found: Claims = inner
        return found
    return LocalClaims(store)


@dataclass
class Controller:
    store: StateStore
    clock: Clock
    extra: dict[str, Any] | None = None
    owner: str = field(default_factory=replica_id)
    batch: int = BATCH
    claim_ttl: float = CLAIM_TTL
    sync_every: float = SYNC_EVERY
    idle: float = IDLE
    exit_when_done: bool = False  # stop once no rollout is active (tests, scheduled jobs)
    on_look: Callable[[Look], None] = lambda look: None
    stop: threading.Event = field(default_factory=threading.Event)
    max_rounds: int | None = None  # a safety net for tests
    claims: Claims | None = None
    workers: int = 1  # rollouts looked at at once: a look mostly waits on the store and router
    looks: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _executor: ThreadPoolExecutor | None = field(default=None, init=False)
    _synced: datetime | None = field(default=None, init=False)

    def run(self) -> int:
        claims = self.claims = self.claims or claims_of(self.store)
        rounds = 0
        while not self.stop.is_set():
            rounds += 1
            if self.max_rounds is not None and rounds > self.max_rounds:
                raise RuntimeError("controller round limit reached")
            now = self.clock.now()
            if self._synced is None or (now - self._synced).total_seconds() >= self.sync_every:
                self._quietly(claims.sync, now)
                self._synced = now
            batch: list[Claim] = (
                self._quietly(
                    claims.claim_due, self.owner, now, limit=self.batch, ttl=self.claim_ttl
                )
                or []
            )
            if not batch:
                if self.exit_when_done and not self._active():
                    return 0
                self._synced = None if self.exit_when_done else self._synced
                self.clock.sleep(self.idle)
                continue
            if self.workers == 1:
                for claim in batch:
                    self._one(claim)
            else:
                list(self._pool().map(self._one, batch))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        return 0

    def _one(self, claim: Claim) -> None:
        assert self.claims is not None
        if self.stop.is_set():  # give back what was not looked at: due as it was
            self._quietly(self.claims.reschedule, claim.name, self.owner, claim.due, (0, 0))
            return
        look = self.look(claim)
        with self._lock:
            self.looks += 1
            self.on_look(look)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="rollout-look")
        return self._executor

    def _quietly(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """A store blip costs this round, not the replica: it sleeps and tries again."""
        try:
            return fn(*args, **kw)
        except RolloutError:
            self.clock.sleep(self.idle)
            return None

    def _active(self) -> bool:
        return any(not r.phase.finished for r in self.store.runs())

    def look(self, claim: Claim) -> Look:
        """One claimed rollout, as `rollout reconcile` does it: lease, runner once, release."""
        from rollout import notify
        from rollout.commands.apply import lease_ttl
        from rollout.lease import LeaseKeeper
        from rollout.providers import build_all
        from rollout.runner import Runner, holder

        assert self.claims is not None
        run = self.store.load(claim.name)
        if run is None:
            self.claims.reschedule(claim.name, self.owner, None, (0, 0))
            return self._done(claim, "gone", "no such rollout", False)
        before = (run.attempt, run.revision)
        if claim.previous is not None:
            self._record(
                run.name,
                "takeover",
                f"controller {self.owner} took {run.name} over from replica {claim.previous}, "
                "whose claim expired before it finished its look",
                previous=claim.previous,
            )
        result, message = "", ""
        last: Run | None = None
        notifier = notify.start(run.plan, run.attempt)
        try:
            providers = build_all(run.plan, self.extra)
            ttl = lease_ttl(run.plan)
            with self.store.lease(run.name, holder(), ttl=ttl) as lease:
                if lease.previous is not None:
                    self._record(
                        run.name,
                        "takeover",
                        f"runner {lease.previous} left {run.name} at step "
                        f"{min(run.step_index + 1, len(run.plan.steps))} ({run.phase.value}) "
                        f"without releasing its lease; resumed by controller {self.owner}",
                        previous=lease.previous.model_dump(mode="json"),
                    )
                keeper = LeaseKeeper(lease, ttl, start=False)
                runner = Runner(
                    plan=run.plan,
                    store=self.store,
                    providers=providers,
                    clock=self.clock,
                    lease=keeper,
                    wait=True,
                    once=True,
                    on_event=notifier,
                )
                runner.run()
                last = runner._last  # what the runner last read or wrote: no reload needed
        except LeaseHeld as exc:
            result, message = "skipped", str(exc)  # an `apply` (or another replica) drives it
        except RolloutError as exc:
            result, message = "error", str(exc)
        finally:
            notifier.close(self.store, self.clock)
        latest = last if last is not None else (self.store.load(run.name) or run)
        now = self.clock.now()
        due = next_due(latest, now)
        if due is None and result in ("skipped", "error"):
            due = now + timedelta(seconds=float(latest.plan.spec.analysis.interval))
        self.claims.reschedule(run.name, self.owner, due, (latest.attempt, latest.revision))
        changed = (latest.attempt, latest.revision) != before
        return self._done(claim, result or latest.phase.value, message or latest.message, changed)

    def _done(self, claim: Claim, result: str, message: str, changed: bool) -> Look:
        return Look(claim.name, claim.due, self.clock.now(), result, message, changed)

    def _record(self, name: str, kind: str, message: str, **data: Any) -> None:
        from rollout.runner import actor
        from rollout.state.update import update

        ev = Event(kind=kind, at=self.clock.now(), actor=actor(), message=message, data=data)
        try:
            update(self.store, name, lambda latest: (latest, [ev]), what=f"record the {kind}")
        except RolloutError:
            pass  # the audit note must never stand in the way of traffic


__all__ = ["Controller", "LocalClaims", "Look", "Phase", "claims_of", "next_due", "replica_id"]
