"""`rollout pause|resume|promote NAME`: write an intent; the runner acts on it at its next tick.

With no runner alive the intent waits in the store: the next `rollout apply` acts on it first.
"""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find, find_run
from rollout.errors import EXIT_OK, InvalidInput, StaleState
from rollout.records import Event, Intent
from rollout.views import control as view
from rollout.views.control import WORDS


def run(
    name: str,
    action: str,
    reason: str | None = None,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    from rollout.runner import actor

    clock = clock_or_system(clock)
    st, _ = find(state, name)
    who = actor()
    for _ in range(10):
        r = find_run(st, name, state)
        if r.phase.finished:
            raise InvalidInput(f"{name} is {r.phase.value}: nothing to {WORDS[action]}")
        now = clock.now()
        intent = Intent(action=action, actor=who, at=now, reason=reason)
        ev = Event(
            kind="intent",
            at=now,
            actor=who,
            message=f"{WORDS[action]} requested by {who}" + (f" ({reason})" if reason else ""),
            data={"action": action, "reason": reason},
        )
        try:
            st.commit(
                r.model_copy(update={"intents": (*r.intents, intent), "updated_at": now}),
                [ev],
                expected_revision=r.revision,
            )
        except StaleState:
            continue
        views.show(view, output, name, intent)
        return EXIT_OK
    raise StaleState(
        f"could not record the {WORDS[action]} of {name}: the run keeps changing; try again"
    )
