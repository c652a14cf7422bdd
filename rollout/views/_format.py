"""Small formatting rules every view shares, so they are said once: ISO time in seconds, steps
numbered as `rollout plan` numbers them (1..N), weights as "N% candidate"."""

from __future__ import annotations

from datetime import datetime

from rollout.records import Run, Weights


def iso(at: datetime | None) -> str:
    """ISO 8601 in whole seconds (microseconds wrap in tables and help nobody)."""
    return at.isoformat(timespec="seconds") if at is not None else "-"


def hms(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def step_of(run: Run) -> tuple[int, int]:
    """(x, y) for "step x/y": x counts from 1 like `rollout plan`'s # column; done is y/y."""
    total = len(run.plan.steps)
    return min(run.step_index + 1, total), total


def weights(w: Weights | None) -> str:
    return f"{w.candidate}% candidate / {w.baseline}% baseline" if w is not None else "-"


def ago(seconds: float) -> str:
    from rollout.durations import format_duration

    return f"{format_duration(max(0, int(seconds)))} ago"
