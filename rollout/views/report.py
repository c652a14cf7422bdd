"""`rollout report NAME`: the markdown or HTML report (`rollout.report`), or `rollout.report/v1`
(the same facts the templates are filled with)."""

from __future__ import annotations

from typing import Any

from rollout.records import Event, Run

SCHEMA = "rollout.report/v1"


def data(run: Run, events: list[Event], fmt: str = "markdown") -> dict[str, Any]:
    from rollout import report

    return report.context(run, events)


def human(run: Run, events: list[Event], fmt: str = "markdown") -> list[str]:
    from rollout import report

    return report.render(run, events, fmt).rstrip("\n").split("\n")
