"""`rollout pause|resume|promote NAME`: write an intent; the runner acts on it at its next tick.

With no runner alive the intent waits in the store: the next `rollout apply` acts on it first.
"""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find
from rollout.errors import EXIT_OK, InvalidInput
from rollout.records import Event, Intent, Run
from rollout.state.update import update
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

    def queue(r: Run) -> tuple[Run, list[Event]]:
        if r.phase.finished:
            raise InvalidInput(f"{name} is {r.phase.value}: nothing to {WORDS[action]}")
        now = clock.now()
        intent = Intent(action=action, actor=who, at=now, reason=reason)
        ev = Event(
            kind="intent",
            at=now,
            actor=who,
            message=f"{WORDS[action]} requested by {who}" + (f" ({reason})" if reason else ""),
            data={"action": action, "reason": reason, "queued_behind": len(r.intents)},
        )
        return r.model_copy(update={"intents": (*r.intents, intent), "updated_at": now}), [ev]

    done = update(st, name, queue, what=f"record the {WORDS[action]}")
    assert done is not None and done.intents
    views.show(view, output, name, done.intents[-1])
    return EXIT_OK
