"""The spend cap: `budget: {max_candidate_cost: USD}` limits what the rollout itself may spend
on the candidate in one attempt.

Every judged tick adds the candidate's spend in its window to the run's state
(`run.gates[KEY]`): the cost-per-request gate's candidate `sum` reading, its mean times the calls
it is over. When the total reaches the cap the rollout rolls back ("budget: candidate spent $251
of $250"). Missing cost readings are not evidence: a tick without a usable cost reading leaves
that window's spend unknown, so it counts as blind (as a required gate's gap: `no_data`,
`step_gaps`) and the step it falls in cannot pass or promote. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rollout.gates.types import Tick
from rollout.llm.units import usd
from rollout.records import Plan, Run

KEY = "budget:candidate"  # in run.gates (no gate name has a colon)


def spend_of(tick: Tick | None) -> float | None:
    """The candidate's dollars in one tick's window; None: no usable reading (never zero)."""
    if tick is None or tick.error is not None or tick.readings is None:
        return None
    cand = tick.readings.get("candidate") or {}
    n, s = cand.get("count"), cand.get("sum")
    if not isinstance(n, int | float) or not isinstance(s, int | float):
        return None
    if not (math.isfinite(n) and math.isfinite(s)) or n <= 0 or s < 0:
        return None
    return float(s)


def account(
    plan: Plan,
    run: Run,
    ticks: Mapping[str, Tick],
    states: dict[str, Any],
    verdicts: dict[str, Any],
) -> str | None:
    """Add this tick's spend to `states[KEY]` and show it on the cost gate's verdict (what
    status and the report read). Returns the cost gate's name when its reading was unusable
    (the tick is blind), else None. Nothing happens without a budget."""
    cap = plan.spec.budget
    cost = plan.spec.cost_gate()
    if cap is None or cost is None:
        return None
    gate = cost.name
    st = run.gates.get(KEY) or {}
    same_step = st.get("step") == run.step_index
    got = spend_of(ticks.get(gate))
    new = {
        "spent": float(st.get("spent", 0.0)) + (got or 0.0),
        "cap": cap.max_candidate_cost,
        "step": run.step_index,
        # ticks of this step whose spend is unknown (blind): the step cannot pass
        "gaps": (int(st.get("gaps", 0)) if same_step else 0) + (got is None),
        "blind_ticks": int(st.get("blind_ticks", 0)) + (got is None),
    }
    states[KEY] = new
    if gate in verdicts:
        verdicts[gate] = {**verdicts[gate], "budget": shown(new)}
    return gate if got is None else None


def shown(st: Mapping[str, Any]) -> dict[str, Any]:
    """What readers show: spent / cap, and how many ticks could not be counted."""
    return {
        "spent": st["spent"],
        "cap": st["cap"],
        "unmeasured_ticks": st.get("blind_ticks", 0),
    }


def exceeded(plan: Plan, run: Run) -> str | None:
    """The rollback reason once the candidate's spend reaches the cap, else None."""
    st = run.gates.get(KEY)
    if plan.spec.budget is None or not st:
        return None
    spent, cap = float(st["spent"]), plan.spec.budget.max_candidate_cost
    if spent < cap:
        return None
    return f"budget: candidate spent {usd(spent)} of {usd(cap)} (budget.max_candidate_cost)"


def unmeasured(plan: Plan, run: Run) -> list[str]:
    """Why this step may not pass on the budget's account: ticks whose spend is unknown."""
    st = run.gates.get(KEY)
    if plan.spec.budget is None or not st or st.get("step") != run.step_index:
        return []
    gaps = int(st.get("gaps", 0))
    if not gaps:
        return []
    return [
        f"budget: {gaps} interval(s) without a cost reading (spend unknown, never counted as 0)"
    ]
