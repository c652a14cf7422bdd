"""`rollout abort NAME`: restore the baseline now, from any machine, runner alive or not.

Records the abort first (so a running apply stops at its next look), then sets the router to
100 % baseline itself and verifies it. Idempotent: aborting again re-checks the baseline.
"""

from __future__ import annotations

from rollout import output as out
from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find, find_run
from rollout.errors import EXIT_OK, EXIT_RUNTIME, InvalidInput, RolloutError, StaleState
from rollout.records import Event, Phase, Run, Weights
from rollout.runner import actor
from rollout.state import StateStore
from rollout.views import abort as view


def run(
    name: str,
    reason: str | None = None,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    clock = clock_or_system(clock)
    st, run_ = find(state, name)  # an unknown name creates no store and names where it looked
    who = actor()
    if run_.phase == Phase.COMPLETED:
        raise InvalidInput(
            f"{name} is completed: the candidate is the new baseline, so abort changes nothing. "
            "To go back, apply a plan whose candidate is the previous baseline."
        )
    base = Weights.all_baseline()
    for _ in range(10):
        if run_.phase in (Phase.ABORTED, Phase.ROLLED_BACK):
            break  # already recorded: just make sure the router agrees (idempotent)
        now = clock.now()
        why = f" ({reason})" if reason else ""
        ev = Event(
            kind="phase",
            at=now,
            actor=who,
            message=f"aborted by {who}{why}: restoring the baseline",
            data={
                "phase": Phase.ABORTED.value,
                "reason": reason,
                "weights": base.model_dump(),
                "was": run_.phase.value,
            },
        )
        try:
            run_ = st.commit(
                run_.model_copy(
                    update={
                        "phase": Phase.ABORTED,
                        "desired": base,
                        "intents": (),
                        "message": f"aborted by {who}{why}",
                        "updated_at": now,
                    }
                ),
                [ev],
                expected_revision=run_.revision,
            )
            break
        except StaleState:
            run_ = find_run(st, name, state)
    else:
        raise StaleState(f"could not record the abort of {name}: the run keeps changing; try again")
    return _restore(st, run_, who, output, clock)


def _restore(st: StateStore, run_: Run, who: str, output: str, clock: Clock) -> int:
    from rollout.providers import build_router

    base = Weights.all_baseline()
    try:
        router = build_router(run_.plan)
        router.set_weights(base)
        seen = router.get_weights()
        if seen != base:
            raise RolloutError(f"the router reports {seen} after being set to the baseline")
    except RolloutError as exc:
        out.loud(view.incomplete(run_.name, str(exc)))
        _note(
            st,
            run_,
            Event(
                kind="error",
                at=clock.now(),
                actor=who,
                message=f"abort could not restore the baseline: {exc}",
            ),
        )
        return EXIT_RUNTIME
    _note(
        st,
        run_,
        Event(
            kind="weights",
            at=clock.now(),
            actor=who,
            message=f"baseline restored and verified: {base}",
            data={"weights": base.model_dump()},
        ),
    )
    views.show(view, output, run_, base)
    return EXIT_OK


def _note(st: StateStore, run_: Run, ev: Event) -> None:
    """Append an event (best effort: the router state is what matters here)."""
    for _ in range(5):
        try:
            st.commit(run_, [ev], expected_revision=run_.revision)
            return
        except StaleState:
            latest = st.load(run_.name)
            if latest is None:
                return
            run_ = latest
        except RolloutError:
            return
