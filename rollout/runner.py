"""The imperative shell around the pure engine:

    lease -> load run -> observe (router, metrics) -> advance -> commit -> act -> verify -> sleep

Commit before acting, verify after: a crash between the two heals on resume (the engine sees
the router disagree with the recorded weights and sets them again).
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout import engine
from rollout.clock import Clock
from rollout.errors import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_RUNTIME,
    EXIT_WAITING,
    InvalidInput,
    NoData,
    ProviderError,
    RolloutError,
    StaleState,
)
from rollout.gates.evaluate import Tick
from rollout.metrics import Window
from rollout.providers import Providers
from rollout.records import Event, Holder, Phase, Plan, Run, Weights
from rollout.state import StateStore

WAIT_POLL = 1.0  # seconds between looks at the store while sleeping (intents, abort)


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


@dataclass
class Runner:
    plan: Plan
    store: StateStore
    providers: Providers
    clock: Clock
    until_index: int | None = None
    wait: bool = False  # keep waiting while paused / awaiting approval instead of exiting 5
    on_event: Callable[[Event], None] = lambda e: None
    on_tick: Callable[[Run, datetime], None] = lambda r, n: None
    max_loops: int | None = None  # a safety net for tests
    _loops: int = field(default=0, init=False)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            self._loops += 1
            if self.max_loops is not None and self._loops > self.max_loops:
                raise RuntimeError("runner loop limit reached")
            run = self._load()
            now = self.clock.now()
            code = self._stop_code(run)
            if code is not None:
                return code
            wants = engine.wanted(self.plan, run, now)
            obs = self._observe(run, wants, now)
            decision = engine.advance(self.plan, run, obs, now)
            self._before_shift(decision.actions, run)
            before, phase_before = run.desired, run.phase
            try:
                run = self._commit(run, decision.run, decision.events, now)
            except StaleState:
                continue  # someone (abort, pause, promote) wrote first: decide again
            if decision.actions:
                run = self._act(run, decision.actions, before)
            if run.phase == Phase.COMPLETED and decision.run.phase != phase_before:
                run = self._finalize(run)
            self.on_tick(run, now)
            code = self._stop_code(run)
            if code is not None:
                return code
            if decision.wake_at is None:
                if run.phase in (Phase.PAUSED, Phase.AWAITING_APPROVAL) and self.wait:
                    self._sleep_until(run, self.clock.now().timestamp() + engine.POLL_SECONDS)
                continue
            self._sleep_until(run, decision.wake_at.timestamp())

    def _stop_code(self, run: Run) -> int | None:
        code = exit_code_for(run)
        if code == EXIT_WAITING and (self.wait or run.intent is not None):
            return None  # an intent (promote, resume) may move a waiting run on
        if code is None and self.until_index is not None and run.step_index >= self.until_index:
            return EXIT_OK
        return code

    def _load(self) -> Run:
        run = self.store.load(self.plan.name)
        if run is None:
            raise RolloutError(f"rollout {self.plan.name} vanished from the state store")
        return run

    def _commit(self, old: Run, new: Run, events: tuple[Event, ...], now: datetime) -> Run:
        if new == old and not events:
            return old
        new = new.model_copy(update={"updated_at": now})
        stored = self.store.commit(new, events, expected_revision=old.revision)
        for e in events:
            self.on_event(e)
        return stored

    def _sleep_until(self, run: Run, wake: float) -> None:
        """Sleep, but look at the store every WAIT_POLL seconds so an abort or pause is seen at once."""
        while True:
            left = wake - self.clock.now().timestamp()
            if left <= 0:
                return
            self.clock.sleep(min(WAIT_POLL, left))
            latest = self.store.load(self.plan.name)
            if latest is None or latest.revision != run.revision:
                return

    # -- observing ----------------------------------------------------------------------------
    def _observe(self, run: Run, wants: engine.Wants, now: datetime) -> engine.Observation:
        weights = self.providers.router.get_weights()
        preflight = self._preflight(weights) if wants.preflight else None
        ticks = self._ticks(wants.tick) if wants.tick is not None else {}
        return engine.Observation(weights=weights, ticks=ticks, preflight=preflight)

    def _preflight(self, weights: Weights) -> dict[str, str]:
        checks = {"router": f"reachable ({weights})"}
        for name, source in self.providers.sources.items():
            source.check()
            checks[f"metrics{':' + name if name else ''}"] = "reachable"
        if self.providers.deployments is not None:
            first = next((s.weight for s in self.plan.steps if s.kind == "set_weight"), 100)
            checks.update(self.providers.deployments.preflight(Weights.of(first or 100)))
        return checks

    def _ticks(self, req: engine.TickRequest) -> dict[str, Tick]:
        from rollout.metrics.render import render_query

        window = Window(req.start, req.end)
        gates = engine.gate_specs(self.plan)
        interval = self.plan.spec.analysis.interval
        out: dict[str, Tick] = {}
        for name in req.gates:
            gate = gates[name]
            source = self.providers.source_for(gate)
            roles = gate.queries()
            readings: dict[str, dict[str, float]] | None = {}
            error = None
            try:
                for variant, info in self.providers.ctx.variants.items():
                    values: dict[str, float] = {}
                    try:
                        for role, template in roles.items():
                            q = render_query(
                                template,
                                variant=variant,
                                target=info["target"],
                                window=window,
                                model=info.get("model") or "",
                                model_version=info.get("model_version"),
                                stage=req.stage,
                                interval=interval,
                            )
                            values[role] = float(source.query(q, window))
                    except NoData:
                        if variant == "candidate":
                            raise
                        continue  # no baseline traffic (a 100 % stage): absolute bounds still judge
                    assert readings is not None
                    readings[variant] = values
            except NoData:
                readings = None
            except (ProviderError, InvalidInput) as exc:  # never a pass: the gate is inconclusive
                readings, error = None, str(exc)
            out[name] = Tick(
                at=req.end, stage=req.stage, weight=req.weight, readings=readings, error=error
            )
        return out

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
                    self.on_event(Event(kind="capacity", at=self.clock.now(), message=str(note)))

    def _act(self, run: Run, actions: tuple[engine.Action, ...], before: Weights | None) -> Run:
        for action in actions:
            try:
                if (
                    self.providers.deployments is not None
                    and before is not None
                    and action.weights.candidate <= before.candidate
                ):
                    # scaling down for a rollback never blocks it: notes only
                    for note in self.providers.deployments.before_shift(action.weights) or []:
                        self.on_event(
                            Event(kind="capacity", at=self.clock.now(), message=str(note))
                        )
                self.providers.router.set_weights(action.weights)
                seen = self.providers.router.get_weights()
                if seen != action.weights:
                    raise ProviderError(
                        f"the router reports {seen} after being set to {action.weights}"
                    )
            except RolloutError as exc:
                return self._act_failed(run, action, exc)
        if run.phase == Phase.ROLLING_BACK:
            ev = Event(
                kind="phase",
                at=self.clock.now(),
                message="rolled back: baseline restored and verified",
                data={
                    "phase": Phase.ROLLED_BACK.value,
                    "weights": Weights.all_baseline().model_dump(),
                },
            )
            run = self._commit_retrying(run, {"phase": Phase.ROLLED_BACK}, ev)
        latest = self._load()
        if latest.phase == Phase.ABORTED and latest.revision != run.revision:
            # An abort landed while we were acting: make sure our write did not undo its restore.
            self.providers.router.set_weights(Weights.all_baseline())
            return latest
        return run

    def _finalize(self, run: Run) -> Run:
        """After promotion: the deployments manager keeps, scales down or deletes the old baseline."""
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
        from rollout import output

        rollingback = run.phase in (Phase.ROLLING_BACK, Phase.ABORTED)
        msg = (
            (
                f"ROLLBACK INCOMPLETE: could not restore the baseline for {run.name}: {exc}\n"
                f"Traffic may still reach the candidate. Run `rollout abort {run.name}` to retry, "
                f"or restore the baseline in the router by hand."
            )
            if rollingback
            else (
                f"could not shift traffic to {action.weights}: {exc}. Traffic left as recorded; "
                f"run `rollout apply` again to resume, or `rollout abort {run.name}`."
            )
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
        if rollingback:
            output.loud(msg)
        raise _ActFailed(msg, EXIT_RUNTIME) from exc


class _ActFailed(RolloutError):
    def __init__(self, msg: str, code: int) -> None:
        super().__init__(msg)
        self.exit_code = code
