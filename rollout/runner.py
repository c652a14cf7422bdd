"""The imperative shell around the pure engine:

    lease -> load run -> observe (router, metrics) -> advance -> commit -> act (fenced) -> verify

Commit before acting, verify after, record what the router confirmed (`Run.verified`): a crash
anywhere in between heals on the next look (engine.heal). Every router write toward the
candidate is fenced (rollout.fencing): just before each attempt the runner re-reads the run and
its lease, and a write that lost the race (an abort, a pause, a newer revision) is never sent.
State-store blips are retried for `store_patience` seconds; while nothing can be recorded,
nothing is moved. The runner never prints: it reports through `on_event` and `on_tick`.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from rollout import engine, faults, fencing
from rollout.clock import Clock
from rollout.errors import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_RUNTIME,
    EXIT_WAITING,
    Fenced,
    ProviderError,
    RolloutError,
    StaleState,
    StateError,
)
from rollout.observe import Observer
from rollout.providers import Providers
from rollout.records import Event, Holder, Phase, Plan, Run, Weights
from rollout.state import StateStore

WAIT_POLL = 1.0  # seconds between looks at the store while sleeping (intents, abort)
STORE_PATIENCE = 120.0  # how long a store outage is ridden out before stopping (exit 1)
T = TypeVar("T")


class LeaseGuard(Protocol):
    # Raises Fenced (LeaseLost) when this process may no longer act for the rollout.
    def check(self) -> None: ...


def holder() -> Holder:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER", "unknown")
    return Holder(user=user, host=socket.gethostname(), pid=os.getpid())


def actor() -> str:
    h = holder()
    return f"{h.user}@{h.host}"


def exit_code_for(run: Run) -> int | None:
    """The exit code a run's phase stands for, or None while it is still moving."""
    return {
        Phase.COMPLETED: EXIT_OK,
        Phase.ROLLED_BACK: EXIT_ROLLED_BACK,
        Phase.ABORTED: EXIT_ABORTED,
        Phase.AWAITING_APPROVAL: EXIT_WAITING,
        Phase.PAUSED: EXIT_WAITING,
    }.get(run.phase)


def new_run(plan: Plan, now: datetime, *, attempt: int = 1) -> Run:
    return Run(
        name=plan.name,
        attempt=attempt,
        plan_hash=plan.plan_hash,
        plan=plan,
        created_at=now,
        updated_at=now,
    )


class ActFailed(RolloutError):
    def __init__(self, msg: str, code: int, *, loud: bool = False) -> None:
        super().__init__(msg)
        self.exit_code = code
        self.loud = loud


@dataclass
class Runner:
    plan: Plan
    store: StateStore
    providers: Providers
    clock: Clock
    until_index: int | None = None
    wait: bool = False  # keep waiting (and watching) while paused / awaiting approval
    on_event: Callable[[Event], None] = lambda e: None
    on_tick: Callable[[Run, datetime], None] = lambda r, n: None
    lease: LeaseGuard | None = None
    store_patience: float = STORE_PATIENCE
    once: bool = False  # reconcile: do what is due now, then return instead of sleeping
    max_loops: int | None = None  # a safety net for tests
    _loops: int = field(default=0, init=False)
    _last: Run | None = field(default=None, init=False)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            self._loops += 1
            if self.max_loops is not None and self._loops > self.max_loops:
                raise RuntimeError("runner loop limit reached")
            if self.lease is not None:
                self.lease.check()
            run = self._load()
            now = self.clock.now()
            if self._done(run) is not None and not self._must_look(run):
                return self._done(run) or EXIT_OK
            faults.point("observe")
            wants = engine.wanted(self.plan, run, now)
            obs = self._observe(run, wants, now)
            if wants.evaluate:
                now = self.clock.now()  # an eval takes minutes: its verdicts are dated when known
            decision = engine.advance(self.plan, run, obs, now)
            self._before_shift(decision.actions, run)
            phase_before = run.phase
            faults.point("commit")
            try:
                run = self._commit(run, decision.run, decision.events, now)
            except StaleState:
                continue  # someone (abort, pause, promote) wrote first: decide again
            faults.point("act")
            if decision.actions:
                try:
                    run = self._act(run, decision.actions)
                except Fenced as exc:
                    if self.lease is not None:
                        self.lease.check()  # a lost lease stops the runner here
                    self._emit("fenced", f"router write withheld: {exc}")
                    continue
            if run.phase == Phase.COMPLETED and decision.run.phase != phase_before:
                run = self._finalize(run)
            self.on_tick(run, now)
            code = self._done(run)
            if code is not None and not decision.actions:
                return code
            if code is not None:
                continue  # look once more: a finished run's router is checked before leaving
            if self.once and (decision.wake_at is None or decision.wake_at > self.clock.now()):
                return exit_code_for(run) or EXIT_OK  # nothing more is due: come back later
            if decision.wake_at is None:
                self._sleep_until(run, self.clock.now().timestamp() + engine.POLL_SECONDS)
                continue
            self._sleep_until(run, decision.wake_at.timestamp())

    def _done(self, run: Run) -> int | None:
        code = exit_code_for(run)
        if code == EXIT_WAITING and (self.wait or run.intents):
            return None  # an intent (promote, resume) may move a waiting run on
        if code is None and self.until_index is not None and run.step_index >= self.until_index:
            return EXIT_OK
        return code

    def _must_look(self, run: Run) -> bool:
        """Before leaving, one look: a finished run's router against the baseline (level-
        triggered), a waiting run's candidate judged if a tick is due (never unwatched)."""
        if run.intents:
            return True
        if run.phase in (Phase.ABORTED, Phase.ROLLED_BACK):
            return run.desired is None or run.verified != run.desired or self._loops == 1
        if run.phase in engine.WAITING_PHASES:
            return engine.wanted(self.plan, run, self.clock.now()).tick is not None
        return False

    # -- the store, ridden through blips ----------------------------------------------------
    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        start = self.clock.now()
        attempt = 0
        while True:
            try:
                return fn()
            except StaleState:
                raise
            except StateError as exc:
                attempt += 1
                waited = (self.clock.now() - start).total_seconds()
                if waited >= self.store_patience:
                    raise StateError(
                        f"{exc} — the state store has been unreachable for {waited:.0f}s while "
                        f"trying to {what}. Nothing was moved while it could not record: traffic "
                        f"is as last recorded ({self._last_known()}). Run `rollout apply` again "
                        f"to resume, or `rollout abort {self.plan.name} --plan FILE`."
                    ) from None
                if attempt == 1:
                    self._emit("store", f"state store unavailable ({exc}); retrying")
                self.clock.sleep(min(5.0, 0.25 * 2 ** min(attempt, 5)))

    def _last_known(self) -> str:
        return str(self._last.desired) if self._last is not None and self._last.desired else "?"

    def _load(self) -> Run:
        run = self._retrying("read the run", lambda: self.store.load(self.plan.name))
        if run is None:
            raise RolloutError(f"rollout {self.plan.name} vanished from the state store")
        self._last = run
        return run

    def _commit(self, old: Run, new: Run, events: tuple[Event, ...], now: datetime) -> Run:
        if new == old and not events:
            return old
        new = new.model_copy(update={"updated_at": now})
        stored = self._retrying(
            "record a decision",
            lambda: self.store.commit(new, events, expected_revision=old.revision),
        )
        faults.point("committed")
        for e in events:
            self.on_event(e)
        self._last = stored
        return stored

    def _emit(self, kind: str, message: str) -> None:
        self.on_event(Event(kind=kind, at=self.clock.now(), message=message))

    def _sleep_until(self, run: Run, wake: float) -> None:
        """Sleep, looking at the store every WAIT_POLL seconds (an abort is seen at once)."""
        while True:
            left = wake - self.clock.now().timestamp()
            if left <= 0:
                return
            self.clock.sleep(min(WAIT_POLL, left))
            if self.lease is not None:
                self.lease.check()
            latest = self._retrying("look for intents", lambda: self.store.load(self.plan.name))
            if latest is None or latest.revision != run.revision:
                return

    # -- observing ----------------------------------------------------------------------------
    def _observe(self, run: Run, wants: engine.Wants, now: datetime) -> engine.Observation:
        obs = Observer(self.plan, self.providers, self._emit).observe(wants)
        if wants.evaluate and self.plan.spec.evaluate is not None:
            import dataclasses

            from rollout.evaluation.command import run_evaluation

            ctx = self.providers.ctx
            got = run_evaluation(
                self.plan.spec.evaluate,
                plan_dir=ctx.plan_dir,
                plan_name=self.plan.name,
                variants=ctx.variants,
                fingerprints=self.plan.fingerprints,
                emit=self._emit,
            )
            obs = dataclasses.replace(obs, evaluation=got)
        return obs

    # -- acting -------------------------------------------------------------------------------
    def _before_shift(self, actions: tuple[engine.Action, ...], run: Run) -> None:
        """Capacity and quota for a shift toward the candidate, checked before it is recorded:
        a shortfall stops the rollout with nothing moved and nothing recorded (exit 1)."""
        dm = self.providers.deployments
        if dm is None:
            return
        for action in actions:
            if run.desired is None or action.weights.candidate > run.desired.candidate:
                for note in dm.before_shift(action.weights) or []:
                    self._emit("capacity", str(note))

    def _fence(self, run: Run) -> Callable[[], None]:
        """The check run before every attempt of a write toward the candidate."""

        def check() -> None:
            if self.lease is not None:
                self.lease.check()
            try:
                latest = self.store.load(self.plan.name)
            except StateError as exc:
                raise Fenced(f"cannot confirm the run is still current ({exc})") from None
            if latest is None or (latest.attempt, latest.revision) != (run.attempt, run.revision):
                raise Fenced("the run changed since this write was decided")
            if latest.intents:
                raise Fenced(f"a {latest.intents[0].action} is pending")

        return check

    def _act(self, run: Run, actions: tuple[engine.Action, ...]) -> Run:
        for action in actions:
            w = action.weights
            try:
                if (
                    self.providers.deployments is not None
                    and run.verified is not None
                    and (w.candidate <= run.verified.candidate)
                ):
                    # scaling down for a rollback never blocks it: notes only
                    for note in self.providers.deployments.before_shift(w) or []:
                        self._emit("capacity", str(note))
                faults.point("router_write")
                if w.candidate > 0:
                    with fencing.fence(self._fence(run)):
                        fencing.check()  # once here for every router; per attempt inside ours
                        self.providers.router.set_weights(w)
                else:
                    self.providers.router.set_weights(w)  # toward safety: never fenced
                faults.point("router_written")
                seen = self.providers.router.get_weights()
                if seen != w:
                    raise ProviderError(f"the router reports {seen} after being set to {w}")
            except Fenced:
                raise
            except RolloutError as exc:
                return self._act_failed(run, action, exc)
        return self._verified(run, actions[-1].weights)

    def _verified(self, run: Run, w: Weights) -> Run:
        """Record what the router confirmed; undo a candidate write an abort overtook."""
        update: dict[str, Any] = {"verified": w}
        events: tuple[Event, ...] = ()
        if run.phase == Phase.ROLLING_BACK:
            update["phase"] = Phase.ROLLED_BACK
            events = (
                Event(
                    kind="phase",
                    at=self.clock.now(),
                    message="rolled back: baseline restored and verified",
                    data={"phase": Phase.ROLLED_BACK.value, "weights": w.model_dump()},
                ),
            )
        try:
            return self._commit(run, run.model_copy(update=update), events, self.clock.now())
        except StaleState:
            latest = self._load()
        if latest.desired is not None and latest.desired.candidate < w.candidate:
            # An abort (or a rollback) landed while our write was in flight: undo it now.
            self.providers.router.set_weights(latest.desired)
            self._emit("fenced", f"a write of {w} raced a change to {latest.desired}: undone")
        return latest

    def _finalize(self, run: Run) -> Run:
        """After promotion: the deployments manager keeps, scales down or deletes the old
        baseline."""
        if self.providers.deployments is None:
            return run
        due = self.providers.deployments.finalize()
        if due is None:
            return run
        ev = Event(
            kind="finalize",
            at=self.clock.now(),
            message=f"old baseline kept until {due.isoformat(timespec='minutes')}; "
            f"run `rollout apply` again after that to finish the clean-up",
            data={"due": due.isoformat()},
        )
        return self._commit_retrying(run, {}, ev)

    def _commit_retrying(self, run: Run, update: dict[str, Any], event: Event) -> Run:
        for _ in range(5):
            try:
                return self._commit(run, run.model_copy(update=update), (event,), self.clock.now())
            except StaleState:
                run = self._load()
        raise StaleState(f"could not record {event.message!r}: the run keeps changing")

    def _act_failed(self, run: Run, action: engine.Action, exc: RolloutError) -> Run:
        rollingback = action.weights.candidate == 0
        if rollingback:
            msg = (
                f"ROLLBACK INCOMPLETE: could not restore the baseline for {run.name}: {exc}\n"
                f"Traffic may still reach the candidate. Run `rollout abort {run.name}` to "
                "retry, or restore the baseline in the router by hand; the next look at this "
                "rollout (apply, status, abort) re-asserts it."
            )
        else:
            msg = (
                f"could not shift traffic to {action.weights}: {exc}. Traffic left as recorded; "
                f"run `rollout apply` again to resume, or `rollout abort {run.name}`."
            )
        ev = Event(
            kind="error",
            at=self.clock.now(),
            message=msg.splitlines()[0],
            data={"weights": action.weights.model_dump(), "error": str(exc)},
        )
        try:
            self._commit_retrying(run, {"message": msg.splitlines()[0]}, ev)
        except RolloutError:
            pass
        raise ActFailed(msg, EXIT_RUNTIME, loud=rollingback) from exc


__all__ = ["EXIT_ABORTED", "ActFailed", "Runner", "actor", "exit_code_for", "holder", "new_run"]
