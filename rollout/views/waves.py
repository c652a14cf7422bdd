"""Waves of a plan (rollout.waves): one row per wave, its rollout and where it is, or
`rollout.waves/v1`."""

from __future__ import annotations

from typing import Any

SCHEMA = "rollout.waves/v1"


def data(name: str, rows: list[dict[str, Any]], code: int | None = None) -> dict[str, Any]:
    return {"name": name, "waves": rows, **({"exit_code": code} if code is not None else {})}


def human(name: str, rows: list[dict[str, Any]], code: int | None = None) -> list[str]:
    head = ("#", "WAVE", "ROLLOUT", "PHASE", "CANDIDATE", "ON FAILURE", "APPROVAL")
    body = [
        (
            str(r["index"]),
            r["wave"],
            r["rollout"],
            r["phase"],
            f"{r['candidate']}%",
            r["on_failure"],
            "yes" if r["approval"] else "",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [f"waves of {name}:", *(fmt.format(*x).rstrip() for x in (head, *body))]
