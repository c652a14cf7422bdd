"""The parent name of a wave plan in `status`, `history` and `report` (rollout.wave_line):
resolved from the state store alone, only when no rollout has that name itself."""

from __future__ import annotations

from rollout.commands._common import existing_store
from rollout.state import StateStore
from rollout.wave_line import Line, find


def wave_line(state: str | None, name: str) -> tuple[StateStore, Line] | None:
    """The store and the line whose parent is `name`, or None (an ordinary rollout, or none)."""
    st = existing_store(state)
    if st is None or st.load(name) is not None:
        return None
    line = find(st, name)
    return None if line is None else (st, line)
