"""`rollout list`: every rollout in the state store."""

from __future__ import annotations

from rollout import output as out
from rollout.commands._common import store as open_state
from rollout.engine import current_step
from rollout.state import StateStore

SCHEMA = "rollout.list/v1"


def show(st: StateStore, output: str) -> int:
    runs = st.runs()
    if output == "json":
        from rollout.commands.status import run_json

        out.emit_json(SCHEMA, {"rollouts": [run_json(r) for r in runs]})
        return 0
    if not runs:
        out.line("no rollouts yet (rollout apply PLAN starts one)")
        return 0
    out.line(f"{'NAME':<28} {'ATTEMPT':>7}  {'PHASE':<18} {'STAGE':<12} {'CANDIDATE':>9}  UPDATED")
    for r in runs:
        step = current_step(r.plan, r)
        stage = step.stage if step is not None and step.stage else "-"
        w = f"{r.desired.candidate}%" if r.desired is not None else "-"
        out.line(
            f"{r.name:<28} {r.attempt:>7}  {r.phase.value:<18} {stage:<12} {w:>9}  {r.updated_at.isoformat(timespec='seconds')}"
        )
    return 0


def run(state: str | None = None, output: str = "text") -> int:
    return show(open_state(state), output)
