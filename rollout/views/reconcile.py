"""`rollout reconcile`: one line per rollout (what this pass left it as), or
`rollout.reconcile/v1`."""

from __future__ import annotations

from typing import Any

SCHEMA = "rollout.reconcile/v1"


def data(results: list[dict[str, Any]], note: str | None) -> dict[str, Any]:
    return {"rollouts": results, **({"note": note} if note else {})}


def human(results: list[dict[str, Any]], note: str | None) -> list[str]:
    lines = [note] if note else []
    if not results and not note:
        lines.append("nothing to reconcile: no active rollouts")
    lines += [f"{x['name']}: {x['result']} — {x['message']}" for x in results]
    return lines
