"""`rollout history NAME`: the audit trail (weights, verdicts with their numbers, intents)."""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import find
from rollout.errors import EXIT_OK
from rollout.views import history as view


def run(
    name: str,
    limit: int = 50,
    all_attempts: bool = False,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    st, _ = find(state, name)
    events = st.history(name, limit=limit, all_attempts=all_attempts)
    views.show(view, output, name, events, all_attempts)
    return EXIT_OK
