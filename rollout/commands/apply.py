"""`rollout apply PLAN`: run the rollout, or resume it at its recorded step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout import output as out
from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, load_plan
from rollout.commands._common import store as open_state
from rollout.engine import stage_end_index
from rollout.errors import EXIT_OK, InvalidInput, StaleState
from rollout.records import Event, Phase, Plan, Run
from rollout.runner import Runner, actor, exit_code_for, holder, new_run
from rollout.state import StateStore
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
) -> int:
    _, plan = load_plan(plan_file, var, var_file)
    until_index = None
    if until is not None:
        try:
            until_index = stage_end_index(plan, until)
        except ValueError:
            stages = [s.name for s in plan.spec.stages]
            raise InvalidInput(
                f"--until {until!r}: no such stage; stages: {', '.join(stages)}"
            ) from None
    from rollout.progress import Progress
    from rollout.providers import build_all

    clock = clock_or_system(clock)
    st = open_state(state)
    providers = build_all(plan, extra)
    json_mode = output == "json"
    with (
        st.lease(plan.name, holder(), ttl=lease_ttl(plan)) as lease,
        Progress(json_mode=json_mode) as progress,
    ):
        run_, note = _start(st, plan, clock, approve)
        if note:
            progress.event(Event(kind="apply", at=clock.now(), message=note))
        code = exit_code_for(run_)
        if code is not None and run_.phase.finished:
            if run_.phase == Phase.COMPLETED and providers.deployments is not None:
                due = (
                    providers.deployments.finalize()
                )  # a clean-up that had to wait (keep_baseline)
                progress.event(
                    Event(
                        kind="finalize",
                        at=clock.now(),
                        message=f"old baseline kept until {due.isoformat(timespec='minutes')}"
                        if due
                        else "old baseline finalized",
                    )
                )
            return _finish(st, plan.name, code, output, clock)

        def tick(r: Run, now: Any) -> None:
            lease.renew()
            progress.tick(r, now)

        runner = Runner(
            plan=plan,
            store=st,
            providers=providers,
            clock=clock,
            until_index=until_index,
            wait=wait,
            on_event=progress.event,
            on_tick=tick,
        )
        code = runner.run()
    return _finish(st, plan.name, code, output, clock, until=until if code == EXIT_OK else None)


def _start(st: StateStore, plan: Plan, clock: Clock, approve: bool) -> tuple[Run, str]:
    """Create, resume or re-attempt; approve ahead if asked. Returns the run and what happened."""
    now = clock.now()
    existing = st.load(plan.name)
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
        note = f"starting {plan.name}: {len(plan.steps)} steps"
    elif existing.plan_hash != plan.plan_hash:
        attempt = existing.attempt + 1
        ev = Event(
            kind="created",
            at=now,
            actor=actor(),
            message=f"plan changed ({existing.plan_hash[:12]} -> {plan.plan_hash[:12]}): "
            f"attempt {attempt} starts; attempt {existing.attempt} was {existing.phase.value} "
            f"at step {min(existing.step_index + 1, len(existing.plan.steps))}",
            data={
                "plan_hash": plan.plan_hash,
                "previous_plan_hash": existing.plan_hash,
                "fingerprints": plan.fingerprints,
            },
        )
        fresh = new_run(plan, now, attempt=attempt)
        if existing.desired is not None and not existing.phase.finished:
            fresh = fresh.model_copy(
                update={"desired": existing.desired}
            )  # traffic is where the old attempt left it
        run = st.commit(fresh, [ev], expected_revision=0)
        note = ev.message
    elif existing.phase.finished:
        return (
            existing,
            f"{plan.name} is already {existing.phase.value} with this plan ({existing.message})",
        )
    else:
        run = existing
        note = (
            f"resuming {plan.name} attempt {run.attempt} at step "
            f"{run.step_index + 1}/{len(plan.steps)} ({run.phase.value})"
        )
    if approve:
        stages = tuple(
            s.name for s in plan.spec.stages if s.approval and s.name not in run.approved
        )
        if stages:
            for _ in range(5):
                ev = Event(
                    kind="approval",
                    at=now,
                    actor=actor(),
                    message=f"approved ahead with --approve: {', '.join(stages)}",
                    data={"stages": list(stages)},
                )
                update: dict[str, Any] = {"approved": (*run.approved, *stages)}
                if run.phase == Phase.AWAITING_APPROVAL:
                    update["phase"] = Phase.PROGRESSING
                try:
                    run = st.commit(
                        run.model_copy(update=update), [ev], expected_revision=run.revision
                    )
                    break
                except StaleState:
                    run = st.load(plan.name) or run
    return run, note


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
            f.write(report.render(run, st.history(run.name, limit=200)) + "\n")
    except OSError as exc:
        out.warn(f"could not write the job summary: {exc}")
