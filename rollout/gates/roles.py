"""Decision roles: a `goal` gate (must be better) built from two sequential tests.

A guardrail (the default) is the sequential gate as it is: `pass` certifies non-inferiority
at its bound, `fail` (harm beyond the bound) rolls back. A goal states how much better the
candidate must be, as one bound on the better side of the baseline (max_ratio 0.9: at least
10 % lower; min_ratio 1.1: at least 10 % higher; max_increase / max_decrease 0: lower /
higher at all). It runs two tests on the same ticks, each with its own state:

* superiority (`goal`): the sequential test at the goal's own bound; its safety e-process
  (null: the candidate is at or beyond the bound) reaching 1 / pass_alpha certifies `pass`,
  i.e. a one-sided confidence sequence shows the candidate better by the margin. Harm
  evidence at this bound is not harm: a candidate that is better but not by the margin is
  merely not certified (inconclusive; the stage's `on_inconclusive` decides).
* harm (`harm`): the same gate at the neutral bound (ratio 1, difference 0) as a guardrail:
  `fail` (a rollback, on the gate's share of the family-wise rollback alpha) only when the
  candidate is shown worse than the baseline. So a goal never rolls back a candidate for
  missing its margin, only for being shown harmful.

A sample-ratio halt from either test halts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rollout.gates import sequential
from rollout.gates.types import Settings, Tick, Verdict
from rollout.spec import Gate

NEUTRAL = {"max_ratio": 1.0, "min_ratio": 1.0, "max_increase": 0.0, "max_decrease": 0.0}


def harm_gate(gate: Gate) -> Gate:
    """The goal's harm test: the same gate as a guardrail at the neutral bound."""
    (b, _), *_ = sequential.bounds(gate)
    return gate.model_copy(update={b: NEUTRAL[b], "role": "guardrail"})


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    (b, val), *_ = sequential.bounds(gate)
    goal_st, goal = sequential.evaluate(
        gate.model_copy(update={"role": "guardrail"}), state.get("goal", {}), tick, settings
    )
    harm_st, harm = sequential.evaluate(
        harm_gate(gate), state.get("harm", {}), tick, replace(settings, pass_alpha=None)
    )
    st = {"role": "goal", "goal": goal_st, "harm": harm_st}
    halt = goal.halt or harm.halt
    if harm.status == "fail" and not harm.halt:
        status, why = "fail", f"shown worse than the baseline ({harm.summary})"
    elif goal.status == "pass" and not halt:
        status, why = "pass", f"goal {b} {val:g} certified"
    else:
        status, why = "inconclusive", f"goal {b} {val:g} not yet shown"
    ev = {
        **goal.evidence,
        "role": "goal",
        "goal_bound": {b: val},
        "harm": {"bound": {b: NEUTRAL[b]}, "status": harm.status, **harm.evidence},
    }
    summary = f"{goal.summary}; goal: {why}"
    return st, Verdict(gate=gate.name, status=status, summary=summary, halt=halt, evidence=ev)


def carry(state: dict[str, Any]) -> dict[str, Any]:
    """A goal's state for `rollout retry`: each of its two tests carries as a guardrail's does."""
    return {
        "role": "goal",
        "goal": sequential.carry(state.get("goal", {})),
        "harm": sequential.carry(state.get("harm", {})),
    }
