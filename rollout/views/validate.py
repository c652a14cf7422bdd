"""`rollout validate PLAN...`: a line per valid file, one per problem, or `rollout.validate/v1`."""

from __future__ import annotations

from typing import Any

from rollout.views import judge_noise as noise

SCHEMA = "rollout.validate/v1"


def data(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"valid": all(r["valid"] for r in results), "files": results}


def human(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        if r["valid"]:
            lines.append(f"ok  {r['file']} ({r['steps']} steps, hash {r['plan_hash'][:8]})")
            lines += [f"    {noise.line(f)}" for f in r.get("judge_noise", [])]
        else:
            lines += [p["text"] for p in r["problems"]]
    if len(results) > 1:
        bad = sum(not r["valid"] for r in results)
        lines.append(f"{len(results) - bad} of {len(results)} plans valid")
    return lines
