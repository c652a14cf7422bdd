"""`rollout history PARENT` of a wave plan: every wave's audit trail in one, by time, each line
naming its wave; or `rollout.history/v1` whose events carry `rollout` and `wave`."""

from __future__ import annotations

from typing import Any

from rollout.records import Event
from rollout.views._format import iso
from rollout.views.history import SCHEMA

Tagged = tuple[str, str, Event]  # (wave, rollout, event)

__all__ = ["SCHEMA", "data", "human"]


def data(name: str, events: list[Tagged], all_attempts: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "events": [{**e.model_dump(mode="json"), "wave": w, "rollout": r} for w, r, e in events],
    }


def human(name: str, events: list[Tagged], all_attempts: bool = False) -> list[str]:
    if not events:
        return [f"{name}: no events"]
    width = max(len(w) for w, _, _ in events)
    lines = []
    for w, _, e in events:
        who = f" [{e.actor}]" if e.actor else ""
        attempt = f"#{e.attempt} " if all_attempts else ""
        lines.append(f"{attempt}{iso(e.at)}  {w:<{width}}  {e.kind:<8}{who} {e.message}")
    return lines
