"""`rollout plan PLAN`: the compiled steps as a table (like `terraform plan`), or
`rollout.plan/v1`. `state` is what `apply` would do with the stored run, decided by the command."""

from __future__ import annotations

from typing import Any

from rollout.compile import min_total_seconds
from rollout.durations import format_duration
from rollout.engine.types import settle_of
from rollout.llm import units
from rollout.loading import Loaded
from rollout.records import VARIANTS, Plan, Step
from rollout.views import _table
from rollout.views import judge_noise as noise
from rollout.views.waves import table as waves_table
from rollout.wave_line import document

SCHEMA = "rollout.plan/v1"


def data(
    loaded: Loaded,
    state: dict[str, Any] | None,
    power: dict[str, Any] | None = None,
    waves: list[dict[str, Any]] | None = None,
    cost: dict[str, Any] | None = None,
) -> dict[str, Any]:
    plan = loaded.plan
    return {
        "name": plan.name,
        "file": str(loaded.path),
        "plan_hash": plan.plan_hash,
        "variants": {v: variant(plan, v) for v in VARIANTS},
        "steps": [s.model_dump(mode="json") for s in plan.steps],
        "min_total_seconds": min_total_seconds(plan) + settle_seconds(plan),
        "state": state,
        "power": power,  # rollout.sim.power.preview: what the plan can decide at its traffic
        # a wave plan's line (rollout.wave_line.document), else null
        "waves": document(plan.name, waves) if waves is not None else None,
        # the candidate at 100 % before anything runs (rollout.llm.forecast): numbers, or null
        # numbers and a `note` saying why there are none; `budget` when the plan caps its spend
        "cost_projection": cost,
        # judge noise measured from a file at load (rollout.loading.judge_noise)
        "judge_noise": noise.figures(plan.spec),
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


def human(
    loaded: Loaded,
    state: dict[str, Any] | None,
    power: dict[str, Any] | None = None,
    waves: list[dict[str, Any]] | None = None,
    cost: dict[str, Any] | None = None,
) -> list[str]:
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
    settle = settle_seconds(plan)  # each step waits for its slowest settle after its bake
    total = format_duration(min_total_seconds(plan) + settle)
    what = f"bakes and {format_duration(settle)} of settle" if settle else "bakes only"
    lines.append(f"minimum total time: {total} ({what}; approvals wait for a person)")
    lines.append(f"plan hash: {plan.plan_hash}")
    lines += noise.lines(plan.spec)
    if state is not None:
        lines.append(f"state ({state['url']}): {state['message']}")
    if cost is not None:
        lines.append(units.projection_line(cost))
    if power is not None:
        lines += power_lines(power)
    if waves is not None:  # one rollout per wave (rollout.waves)
        lines += waves_table(plan.name, waves)
    return lines


def settle_seconds(plan: Plan) -> int:
    """What the bakes wait for their outcomes to settle: each analysis step passes or moves on
    only at its bake end plus its gates' slowest `settle` (engine.types.judged_end)."""
    return sum(settle_of(plan, s.gates) for s in plan.steps if s.kind == "analyze")


def power_lines(power: dict[str, Any]) -> list[str]:
    """The power preview (rollout.sim.power): per analysis step, how likely a healthy candidate
    is certified by the end of the bake, and how long the gates that fall short need."""
    if not power.get("steps"):
        return [f"power: {power['note']}"] if power.get("note") else []
    rpm = power["requests_per_minute"]
    src = f" ({power['traffic_from']})" if power.get("traffic_from") else ""
    lines = [
        f"power at {rpm:,.0f} requests/min{src}: the chance a healthy candidate is certified "
        "(every gate pass) by the end of each bake"
    ]
    table = _table.new(
        "stage",
        "weight",
        "bake",
        "verdict",
        "each gate",
        right=("weight", "verdict"),
        wrap=("each gate",),
    )
    for s in power["steps"]:
        gates = []
        for g in s["gates"]:
            p = g.get("p_verdict")
            cell = f"{g['gate']} " + ("-" if p is None else f"{p:.0%}")
            need = g.get("certify_minutes")
            if g.get("certify_beyond_60_days"):
                cell += " (not within 60 days)"
            elif need is not None:
                cell += f" (needs ~{format_duration(int(need * 60))})"
            gates.append(cell)
        p = s["p_verdict"]
        table.add_row(
            s["stage"] or "",
            f"{s['weight']}%",
            format_duration(s["bake_seconds"] or 0),
            "-" if p is None else f"{p:.0%}",
            ", ".join(gates),
        )
    lines += _table.lines(table)
    for f in power.get("flags", []):
        lines.append(f"cannot decide in its bake: {f}")
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
