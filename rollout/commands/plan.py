"""`rollout plan PLAN`: the compiled steps, like `terraform plan`. Nothing moves.

If a state store already exists and knows this rollout, say what `apply` would do with it:
resume (same plan hash), report it finished, or start a new attempt (the plan changed).
The state store is only read, and a SQLite file that does not exist is never created.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_OK
from rollout.loading import load, parse_vars
from rollout.output import warn
from rollout.records import Plan, Run
from rollout.runner import exit_code_for
from rollout.views import plan as view


def run(
    plan_file: Path,
    var: Sequence[str],
    var_file: Sequence[Path],
    output: str = "text",
    state: str | None = None,
    clock: Clock | None = None,
    traffic: str | None = None,
) -> int:
    from rollout.sim.power import parse_traffic

    rpm = parse_traffic(traffic) if traffic is not None else None  # bad input before any work
    loaded = load(plan_file, variables=parse_vars(var), var_files=var_file)
    plan = loaded.plan
    stored = stored_run(plan.name, state)
    here = None if stored is None else {"url": stored["url"], **verdict(plan, stored["run"])}
    rows = wave_rows(plan, state)
    cost = cost_preview(plan, rpm)
    views.show(view, output, loaded, here, power=power_preview(plan, rpm), waves=rows, cost=cost)
    return EXIT_OK


def wave_rows(plan: Plan, state: str | None) -> list[dict[str, Any]] | None:
    """A wave plan's waves and where each is in an existing store (rollout.waves), else None."""
    if not plan.spec.waves:
        return None
    from rollout import waves
    from rollout.commands._common import existing_store

    try:
        st = existing_store(state)
    except Exception:  # informational only, as stored_run: an unreadable store says nothing
        st = None
    return waves.states(st, plan)


def power_preview(plan: Plan, rpm: float | None, measured: float | None = None) -> dict[str, Any]:
    """What the plan can decide at `rpm` (--traffic), else at a rate `check` measured, else at
    its simulated source's rate (rollout.sim.power): closed form, no simulation, no numpy."""
    from rollout.sim.power import plan_rpm, preview

    if rpm is not None:
        return preview(plan, rpm, "--traffic")
    if measured is not None:
        return preview(plan, measured, "the metrics source (check's window)")
    own = plan_rpm(plan)
    return preview(plan, own, "the plan's simulated source" if own is not None else "")


def cost_preview(plan: Plan, rpm: float | None) -> dict[str, Any]:
    """The candidate's cost at 100 % at `rpm` (--traffic), else the plan's simulated rate."""
    from rollout.llm.forecast import planned

    return planned(plan, rpm, "--traffic" if rpm is not None else "")


def stored_run(name: str, state: str | None) -> dict[str, Any] | None:
    """{"url", "run": Run | None} from an existing store, or None when there is no store."""
    from rollout.commands._common import existing_store, url_of

    url = url_of(state)
    try:
        st = existing_store(url)
        if st is None:
            return None  # no store yet: `plan` must not create one
        return {"url": url, "run": st.load(name)}
    except Exception as exc:  # informational only: an unreadable store must not fail `plan`
        from rollout.redact import redact_text

        warn(f"could not read the state store {redact_text(url)}: {redact_text(str(exc))}")
        return None


def verdict(plan: Plan, run: Run | None) -> dict[str, Any]:
    """What `rollout apply` would do with the stored run: start, resume, finished or new_attempt."""
    if run is None:
        return {
            "action": "start",
            "attempt": 1,
            "message": "no run of this name yet: apply would start attempt 1",
        }
    info: dict[str, Any] = {
        "stored_attempt": run.attempt,
        "stored_phase": str(run.phase),
        "stored_plan_hash": run.plan_hash,
    }
    if run.plan_hash != plan.plan_hash:
        still = f"; attempt {run.attempt} is still {run.phase}" if not run.phase.finished else ""
        return info | {
            "action": "new_attempt",
            "attempt": run.attempt + 1,
            "message": f"the plan changed since attempt {run.attempt} "
            f"(hash {run.plan_hash[:8]} -> {plan.plan_hash[:8]}): "
            f"apply would start attempt {run.attempt + 1}{still}",
        }
    if run.phase.finished:
        hint = (
            ""
            if str(run.phase) == "completed"
            else f" (`rollout retry {plan.name}` starts a new attempt)"
        )
        return info | {
            "action": "finished",
            "attempt": run.attempt,
            "message": f"attempt {run.attempt} of this plan is already {run.phase}: "
            f"apply would say so and exit {exit_code_for(run)}{hint}",
        }
    total = len(run.plan.steps)
    at = run.plan.steps[run.step_index].describe() if 0 <= run.step_index < total else "the end"
    return info | {
        "action": "resume",
        "attempt": run.attempt,
        "step_index": run.step_index,
        "message": f"same plan: apply would resume attempt {run.attempt} ({run.phase}) at step "
        f"{run.step_index + 1}/{total}: {at}",
    }
