"""`rollout pause|resume|promote NAME`: the intent recorded, or `rollout.control/v1`."""

from __future__ import annotations

from typing import Any

from rollout.records import Intent

SCHEMA = "rollout.control/v1"

WORDS = {
    "pause": "pause",
    "resume": "resume",
    "promote": "promote",
    "promote_full": "promote to full",
}


def data(name: str, intent: Intent) -> dict[str, Any]:
    return {"name": name, "recorded": True, "intent": intent.model_dump(mode="json")}


def human(name: str, intent: Intent) -> list[str]:
    return [
        f"{name}: {WORDS[intent.action]} recorded; a running `rollout apply` acts on it within "
        "seconds, otherwise the next `rollout apply` does"
    ]
