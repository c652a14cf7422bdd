"""A run summarised, shared by status, list, apply and the report (once, so they agree)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout.durations import format_duration
from rollout.engine import current_step
from rollout.records import Run
from rollout.views._format import iso, step_of


def data(run: Run) -> dict[str, Any]:
    """The JSON shape of a run (`rollout.status/v1` and friends); `step` is 0-based as stored,
    `step_number` counts from 1 as `rollout plan` does."""
    step = current_step(run.plan, run)
    number, total = step_of(run)
    return {
        "name": run.name,
        "attempt": run.attempt,
        "revision": run.revision,
        "phase": run.phase.value,
        "plan_hash": run.plan_hash,
        "step": run.step_index,
        "step_number": number,
        "steps": total,
        "current_step": step.model_dump() if step is not None else None,
        "stage": step.stage if step is not None else None,
        "weights": run.desired.model_dump() if run.desired is not None else None,
        "verdicts": run.verdicts,
        "intent": run.intent.model_dump(mode="json") if run.intent is not None else None,
        "message": run.message,
        "fingerprints": run.plan.fingerprints,
        "updated_at": iso(run.updated_at),
    }


def describe(run: Run, now: datetime) -> str:
    """One line: phase, step x/y, stage, weight, time left in the bake, each gate's verdict."""
    step = current_step(run.plan, run)
    number, total = step_of(run)
    parts = [run.phase.value, f"step {number}/{total}"]
    if step is not None and step.stage:
        parts.append(f"stage {step.stage}")
    if run.desired is not None:
        parts.append(f"{run.desired.candidate}% candidate")
    left = bake_left(run, now)
    if left is not None:
        parts.append(f"bake {format_duration(left)} left")
    verdicts = ", ".join(f"{g} {v.get('status')}" for g, v in run.verdicts.items())
    if verdicts:
        parts.append(f"gates: {verdicts}")
    return " · ".join(parts)


def summary(run: Run, now: datetime, *, until: str | None = None) -> list[str]:
    """The headline, the run's message and each gate's verdict in words."""
    lines = [f"{run.name} (attempt {run.attempt}): {describe(run, now)}"]
    if run.message:
        lines.append(f"  {run.message}")
    for gate, v in run.verdicts.items():
        text = v.get("summary")  # signal gates already in ms, tokens, $ (engine.analysis)
        lines.append(f"  gate {gate}: {v.get('status')} — {text}")
    if until is not None and not run.phase.finished:
        lines.append(
            f"  reached --until {until}; continue with: rollout apply <plan> "
            f"(or rollout promote {run.name})"
        )
    return lines


def bake_left(run: Run, now: datetime) -> float | None:
    """Seconds left in the current bake, or None when the run is not baking."""
    step = current_step(run.plan, run)
    if (
        run.phase.finished
        or step is None
        or step.kind != "analyze"
        or run.step_started_at is None
        or not step.duration
    ):
        return None
    left = step.duration * (1 + run.extensions) - (now - run.step_started_at).total_seconds()
    return max(0.0, left)


def to_full(run: Run, now: datetime) -> float | None:
    """At least this many seconds to 100 %: the bake left now plus every later bake (approvals
    wait for a person and are not counted). None once finished."""
    if run.phase.finished:
        return None
    later = sum(
        s.duration or 0 for s in run.plan.steps[run.step_index + 1 :] if s.kind == "analyze"
    )
    return (bake_left(run, now) or 0.0) + later
