"""`rollout plan PLAN`: the compiled steps, like `terraform plan`. Nothing moves.

If a state store already exists and knows this rollout, say what `apply` would do with it:
resume (same plan hash), report it finished, or start a new attempt (the plan changed).
The state store is only read, and a SQLite file that does not exist is never created.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout.compile import min_total_seconds
from rollout.durations import format_duration
from rollout.errors import EXIT_OK
from rollout.load import Loaded, load, parse_vars
from rollout.output import console, emit_json, line, warn
from rollout.records import VARIANTS, Plan, Run, Step

SCHEMA = "rollout.plan/v1"


def run(
    plan_file: Path,
    var: Sequence[str],
    var_file: Sequence[Path],
    output: str = "text",
    state: str | None = None,
) -> int:
    loaded = load(plan_file, variables=parse_vars(var), var_files=var_file)
    plan = loaded.plan
    stored = stored_run(plan.name, state)
    if output == "json":
        emit_json(SCHEMA, payload(loaded, stored))
    else:
        show(loaded, stored)
    return EXIT_OK


def stored_run(name: str, state: str | None) -> dict[str, Any] | None:
    """{"url", "run": Run | None} from an existing store, or None when there is no store."""
    from rollout.state import open_store, sqlite_path, state_url

    url = state_url(state)
    if "://" not in url:
        url = "sqlite:///" + url
    if url.startswith("sqlite:") and not sqlite_path(url).exists():
        return None  # no store yet: `plan` must not create one
    try:
        return {"url": url, "run": open_store(url).load(name)}
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
            "message": f"the plan changed since attempt {run.attempt} (hash {run.plan_hash[:8]} -> {plan.plan_hash[:8]}): "
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
            "message": f"attempt {run.attempt} of this plan is already {run.phase}: apply would say so and exit 0{hint}",
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


def payload(loaded: Loaded, stored: dict[str, Any] | None) -> dict[str, Any]:
    plan = loaded.plan
    variants = {v: _variant(plan, v) for v in VARIANTS}
    state = None
    if stored is not None:
        state = {"url": stored["url"], **verdict(plan, stored["run"])}
    return {
        "name": plan.name,
        "file": str(loaded.path),
        "plan_hash": plan.plan_hash,
        "variants": variants,
        "steps": [s.model_dump(mode="json") for s in plan.steps],
        "min_total_seconds": min_total_seconds(plan),
        "state": state,
    }


def _variant(plan: Plan, v: str) -> dict[str, Any]:
    spec = getattr(plan.spec.variants, v).model_dump()
    return {
        "model": spec.get("model"),
        "model_version": spec.get("model_version"),
        "prompt": spec.get("prompt"),
        "target": spec.get("target"),
        "fingerprint": plan.fingerprints[v],
    }


def show(loaded: Loaded, stored: dict[str, Any] | None) -> None:
    from rich.table import Table

    plan = loaded.plan
    out = console()
    line(f"rollout plan: {plan.name}  ({loaded.path})")
    for v in VARIANTS:
        d = _variant(plan, v)
        model = d["model"] + (f" {d['model_version']}" if d["model_version"] else "")
        prompt = f", prompt {d['prompt']}" if d["prompt"] else ""
        line(f"  {v:<9} {model}{prompt}  fingerprint {d['fingerprint'][:12]}")
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for col in ("#", "step", "stage", "weight", "duration"):
        table.add_column(col, justify="right" if col in ("#", "weight") else "left", no_wrap=True)
    table.add_column("gates / approval")  # the one column that may wrap
    for i, s in enumerate(plan.steps, 1):
        table.add_row(str(i), *_cells(s, plan.name))
    out.print(table)
    line(
        f"minimum total time: {format_duration(min_total_seconds(plan))} (bakes only; approvals wait for a person)"
    )
    line(f"plan hash: {plan.plan_hash}")
    if stored is not None:
        line(f"state ({stored['url']}): {verdict(plan, stored['run'])['message']}")


def _cells(s: Step, name: str) -> list[str]:
    weight = f"{s.weight}%" if s.weight is not None and s.kind in ("set_weight", "promote") else ""
    duration, last = "", ""
    if s.kind == "analyze":
        duration = f"{format_duration(s.duration or 0)} every {format_duration(s.interval or 0)}"
        last = ", ".join(s.gates) or "(no gates)"
        if s.min_requests:
            last += f"; min {s.min_requests} requests"
    elif s.kind == "approval":
        last = f"waits for `rollout promote {name}` (or --approve)"
    return [s.kind, s.stage or "", weight, duration, last]
