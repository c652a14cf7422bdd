"""`rollout history NAME`: the audit trail, one line per event, or `rollout.history/v1`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout.records import Event
from rollout.views._format import iso

SCHEMA = "rollout.history/v1"


def data(name: str, events: Sequence[Event], all_attempts: bool = False) -> dict[str, Any]:
    return {"name": name, "events": [e.model_dump(mode="json") for e in events]}


def human(name: str, events: Sequence[Event], all_attempts: bool = False) -> list[str]:
    if not events:
        return [f"{name}: no events"]
    lines = []
    for e in events:
        who = f" [{e.actor}]" if e.actor else ""
        attempt = f"#{e.attempt} " if all_attempts else ""
        lines.append(f"{attempt}{iso(e.at)}  {e.kind:<8}{who} {e.message}")
    return lines
