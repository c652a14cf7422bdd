"""Waves of a plan (rollout.waves, rollout.wave_line): one row per wave, its rollout, phase,
candidate weight and outcome, and where the line stopped; or `rollout.waves/v1`
(`{"name", "waves": [rows], "stopped": {...} | null}`, documented in docs/fleet.md)."""

from __future__ import annotations

from typing import Any

from rollout.wave_line import stopped

SCHEMA = "rollout.waves/v1"


def data(name: str, rows: list[dict[str, Any]], code: int | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "waves": rows,
        "stopped": stopped(rows),
        **({"exit_code": code} if code is not None else {}),
    }


def human(name: str, rows: list[dict[str, Any]], code: int | None = None) -> list[str]:
    return table(name, rows)


def table(name: str, rows: list[dict[str, Any]]) -> list[str]:
    """The waves table, then where the line stopped (when it did)."""
    head = ("#", "WAVE", "ROLLOUT", "PHASE", "CANDIDATE", "ON FAILURE", "APPROVAL", "OUTCOME")
    body = [
        (
            str(r["index"]),
            r["wave"],
            r["rollout"],
            r["phase"],
            f"{r['candidate']}%",
            r["on_failure"] or "",
            "yes" if r["approval"] else "",
            r.get("message") or "",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [f"waves of {name}:", *(fmt.format(*x).rstrip() for x in (head, *body))]
    stop = stopped(rows)
    if stop is not None:
        lines.append(stop["message"])
    return lines
