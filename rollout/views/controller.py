"""`rollout controller`: one line per look that changed something (or failed), or one
`rollout.controller/v1` document per look with `-o json`."""

from __future__ import annotations

from typing import Any

from rollout.controller import Look

SCHEMA = "rollout.controller/v1"


def data(look: Look) -> dict[str, Any]:
    return {
        "name": look.name,
        "result": look.result,
        "message": look.message,
        "due": look.due.isoformat(),
        "decided": look.decided.isoformat(),
        "lag_seconds": round(look.lag, 3),
        "changed": look.changed,
    }


def human(look: Look) -> list[str]:
    return [f"{look.name}: {look.result} — {look.message} (lag {look.lag:.1f}s)"]
