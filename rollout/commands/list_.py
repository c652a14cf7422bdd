"""`rollout list`: every rollout in the state store (none when there is no store yet)."""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import existing_store
from rollout.errors import EXIT_OK
from rollout.views import list_ as view


def run(state: str | None = None, output: str = "text", clock: Clock | None = None) -> int:
    st = existing_store(state)
    views.show(view, output, st.runs() if st is not None else [])
    return EXIT_OK
