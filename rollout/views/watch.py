"""`rollout status NAME --watch`: one frame per look at the rollout.

On a terminal the frame is redrawn in place (rich Live); off a terminal a frame is printed only
when the run changed (CI logs stay readable); with `-o json` each frame is one NDJSON line.
A frame shows step x/y as `rollout plan` numbers them, set and served weights, each gate's
verdict and evidence, and the time left in the stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.durations import format_duration
from rollout.records import Holder, Run
from rollout.views import runs
from rollout.views._format import iso, weights

SCHEMA = "rollout.watch/v1"


def data(run: Run, now: datetime, holder: Holder | None = None) -> dict[str, Any]:
    return {
        **runs.data(run),
        "bake_left_seconds": runs.bake_left(run, now),
        "to_full_seconds": runs.to_full(run, now),
        "served": run.verified.model_dump() if run.verified is not None else None,
        "holder": str(holder) if holder is not None else None,
        "at": iso(now),
    }


def human(run: Run, now: datetime, holder: Holder | None = None) -> list[str]:
    lines = [f"{iso(now)}  {run.name} (attempt {run.attempt}): {runs.describe(run, now)}"]
    lines.append(f"  set     {weights(run.desired)}")
    lines.append(f"  served  {weights(run.verified)}")
    for gate, v in run.verdicts.items():
        text = v.get("summary")  # signal gates already in ms, tokens, $ (engine.analysis)
        lines.append(f"  gate {gate}: {v.get('status')} — {text}")
    left, full = runs.bake_left(run, now), runs.to_full(run, now)
    if full is not None:
        stage = f"{format_duration(left)} left in this bake; " if left is not None else ""
        lines.append(f"  time    {stage}at least {format_duration(full)} to full")
    if run.message:
        lines.append(f"  {run.message}")
    if run.intent is not None:
        lines.append(f"  pending intent: {run.intent.action} by {run.intent.actor}")
    lines.append(f"  applied by {holder}" if holder is not None else "  no apply is running")
    return lines


def outcome(run: Run, code: int, reason: str) -> list[str]:
    return [f"{run.name}: {reason} (exit {code})"]


OUTCOME_SCHEMA = "rollout.watch.outcome/v1"


def outcome_data(run: Run, code: int, reason: str) -> dict[str, Any]:
    """The last NDJSON line: why the watch ended and the exit code it ends with."""
    return {"name": run.name, "phase": run.phase.value, "exit_code": code, "reason": reason}
