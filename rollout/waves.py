"""Waves: one change rolled across ordered targets (regions, deployments, tenants), one at a time.

A plan with `waves:` compiles to one child rollout per wave, named `<plan>-<wave>`: the plan with
that wave's router and metrics scope (when given) and, when the wave asks for an approval, an
approval before its first stage. `rollout apply` drives the children in order: wave k+1 is
created only after wave k completed (pilot -> expansion -> full, bakes and all), so a later
wave never starts on an unfinished one. A failure stops the line: the failed wave is back at its
baseline (the engine's own rollback, or an abort), later waves are never created, and each
earlier wave does what its `on_failure` says — `hold` (keeps the candidate; noted in its
history) or `rollback` (router to the baseline and verified first, then recorded as rolled
back, so every later look keeps the baseline). Every step is in the children's `history`.

Each child is an ordinary rollout: `status`, `history`, `report`, `abort`, `pause` and
`reconcile` work on it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollout.clock import Clock
from rollout.errors import (
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_RUNTIME,
    EXIT_WAITING,
    InvalidInput,
    RolloutError,
)
from rollout.records import Event, Phase, Plan, Run, Weights
from rollout.spec import NAME_RE, Wave
from rollout.state import StateStore


@dataclass(frozen=True)
class Child:
    index: int  # 0-based
    wave: Wave
    plan: Plan


def children(plan: Plan) -> list[Child]:
    """The wave plan's child rollouts, in order (pure)."""
    import re

    from rollout.compile import compile_plan

    waves = plan.spec.waves or []
    out = []
    for i, wave in enumerate(waves):
        name = f"{plan.name}-{wave.name}"
        if not re.match(NAME_RE, name):
            raise InvalidInput(
                f"{plan.source or plan.name}: waves[{i}].name: the rollout name {name!r} is too "
                "long (plan name + '-' + wave name must fit 63 characters)"
            )
        stages = list(plan.spec.stages)
        if wave.approval:
            stages[0] = stages[0].model_copy(update={"approval": True})
        update: dict[str, Any] = {"name": name, "waves": None, "stages": stages}
        if wave.router is not None:
            update["router"] = wave.router
        if wave.metrics is not None:
            update["metrics"] = wave.metrics
        spec = plan.spec.model_copy(update=update)
        out.append(Child(i, wave, compile_plan(spec, source=plan.source)))
    return out


def states(st: StateStore | None, plan: Plan) -> list[dict[str, Any]]:
    """Each wave, its rollout and where it is (`not started` until created): for views."""
    from rollout import wave_line

    declared = wave_line.lineage(plan, children(plan))["waves"]
    runs = {w["rollout"]: st.load(w["rollout"]) if st is not None else None for w in declared}
    return wave_line.rows(declared, runs)


def apply(
    plan: Plan,
    *,
    st: StateStore,
    clock: Clock,
    approve: bool = False,
    wait: bool = False,
    extra: dict[str, Any] | None = None,
    progress: Any = None,
) -> int:
    """Drive the waves in order as far as they go now. Exit 0 (every wave completed), 3 (a wave
    failed: the line stopped), 5 (a wave waits for a person), or the failed drive's code."""
    from rollout.wave_line import lineage

    kids = children(plan)
    line = lineage(plan, kids)
    for c in kids:
        run = st.load(c.plan.name)
        if run is None or not run.phase.finished:
            code = _drive(st, c, line, clock, approve, wait, extra, progress)
            run = st.load(c.plan.name)
            assert run is not None
            if not run.phase.finished:
                return code if code not in (EXIT_OK,) else EXIT_WAITING
        if run.phase == Phase.COMPLETED:
            continue
        _stop_the_line(st, kids, c, run, clock, extra)
        return EXIT_ROLLED_BACK
    return EXIT_OK


def _drive(
    st: StateStore,
    c: Child,
    line: dict[str, Any],
    clock: Clock,
    approve: bool,
    wait: bool,
    extra: dict[str, Any] | None,
    progress: Any,
) -> int:
    """One wave's rollout, as `apply` drives a plan: create or resume, lease, run. An edited
    wave plan continues each started wave on the plan it was started with."""
    from rollout import notify
    from rollout.lease import LeaseKeeper
    from rollout.providers import build_all
    from rollout.runner import ActFailed, Runner, actor, holder, new_run

    total = len(line["waves"])
    on_event = progress.event if progress is not None else (lambda e: None)
    on_tick = progress.tick if progress is not None else (lambda r, n: None)
    ttl = max(30.0, 3.0 * float(c.plan.spec.analysis.interval))  # as apply's lease_ttl
    notifier = notify.start(c.plan)
    with st.lease(c.plan.name, holder(), ttl=ttl) as lease:
        guard = LeaseKeeper(lease, ttl)
        try:
            run = st.load(c.plan.name)
            if run is None:
                now = clock.now()
                msg = f"wave {c.index + 1}/{total} {c.wave.name} started by {actor()}"
                created = Event(
                    kind="wave",
                    at=now,
                    actor=actor(),
                    message=msg,
                    data={
                        "wave": c.wave.name,
                        "index": c.index + 1,
                        "of": total,
                        "plan_hash": c.plan.plan_hash,
                        **line,
                    },
                )
                run = st.commit(new_run(c.plan, now), [created], expected_revision=0)
                on_event(created)
            if lease.previous is not None:
                _note(
                    st,
                    run,
                    clock,
                    f"runner {lease.previous} left {run.name} without releasing its lease; "
                    f"resumed by {holder()}",
                    kind="takeover",
                    previous=lease.previous.model_dump(mode="json"),
                )
            if approve:
                run = _approve_ahead(st, run, clock)
            runner = Runner(
                plan=run.plan,
                store=st,
                providers=build_all(run.plan, extra),
                clock=clock,
                wait=wait,
                on_event=notifier.wrap(on_event),
                on_tick=on_tick,
                lease=guard,
            )
            try:
                return runner.run()
            except ActFailed:
                return EXIT_RUNTIME
        finally:
            guard.close()
            notifier.close(st, clock)


def _approve_ahead(st: StateStore, run: Run, clock: Clock) -> Run:
    """`apply --approve`: every approval of this wave's rollout, as apply records it."""
    from rollout.runner import actor
    from rollout.state.update import update

    def approve(latest: Run) -> tuple[Run, list[Event]] | None:
        todo = [s.name for s in latest.plan.spec.stages if s.approval]
        stages = [n for n in todo if n not in latest.approved]
        if not stages:
            return None
        ev = Event(
            kind="approval",
            at=clock.now(),
            actor=actor(),
            message=f"approved ahead with --approve: {', '.join(stages)}",
            data={"stages": stages},
        )
        change: dict[str, Any] = {"approved": (*latest.approved, *stages)}
        if latest.phase == Phase.AWAITING_APPROVAL:
            change["phase"] = Phase.PROGRESSING
        return latest.model_copy(update=change), [ev]

    return update(st, run.name, approve, what="record --approve") or run


def _stop_the_line(
    st: StateStore,
    kids: list[Child],
    failed: Child,
    run: Run,
    clock: Clock,
    extra: dict[str, Any] | None,
) -> None:
    """A wave failed: later waves never start; earlier waves hold or roll back, as planned."""
    later = [k.wave.name for k in kids[failed.index + 1 :]]
    if later and not any(e.kind == "wave-stop" for e in st.history(run.name, limit=0)):
        _note(
            st,
            run,
            clock,
            f"wave {failed.wave.name} {run.phase.value}: the line stops; "
            f"never started: {', '.join(later)}",
            kind="wave-stop",
            never_started=later,
        )
    for k in kids[: failed.index]:
        earlier = st.load(k.plan.name)
        if earlier is None or earlier.phase != Phase.COMPLETED:
            continue  # already rolled back (a re-run), or nothing to do
        if k.wave.on_failure == "rollback":
            _roll_back(st, k, earlier, failed, clock, extra)
        elif not any(e.kind == "wave-hold" for e in st.history(earlier.name, limit=0)):
            _note(
                st,
                earlier,
                clock,
                f"held at the candidate (on_failure: hold) after wave {failed.wave.name} "
                f"{run.phase.value}",
                kind="wave-hold",
                failed=failed.wave.name,
            )


def _roll_back(
    st: StateStore, k: Child, run: Run, failed: Child, clock: Clock, extra: dict[str, Any] | None
) -> None:
    """Router first, verified; then recorded as rolled back (every later look keeps it there)."""
    from rollout.look import set_and_verify
    from rollout.output import loud
    from rollout.providers import build_router
    from rollout.runner import actor
    from rollout.state.update import update

    base = Weights.all_baseline()
    try:
        problem = set_and_verify(build_router(run.plan, dict(extra or {})), base)
    except RolloutError as exc:
        problem = str(exc)
    if problem is not None:
        loud(f"could not restore the baseline of wave {k.wave.name} ({run.name}): {problem}")
        return  # not recorded as rolled back: a re-run of apply tries again

    def record(latest: Run) -> tuple[Run, list[Event]] | None:
        if latest.phase != Phase.COMPLETED:
            return None
        now = clock.now()
        msg = f"rolled back (on_failure: rollback): wave {failed.wave.name} failed"
        ev = Event(
            kind="phase",
            at=now,
            actor=actor(),
            message=f"{msg}; baseline restored and verified",
            data={"phase": Phase.ROLLED_BACK.value, "weights": base.model_dump(), "wave": True},
        )
        new = latest.model_copy(
            update={
                "phase": Phase.ROLLED_BACK,
                "desired": base,
                "verified": base,
                "message": msg,
                "updated_at": now,
            }
        )
        return new, [ev]

    update(st, run.name, record, what=f"record the rollback of wave {k.wave.name}")


def _note(st: StateStore, run: Run, clock: Clock, message: str, *, kind: str, **data: Any) -> None:
    from rollout.runner import actor
    from rollout.state.update import update

    ev = Event(kind=kind, at=clock.now(), actor=actor(), message=message, data=data)
    update(st, run.name, lambda latest: (latest, [ev]), what=f"record the {kind}")


__all__ = ["Child", "apply", "children", "states"]
