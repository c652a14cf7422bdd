"""PlanSpec -> Plan: ordered steps, a plan hash and variant fingerprints. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from rollout.records import VARIANTS, Plan, Step
from rollout.spec import PlanSpec


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(variant: Mapping[str, Any], prompt_digest: str | None) -> str:
    """sha256 over what makes a variant behave as it does: model, version, params, prompt text."""
    material = {
        "model": variant.get("model"),
        "model_version": variant.get("model_version"),
        "params": variant.get("params") or {},
        "prompt_sha256": prompt_digest,
    }
    return hashlib.sha256(_canonical(material)).hexdigest()


def steps_of(spec: PlanSpec) -> tuple[Step, ...]:
    every_gate = tuple(g.name for g in spec.gates)
    out: list[Step] = [Step(kind="preflight")]
    if spec.evaluate is not None:  # offline and first: no traffic moves unless it passes
        names = tuple(g.name for g in spec.evaluate.gates)
        out.insert(0, Step(kind="evaluate", stage="evaluate", weight=0, gates=names))
    for stage in spec.stages:
        if stage.approval:
            out.append(Step(kind="approval", stage=stage.name))
        gates = tuple(stage.gates) if stage.gates is not None else every_gate
        for w in stage.weight_list():
            out.append(Step(kind="set_weight", stage=stage.name, weight=w))
            if stage.bake > 0:
                out.append(
                    Step(
                        kind="analyze",
                        stage=stage.name,
                        weight=w,
                        duration=stage.bake,
                        interval=spec.analysis.interval,
                        gates=gates,
                        min_requests=stage.min_requests,
                    )
                )
    out.append(Step(kind="promote", stage=spec.stages[-1].name, weight=100))
    return tuple(out)


def compile_plan(
    spec: PlanSpec,
    prompt_digests: Mapping[str, str | None] | None = None,
    *,
    source: str | None = None,
) -> Plan:
    """Compile. `prompt_digests` maps variant -> sha256 of its prompt file (read by `load`)."""
    digests = dict(prompt_digests or {})
    data = spec.model_dump(mode="json", by_alias=True)
    fingerprints = {v: fingerprint(data["variants"][v], digests.get(v)) for v in VARIANTS}
    # Meaning, not text: the normalised spec (defaults filled, durations in seconds, keys sorted)
    # plus what the prompt files say. Comments, key order and whitespace do not count.
    plan_hash = hashlib.sha256(_canonical({"spec": data, "fingerprints": fingerprints})).hexdigest()
    return Plan(
        name=spec.name,
        plan_hash=plan_hash,
        steps=steps_of(spec),
        spec=spec,
        fingerprints=fingerprints,
        source=source,
    )


def min_total_seconds(plan: Plan) -> int:
    """The shortest a rollout of this plan can take (bakes only; approvals are instant)."""
    return sum(s.duration or 0 for s in plan.steps if s.kind == "analyze")
