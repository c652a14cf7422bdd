"""`rollout apply PLAN`: run the rollout, or resume it at its recorded step."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout import notify, signals, views
from rollout import output as out
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, load_plan
from rollout.commands._common import store as open_state
from rollout.engine import stage_end_index
from rollout.errors import EXIT_OK, InvalidInput, RolloutError
from rollout.records import Event, Holder, Phase, Plan, Run, Weights
from rollout.runner import ActFailed, Runner, actor, holder, new_run
from rollout.state import StateStore
from rollout.state.update import update
from rollout.views import apply as view


def lease_ttl(plan: Plan) -> float:
    """Long enough to survive one sleep; a dead holder on the same host is taken over at once."""
    return max(30.0, 3.0 * float(plan.spec.analysis.interval))


def run(
    plan_file: Path,
    until: str | None = None,
    approve: bool = False,
    var: Sequence[str] = (),
    var_file: Sequence[Path] = (),
    state: str | None = None,
    output: str = "text",
    wait: bool = False,
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
    restart: bool = False,
    keeper: bool = True,
) -> int:
    _, plan = load_plan(plan_file, var, var_file)
    if plan.spec.waves:  # one child rollout per wave, in order (rollout.waves)
        from rollout.commands import _waves

        return _waves.apply(
            plan,
            until=until,
            approve=approve,
            state=state,
            output=output,
            wait=wait,
            clock=clock_or_system(clock),
            extra=extra,
        )
    until_index = None
    if until is not None:
        try:
            until_index = stage_end_index(plan, until)
        except ValueError:
            stages = [s.name for s in plan.spec.stages]
            raise InvalidInput(
                f"--until {until!r}: no such stage; stages: {', '.join(stages)}"
            ) from None
    from rollout.lease import LeaseKeeper
    from rollout.progress import Progress
    from rollout.providers import build_all

    clock = clock_or_system(clock)
    st = open_state(state)
    providers = build_all(plan, extra)
    json_mode = output == "json"
    ttl = lease_ttl(plan)
    notifier = notify.start(plan)  # Slack / Teams / webhooks, sent off the runner's path
    with (
        signals.as_interrupts(),
        st.lease(plan.name, holder(), ttl=ttl) as lease,
        Progress(json_mode=json_mode) as progress,
    ):
        guard = LeaseKeeper(lease, ttl, start=keeper)
        try:
            run_, notes = _start(st, plan, clock, approve, restart, extra)
            if lease.previous is not None:
                notes.append(_takeover(st, run_, lease.previous, clock))
            for note in notes:
                progress.event(Event(kind="apply", at=clock.now(), message=note))
            if run_.phase == Phase.COMPLETED:
                _finalize_later(providers, progress, clock)
                return _finish(st, plan.name, EXIT_OK, output, clock)
            plan = run_.plan  # an in-place edit continues on the stored (new) plan
            runner = Runner(
                plan=plan,
                store=st,
                providers=providers,
                clock=clock,
                until_index=until_index,
                wait=wait,
                on_event=notifier.wrap(progress.event),
                on_tick=progress.tick,
                lease=guard,
            )
            try:
                code = runner.run()
            except ActFailed as exc:
                if exc.loud:
                    out.loud(str(exc))
                raise
            except signals.Interrupted as exc:
                _record(
                    st,
                    plan.name,
                    clock,
                    f"apply interrupted by {exc.name}: traffic left as "
                    f"recorded; `rollout apply` resumes",
                    kind="interrupted",
                )
                raise
        finally:
            guard.close()
            notifier.close(st, clock)  # bounded by the timeouts; failures into the event log
    return _finish(st, plan.name, code, output, clock, until=until if code == EXIT_OK else None)


def _finalize_later(providers: Any, progress: Any, clock: Clock) -> None:
    if providers.deployments is None:
        return
    due = providers.deployments.finalize()  # a clean-up that had to wait (keep_baseline)
    message = (
        f"old baseline kept until {due.isoformat(timespec='minutes')}"
        if due
        else "old baseline finalized"
    )
    progress.event(Event(kind="finalize", at=clock.now(), message=message))


def _takeover(st: StateStore, run: Run, previous: Holder, clock: Clock) -> str:
    """A lease taken over from a runner that died or whose lease expired: into the audit trail."""
    step = min(run.step_index + 1, len(run.plan.steps))
    me = holder()
    msg = (
        f"runner {previous} left {run.name} at step {step} ({run.phase.value}) without "
        f"releasing its lease; resumed by {me}"
    )
    _record(st, run.name, clock, msg, kind="takeover", previous=previous.model_dump(mode="json"))
    return msg


def _record(
    st: StateStore, name: str, clock: Clock, message: str, *, kind: str, **data: Any
) -> None:
    """Append one event to the run (best effort: it must never stand in the way of traffic)."""
    ev = Event(kind=kind, at=clock.now(), actor=actor(), message=message, data=data)
    with contextlib.suppress(RolloutError):
        update(st, name, lambda latest: (latest, [ev]), what=f"record the {kind}")


def _start(
    st: StateStore,
    plan: Plan,
    clock: Clock,
    approve: bool,
    restart: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[Run, list[str]]:
    """Create, resume, continue an edited plan in place, or start a new attempt; approve ahead
    if asked. Returns the run and what happened."""
    now = clock.now()
    existing = st.load(plan.name)
    notes: list[str] = []
    if existing is None:
        ev = Event(
            kind="created",
            at=now,
            actor=actor(),
            message=f"rollout {plan.name} created (plan {plan.plan_hash[:12]})",
            data={
                "plan_hash": plan.plan_hash,
                "fingerprints": plan.fingerprints,
                "source": plan.source,
            },
        )
        run = st.commit(new_run(plan, now), [ev], expected_revision=0)
        notes.append(f"starting {plan.name}: {len(plan.steps)} steps")
    elif existing.plan_hash != plan.plan_hash:
        run, note = _replan(st, existing, plan, now, restart, extra)
        notes.append(note)
    elif existing.phase.finished:
        notes.append(
            f"{plan.name} is already {existing.phase.value} with this plan ({existing.message})"
        )
        return existing, notes
    else:
        run = existing
        notes.append(
            f"resuming {plan.name} attempt {run.attempt} at step "
            f"{run.step_index + 1}/{len(plan.steps)} ({run.phase.value})"
        )
    if approve:
        run = _approve_ahead(st, run, plan, now)
    return run, notes


def _replan(
    st: StateStore, existing: Run, plan: Plan, now: Any, restart: bool, extra: Any
) -> tuple[Run, str]:
    """A changed plan: a new attempt when nothing is moving; in place when compatible;
    refused (exit 2, nothing changed) otherwise, unless --restart."""
    from rollout.replan import compare

    moving = (
        not existing.phase.finished
        and existing.desired is not None
        and (existing.desired.candidate > 0)
    )
    change = compare(existing.plan, plan, existing)
    head = f"plan changed ({existing.plan_hash[:12]} -> {plan.plan_hash[:12]})"
    if moving and change.in_place and not restart:
        assert change.step_index is not None
        ev = Event(
            kind="replan",
            at=now,
            actor=actor(),
            message=f"{head}: continuing in place at step {change.step_index + 1}, evidence kept",
            data={
                "plan_hash": plan.plan_hash,
                "previous_plan_hash": existing.plan_hash,
                "changes": change.changes,
            },
        )
        moved = existing.model_copy(
            update={"plan": plan, "plan_hash": plan.plan_hash, "step_index": change.step_index}
        )
        run = st.commit(moved, [ev], expected_revision=existing.revision)
        return run, ev.message + "".join(f"\n  {c}" for c in change.changes)
    if moving and not restart:
        raise InvalidInput(
            f"{head} in ways that cannot continue in place: {'; '.join(change.blockers)}.\n"
            + "".join(f"  {c}\n" for c in change.changes)
            + f"Nothing was changed; traffic stays at {existing.desired}. "
            f"`rollout apply --restart` returns the current router to the baseline and starts "
            f"attempt {existing.attempt + 1} from the first stage."
        )
    if moving:
        _restore_old(st, existing, now, extra)
    attempt = existing.attempt + 1
    ev = Event(
        kind="created",
        at=now,
        actor=actor(),
        message=f"{head}: attempt {attempt} starts; attempt {existing.attempt} was "
        f"{existing.phase.value if not moving else 'aborted for the restart'} at step "
        f"{min(existing.step_index + 1, len(existing.plan.steps))}",
        data={
            "plan_hash": plan.plan_hash,
            "previous_plan_hash": existing.plan_hash,
            "fingerprints": plan.fingerprints,
            "changes": change.changes,
        },
    )
    run = st.commit(new_run(plan, now, attempt=attempt), [ev], expected_revision=0)
    return run, ev.message


def _restore_old(st: StateStore, existing: Run, now: Any, extra: Any) -> None:
    """--restart: the old attempt's router back to the baseline, verified, and the old attempt
    recorded as aborted, before anything of the new plan moves."""
    from rollout.look import set_and_verify
    from rollout.providers import build_router

    base = Weights.all_baseline()
    problem = set_and_verify(build_router(existing.plan, extra), base)
    if problem is not None:
        raise RolloutError(
            f"--restart: the old router could not be returned to the baseline ({problem}); "
            "nothing of the new plan was started"
        )
    ev = Event(
        kind="phase",
        at=now,
        actor=actor(),
        message="aborted for `apply --restart` with a changed plan: baseline restored and verified",
        data={"phase": Phase.ABORTED.value, "weights": base.model_dump()},
    )
    update = {"phase": Phase.ABORTED, "desired": base, "verified": base, "intents": ()}
    st.commit(existing.model_copy(update=update), [ev], expected_revision=existing.revision)


def _approve_ahead(st: StateStore, run: Run, plan: Plan, now: Any) -> Run:
    def approve(run: Run) -> tuple[Run, list[Event]] | None:
        stages = [s.name for s in plan.spec.stages if s.approval and s.name not in run.approved]
        if not stages:
            return None
        ev = Event(
            kind="approval",
            at=now,
            actor=actor(),
            message=f"approved ahead with --approve: {', '.join(stages)}",
            data={"stages": stages},
        )
        change: dict[str, Any] = {"approved": (*run.approved, *stages)}
        if run.phase == Phase.AWAITING_APPROVAL:
            change["phase"] = Phase.PROGRESSING
        return run.model_copy(update=change), [ev]

    return update(st, plan.name, approve, what="record --approve") or run


def _finish(
    st: StateStore, name: str, code: int, output: str, clock: Clock, until: str | None = None
) -> int:
    run = st.load(name)
    assert run is not None
    _job_summary(st, run)
    views.show(view, output, run, clock.now(), code, until)
    return code


def _job_summary(st: StateStore, run: Run) -> None:
    """In GitHub Actions, append the markdown summary to the job's summary page."""
    import os

    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from rollout import report

    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(report.step_summary(run, st.history(run.name, limit=0)) + "\n")
    except OSError as exc:
        out.warn(f"could not write the job summary: {exc}")
