"""`rollout simulate PLAN`: how the plan judged the scenario, or `rollout.simulate/v1`."""

from __future__ import annotations

from typing import Any

from rollout.records import Plan

SCHEMA = "rollout.simulate/v1"


def data(
    plan: Plan,
    scn: Any,
    seed: int,
    runs: int,
    elapsed: float,
    summary: dict[str, Any],
    path: str = "engine",
    traffic: str = "scenario",
) -> dict[str, Any]:
    return {
        "plan": plan.name,
        "plan_hash": plan.plan_hash,
        "scenario": scn.model_dump(mode="json"),
        "traffic_from": traffic,  # scenario | plan (its simulated source) | --traffic
        "seed": seed,
        "runtime_seconds": round(elapsed, 3),
        "path": path,  # fast (rollout.sim.fast, checked against the engine) | engine (why)
        "results": summary,
    }


def human(
    plan: Plan,
    scn: Any,
    seed: int,
    runs: int,
    elapsed: float,
    summary: dict[str, Any],
    path: str = "engine",
    traffic: str = "scenario",
) -> list[str]:
    from rollout.sim.report import text_table

    kind = "healthy" if scn.healthy else "regression"
    src = {"plan": ", the plan's own traffic", "--traffic": ", from --traffic"}.get(traffic, "")
    title = (
        f"{plan.name} vs scenario {scn.name} ({kind}; {scn.requests_per_minute:,.0f} "
        f"requests/min{src}; seed {seed})"
    )
    lines = list(text_table(summary, title))
    lines.append(
        f"  runtime                   {elapsed:.1f} s for {runs} virtual rollouts ({path} path)"
    )
    if scn.description:
        lines.append(f"  scenario                  {scn.description}")
    return lines
