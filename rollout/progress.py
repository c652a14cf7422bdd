"""Live progress for `apply`: plain lines when not a terminal (CI logs), a rich status line on one."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from rollout.durations import format_duration
from rollout.engine import current_step
from rollout.records import Event, Run


def describe(run: Run, now: datetime) -> str:
    """One line: phase, stage, weight, time left in the bake, each gate's latest verdict."""
    step = current_step(run.plan, run)
    parts = [run.phase.value]
    if step is not None and step.stage:
        parts.append(f"stage {step.stage}")
    if run.desired is not None:
        parts.append(f"{run.desired.candidate}% candidate")
    if (
        not run.phase.finished
        and step is not None
        and step.kind == "analyze"
        and run.step_started_at is not None
        and step.duration
    ):
        left = step.duration * (1 + run.extensions) - (now - run.step_started_at).total_seconds()
        parts.append(f"bake {format_duration(max(0, left))} left")
    verdicts = ", ".join(f"{g} {v.get('status')}" for g, v in run.verdicts.items())
    if verdicts:
        parts.append(f"gates: {verdicts}")
    return " · ".join(parts)


class Progress:
    def __init__(self, *, stream: Any = None, json_mode: bool = False) -> None:
        # In JSON mode progress goes to stderr so stdout stays one JSON document.
        self.stream = stream or (sys.stderr if json_mode else sys.stdout)
        self.tty = self.stream.isatty() and not json_mode
        self._status: Any = None

    def __enter__(self) -> Progress:
        if self.tty:
            from rollout.output import console

            self._status = console().status("starting…")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def event(self, e: Event) -> None:
        stamp = e.at.strftime("%H:%M:%S")
        if (
            e.kind == "verdict"
            and not self.tty
            and e.data.get("status") == "pass"
            and e.data.get("halt") is False
        ):
            text = f"{stamp}  gate   {e.message}"
        else:
            text = f"{stamp}  {e.kind:<6} {e.message}"
        if self.tty:
            from rollout.output import console

            style = {
                "phase": "bold",
                "weights": "cyan",
                "drift": "yellow",
                "error": "bold red",
            }.get(e.kind)
            if e.kind == "verdict":
                style = {"fail": "red", "pass": "green"}.get(str(e.data.get("status")), "yellow")
            console().print(text, style=style, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def tick(self, run: Run, now: datetime) -> None:
        if self._status is not None:
            self._status.update(describe(run, now))
