"""`rollout status PARENT` of a wave plan: the waves table, where the line stopped, then each
started wave's status; or `rollout.waves/v1` with `rollouts` (each wave's `rollout.status/v1`
document, by rollout name)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.records import Run
from rollout.views import status, waves

SCHEMA = waves.SCHEMA


def data(name: str, rows: list[dict[str, Any]], runs: list[Run], now: datetime) -> dict[str, Any]:
    return {**waves.data(name, rows), "rollouts": {r.name: status.data(r, now) for r in runs}}


def human(name: str, rows: list[dict[str, Any]], runs: list[Run], now: datetime) -> list[str]:
    lines = waves.table(name, rows)
    for r in runs:
        lines += ["", *status.human(r, now)]
    return lines
