"""`rollout abort NAME`: restore the baseline now, from any machine, runner alive or not, store
up or down.

The router comes first: abort moves it to 100 % baseline and verifies it before anything that
can fail on the way (the state store). The router's settings come from the stored run when the
store can be read, otherwise from `--plan FILE`. Then the abort is recorded — which fences any
running apply: its next write toward the candidate is withheld, one already in flight is undone
— and the router is checked once more. Exit codes say what happened:

    0  baseline restored, verified and recorded
    1  the baseline could not be restored (loud; the abort is recorded if the store allows,
       and the next look at the rollout — apply, status, abort — re-asserts it)
    7  baseline restored and verified, but the store could not be written (loud; a running
       apply pauses rather than push traffic back, and `rollout abort NAME` records it later)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rollout import notify, views
from rollout import output as out
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find, load_plan
from rollout.errors import (
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_UNRECORDED,
    InvalidInput,
    RolloutError,
    StateError,
    UnknownRollout,
)
from rollout.records import Event, Phase, Plan, Run, Weights
from rollout.runner import actor
from rollout.state import StateStore
from rollout.state._common import urgent
from rollout.state.update import update as store_update
from rollout.views import abort as view

STORE_SECONDS = 3.0  # how long abort waits for a locked or unreachable store, each time


def run(
    name: str,
    reason: str | None = None,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
    plan_file: Path | None = None,
    var: Sequence[str] = (),
    var_file: Sequence[Path] = (),
    extra: dict[str, object] | None = None,
) -> int:
    clock = clock_or_system(clock)
    who = actor()
    # an abort never runs the evaluation: its dataset and program need not be on this machine
    file_plan = (
        load_plan(plan_file, var, var_file, evaluate_checks=False)[1]
        if plan_file is not None
        else None
    )
    if file_plan is not None and file_plan.name != name:
        raise InvalidInput(f"--plan {plan_file} is the plan of {file_plan.name!r}, not {name!r}")
    # With --plan the router is restored before the store is even opened: a locked or
    # unreachable store cannot delay it.
    problem = _restore(file_plan, extra) if file_plan is not None else None
    st, run_, plan, store_problem = _locate(name, state, file_plan)
    if run_ is not None and run_.phase == Phase.COMPLETED:
        if file_plan is not None and problem is None:
            out.warn(f"{name} was completed: the baseline was restored all the same (--plan)")
        else:
            raise InvalidInput(
                f"{name} is completed: the candidate is the new baseline, so abort changes "
                "nothing. To go back, apply a plan whose candidate is the previous baseline."
            )
    base = Weights.all_baseline()
    if file_plan is None:
        problem = _restore(plan, extra)
    recorded, why_not = False, store_problem
    if st is not None:
        recorded, why_not = _record(st, name, who, reason, clock, restored=problem is None)
    if problem is None and recorded:
        problem = _restore(plan, extra)  # a write that was in flight before the record: undone
    if problem is not None:
        out.loud(view.incomplete(name, problem, recorded=recorded))
        return EXIT_RUNTIME
    if not recorded:
        out.loud(view.unrecorded(name, why_not or "unknown error"))
        return EXIT_UNRECORDED
    latest = st.load(name) if st is not None else None
    views.show(view, output, latest or run_, base)
    notify.after_abort(st, name, clock)  # after the restore is verified and recorded
    return EXIT_OK


def _locate(
    name: str, state: str | None, file_plan: Plan | None
) -> tuple[StateStore | None, Run | None, Plan, str | None]:
    """The store, the run and the plan whose router to restore. --plan wins for the router when
    given (it works with the store down); otherwise the plan snapshot stored with the run."""
    try:
        with urgent(STORE_SECONDS):
            st, run_ = find(state, name)
    except UnknownRollout:
        if file_plan is None:
            raise
        return None, None, file_plan, "the state store has no record of this rollout"
    except StateError as exc:
        if file_plan is None:
            raise StateError(
                f"{exc}\nThe router settings of {name} are kept in the state store. To restore "
                f"the baseline without it: rollout abort {name} --plan PLAN_FILE"
            ) from None
        return None, None, file_plan, str(exc)
    return st, run_, file_plan or run_.plan, None


def _restore(plan: Plan, extra: dict[str, object] | None) -> str | None:
    """Set the router to 100 % baseline and read it back. None when verified, else why not."""
    from rollout.look import set_and_verify
    from rollout.providers import build_router

    try:
        router = build_router(plan, dict(extra or {}))
    except RolloutError as exc:
        return str(exc)
    return set_and_verify(router, Weights.all_baseline())


def _record(
    st: StateStore, name: str, who: str, reason: str | None, clock: Clock, *, restored: bool
) -> tuple[bool, str | None]:
    """Record the abort (or, if already aborted / rolled back, that the baseline was checked).
    Returns (recorded, why not)."""
    base = Weights.all_baseline()
    why = f" ({reason})" if reason else ""

    def record(run_: Run) -> tuple[Run, list[Event]]:
        now = clock.now()
        update: dict[str, object] = {"desired": base, "updated_at": now}
        if restored:
            update["verified"] = base
        if run_.phase in (Phase.ABORTED, Phase.ROLLED_BACK):
            msg = f"baseline {'restored and verified' if restored else 'NOT restored'} by {who}"
            ev = Event(
                kind="weights",
                at=now,
                actor=who,
                message=msg,
                data={"weights": base.model_dump(), "verified": restored},
            )
            return run_.model_copy(update=update), [ev]
        update.update({"phase": Phase.ABORTED, "intents": (), "message": f"aborted by {who}{why}"})
        outcome = "restored and verified" if restored else "could NOT be restored"
        ev = Event(
            kind="phase",
            at=now,
            actor=who,
            message=f"aborted by {who}{why}: baseline {outcome}",
            data={
                "phase": Phase.ABORTED.value,
                "reason": reason,
                "weights": base.model_dump(),
                "verified": restored,
                "was": run_.phase.value,
                "dropped_intents": [i.action for i in run_.intents],
            },
        )
        return run_.model_copy(update=update), [ev]

    try:
        with urgent(STORE_SECONDS):
            done = store_update(st, name, record, what="record the abort")
    except StateError as exc:  # StaleState after every try included
        return False, str(exc)
    if done is None:
        return False, "the run vanished from the state store"
    return True, None
