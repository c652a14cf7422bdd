"""`rollout plan PLAN`: the compiled steps as a table (like `terraform plan`), or
`rollout.plan/v1`. `state` is what `apply` would do with the stored run, decided by the command."""

from __future__ import annotations

from typing import Any

from rollout.compile import min_total_seconds
from rollout.durations import format_duration
from rollout.loading import Loaded
from rollout.records import VARIANTS, Plan, Step
from rollout.views import _table

SCHEMA = "rollout.plan/v1"


def data(loaded: Loaded, state: dict[str, Any] | None) -> dict[str, Any]:
    plan = loaded.plan
    return {
        "name": plan.name,
        "file": str(loaded.path),
        "plan_hash": plan.plan_hash,
        "variants": {v: variant(plan, v) for v in VARIANTS},
        "steps": [s.model_dump(mode="json") for s in plan.steps],
        "min_total_seconds": min_total_seconds(plan),
        "state": state,
    }


def variant(plan: Plan, v: str) -> dict[str, Any]:
    spec = getattr(plan.spec.variants, v).model_dump()
    return {
        "model": spec.get("model"),
        "model_version": spec.get("model_version"),
        "prompt": spec.get("prompt"),
        "target": spec.get("target"),
        "fingerprint": plan.fingerprints[v],
    }


def human(loaded: Loaded, state: dict[str, Any] | None) -> list[str]:
    plan = loaded.plan
    lines = [f"rollout plan: {plan.name}  ({loaded.path})"]
    for v in VARIANTS:
        d = variant(plan, v)
        model = d["model"] + (f" {d['model_version']}" if d["model_version"] else "")
        prompt = f", prompt {d['prompt']}" if d["prompt"] else ""
        lines.append(f"  {v:<9} {model}{prompt}  fingerprint {d['fingerprint'][:12]}")
    table = _table.new(
        "#",
        "step",
        "stage",
        "weight",
        "duration",
        "gates / approval",
        right=("#", "weight"),
        wrap=("gates / approval",),
    )
    for i, s in enumerate(plan.steps, 1):
        table.add_row(str(i), *_cells(s, plan.name))
    lines += _table.lines(table)
    total = format_duration(min_total_seconds(plan))
    lines.append(f"minimum total time: {total} (bakes only; approvals wait for a person)")
    lines.append(f"plan hash: {plan.plan_hash}")
    if state is not None:
        lines.append(f"state ({state['url']}): {state['message']}")
    return lines


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
    elif s.kind == "evaluate":
        weight = "0%"
        last = f"offline, 0 % traffic: paired gates {', '.join(s.gates)}"
    return [s.kind, s.stage or "", weight, duration, last]
