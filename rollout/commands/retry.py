"""`rollout retry NAME`: start a rolled-back or aborted rollout again, as a new attempt.

The old attempt stays in the history; the new one starts at step 1 and is driven by the next
`rollout apply`.
"""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find
from rollout.errors import EXIT_OK, InvalidInput
from rollout.gates.evaluate import carry
from rollout.records import Event, Phase
from rollout.runner import actor, new_run
from rollout.views import retry as view


def run(
    name: str,
    reason: str | None = None,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    clock = clock_or_system(clock)
    st, r = find(state, name)
    if r.phase not in (Phase.ROLLED_BACK, Phase.ABORTED):
        raise InvalidInput(
            f"{name} is {r.phase.value}: only a rolled-back or aborted rollout can be retried"
        )
    now = clock.now()
    who = actor()
    fresh = new_run(r.plan, now, attempt=r.attempt + 1)
    if r.plan_hash == fresh.plan_hash:  # the same candidate: its gates' alpha is not spent again
        fresh = fresh.model_copy(update={"gates": carry(r.gates)})
    ev = Event(
        kind="created",
        at=now,
        actor=who,
        message=f"attempt {fresh.attempt} started by {who} with `rollout retry`"
        + (f" ({reason})" if reason else ""),
        data={"plan_hash": r.plan_hash, "previous_attempt": r.attempt},
    )
    fresh = st.commit(fresh, [ev], expected_revision=0)
    views.show(view, output, fresh, r.attempt)
    return EXIT_OK
