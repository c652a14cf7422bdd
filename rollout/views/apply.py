"""`rollout apply PLAN`: the final summary (live progress is `rollout.progress`), or
`rollout.apply/v1` with the exit code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.records import Run
from rollout.views import runs

SCHEMA = "rollout.apply/v1"


def data(run: Run, now: datetime, code: int, until: str | None = None) -> dict[str, Any]:
    return {"exit_code": code, **runs.data(run)}


def human(run: Run, now: datetime, code: int, until: str | None = None) -> list[str]:
    return runs.summary(run, now, until=until)
