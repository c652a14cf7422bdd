"""`rollout report PARENT` of a wave plan: the waves, where the line stopped, then each started
wave's report (rollout.report.waves); or `rollout.waves/v1` with `reports` (each wave's
`rollout.report/v1` document, by rollout name)."""

from __future__ import annotations

from typing import Any

from rollout.records import Event, Run
from rollout.views import report, waves

SCHEMA = waves.SCHEMA

Runs = list[tuple[Run, list[Event]]]


def data(
    name: str, rows: list[dict[str, Any]], runs: Runs, fmt: str = "markdown"
) -> dict[str, Any]:
    return {
        **waves.data(name, rows),
        "reports": {r.name: report.data(r, ev, fmt) for r, ev in runs},
    }


def human(name: str, rows: list[dict[str, Any]], runs: Runs, fmt: str = "markdown") -> list[str]:
    from rollout.report.waves import render

    return render(name, rows, runs, fmt).rstrip("\n").split("\n")
