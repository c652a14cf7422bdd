"""`rollout pause|resume|promote NAME`: write an intent; the runner acts on it at its next tick.

With no runner alive the intent waits in the store: the next `rollout apply` acts on it first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rollout import output as out
from rollout.commands._common import find_run
from rollout.commands._common import store as open_state
from rollout.errors import EXIT_INVALID, EXIT_OK, StaleState
from rollout.records import Event, Intent

WORDS = {
    "pause": "pause",
    "resume": "resume",
    "promote": "promote",
    "promote_full": "promote to full",
}


def run(name: str, action: str, reason: str | None = None, state: str | None = None) -> int:
    from rollout.runner import actor

    st = open_state(state)
    who = actor()
    for _ in range(10):
        r = find_run(st, name)
        if r.phase.finished:
            out.line(f"{name} is {r.phase.value}: nothing to {WORDS[action]}", err=True)
            return EXIT_INVALID
        now = datetime.now(UTC)
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
                r.model_copy(update={"intent": intent, "updated_at": now}),
                [ev],
                expected_revision=r.revision,
            )
        except StaleState:
            continue
        out.line(
            f"{name}: {WORDS[action]} recorded; a running `rollout apply` acts on it within seconds, "
            f"otherwise the next `rollout apply` does"
        )
        return EXIT_OK
    raise StaleState(
        f"could not record the {WORDS[action]} of {name}: the run keeps changing; try again"
    )
