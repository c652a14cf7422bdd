"""`rollout report NAME`: the markdown or HTML report (`rollout.report`), or `rollout.report/v1`
(the same facts the templates are filled with, and the series the charts are drawn from)."""

from __future__ import annotations

import dataclasses
from typing import Any

from rollout.records import Event, Run

SCHEMA = "rollout.report/v1"


def data(run: Run, events: list[Event], fmt: str = "markdown") -> dict[str, Any]:
    from rollout import report
    from rollout.report.series import extract

    s = extract(run, events)
    doc = report.context(run, events)
    doc["series"] = {  # x: seconds since timing.start
        "weights": s.weights,
        "gates": {name: dataclasses.asdict(g) for name, g in s.gates.items()},
    }
    return doc


def human(run: Run, events: list[Event], fmt: str = "markdown") -> list[str]:
    from rollout import report

    return report.render(run, events, fmt).rstrip("\n").split("\n")
