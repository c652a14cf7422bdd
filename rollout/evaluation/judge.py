"""Both variants' scores -> a verdict per evaluate gate and one outcome. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rollout.evaluation.paired import judge as judge_gate
from rollout.evaluation.spec import EvaluateSpec
from rollout.evaluation.types import EvaluationRun

Outcome = Literal["pass", "fail", "no_data"]
PREFIX = "evaluate:"  # run.verdicts key prefix (no plan gate name has a colon)


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    verdicts: dict[str, dict[str, Any]]  # gate name -> {gate, status, summary, evidence, ...}
    reason: str  # one line: why it passed or stopped

    @property
    def blocking(self) -> list[str]:
        return [g for g, v in self.verdicts.items() if v["required"] and v["status"] != "pass"]


def judge(spec: EvaluateSpec, got: EvaluationRun, alpha: float) -> Judgement:
    error = got.error
    if error is not None:
        return Judgement("no_data", {}, f"the evaluation could not be judged: {error}")
    base = got.runs["baseline"].scores or {}
    cand = got.runs["candidate"].scores or {}
    verdicts: dict[str, dict[str, Any]] = {}
    for gate in spec.gates:
        r = judge_gate(
            gate,
            base.get(gate.metric, {}),
            cand.get(gate.metric, {}),
            alpha=alpha,
            min_items=spec.min_items,
            max_missing=spec.max_missing,
            expected=got.dataset_ids,
        )
        evidence = {**r.evidence, "dataset": got.dataset, "dataset_sha256": got.dataset_sha256}
        verdicts[gate.name] = {
            "gate": gate.name,
            "status": r.status,
            "summary": r.summary,
            "required": gate.required,
            "evidence": evidence,
        }
    blocking = [g for g, v in verdicts.items() if v["required"] and v["status"] != "pass"]
    if blocking:
        first = verdicts[blocking[0]]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        reason = f"{blocking[0]} {first['status']}{more}: {first['summary']}"
        return Judgement("fail", verdicts, reason)
    return Judgement("pass", verdicts, "every required evaluate gate passed")
