"""`rollout retry NAME`: start a rolled-back or aborted rollout again, as a new attempt."""

from __future__ import annotations

from datetime import UTC, datetime

from rollout import output as out
from rollout.commands._common import find_run
from rollout.commands._common import store as open_state
from rollout.errors import EXIT_INVALID, EXIT_OK
from rollout.records import Event, Phase
from rollout.runner import actor, new_run


def run(name: str, reason: str | None = None, state: str | None = None) -> int:
    st = open_state(state)
    r = find_run(st, name)
    if r.phase not in (Phase.ROLLED_BACK, Phase.ABORTED):
        out.line(
            f"{name} is {r.phase.value}: only a rolled-back or aborted rollout can be retried",
            err=True,
        )
        return EXIT_INVALID
    now = datetime.now(UTC)
    who = actor()
    fresh = new_run(r.plan, now, attempt=r.attempt + 1)
    ev = Event(
        kind="created",
        at=now,
        actor=who,
        message=f"attempt {fresh.attempt} started by {who} with `rollout retry`"
        + (f" ({reason})" if reason else ""),
        data={"plan_hash": r.plan_hash, "previous_attempt": r.attempt},
    )
    st.commit(fresh, [ev], expected_revision=0)
    out.line(
        f"{name}: attempt {fresh.attempt} is ready; run `rollout apply {r.plan.source or 'PLAN'}` to drive it"
    )
    return EXIT_OK
