"""`rollout status [NAME] [--watch]`: phase, stage, weights and the gates' latest verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollout import output as out
from rollout.clock import SystemClock
from rollout.commands._common import find_run
from rollout.commands._common import store as open_state
from rollout.engine import current_step
from rollout.records import Run

SCHEMA = "rollout.status/v1"


def run_json(run: Run) -> dict[str, Any]:
    step = current_step(run.plan, run)
    return {
        "name": run.name,
        "attempt": run.attempt,
        "revision": run.revision,
        "phase": run.phase.value,
        "plan_hash": run.plan_hash,
        "step": run.step_index,
        "steps": len(run.plan.steps),
        "current_step": step.model_dump() if step is not None else None,
        "stage": step.stage if step is not None else None,
        "weights": run.desired.model_dump() if run.desired is not None else None,
        "verdicts": run.verdicts,
        "intent": run.intent.model_dump(mode="json") if run.intent is not None else None,
        "message": run.message,
        "fingerprints": run.plan.fingerprints,
        "updated_at": run.updated_at.isoformat(),
    }


def summary_lines(run: Run, *, until: str | None = None) -> list[str]:
    from rollout.progress import describe

    lines = [f"{run.name} (attempt {run.attempt}): {describe(run, run.updated_at)}"]
    if run.message:
        lines.append(f"  {run.message}")
    for gate, v in run.verdicts.items():
        lines.append(f"  gate {gate}: {v.get('status')} — {v.get('summary')}")
    if until is not None and not run.phase.finished:
        lines.append(
            f"  reached --until {until}; continue with: rollout apply <plan> (or rollout promote {run.name})"
        )
    return lines


def run(
    name: str | None = None, watch: bool = False, state: str | None = None, output: str = "text"
) -> int:
    st = open_state(state)
    if name is None:
        from rollout.commands import list_

        return list_.show(st, output)
    clock = SystemClock()
    while True:
        r = find_run(st, name)
        if output == "json":
            out.emit_json(SCHEMA, run_json(r))
        else:
            now = datetime.now(UTC)
            for text in summary_lines(r):
                out.line(text)
            if r.intent is not None:
                out.line(f"  pending intent: {r.intent.action} by {r.intent.actor}")
            held = getattr(st, "holder", None)  # SQLite, PostgreSQL and memory stores know it
            h = held(name) if held is not None else None
            if h is not None:
                out.line(f"  being applied by {h}")
            out.line(
                f"  updated {int((now - r.updated_at).total_seconds())}s ago, step {r.step_index}/{len(r.plan.steps)}"
            )
        if not watch or r.phase.finished:
            return 0
        clock.sleep(2.0)
        if output != "json":
            out.line("")
