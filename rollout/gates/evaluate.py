"""One tick of one gate -> a verdict. Pure: state in, state out.

The contract the engine relies on:

    evaluate(gate, state, tick, settings) -> (new_state, Verdict)

`state` is a JSON-serialisable dict owned by the method (empty on the first tick); it is kept
in the run across ticks *and stages* (sequential evidence is never thrown away: later steps and
restarts add e-processes on unused shares of alpha), and `carry` hands it to a retry. A verdict is
`pass` (healthy so far / non-inferiority certified; for a `goal` gate, superiority), `fail`
(roll back now) or `inconclusive`; `halt=True` asks the engine to pause the rollout for a
person (e.g. both variants breach an absolute ceiling, or the traffic split itself looks
broken).
"""

from __future__ import annotations

from typing import Any

from rollout.gates.types import Settings, Status, Tick, Verdict
from rollout.spec import Gate

__all__ = ["Settings", "Status", "Tick", "Verdict", "carry", "evaluate"]


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    if settings.method == "threshold":
        from rollout.gates import threshold

        return threshold.evaluate(gate, state, tick, settings)
    if gate.role == "goal":  # superiority and harm, two sequential tests (gates.roles)
        from rollout.gates import roles

        return roles.evaluate(gate, state, tick, settings)
    from rollout.gates import sequential

    return sequential.evaluate(gate, state, tick, settings)


def carry(states: dict[str, Any]) -> dict[str, Any]:
    """Every gate's state for a new attempt of the same plan (`rollout retry`): the tests go
    on from where the last attempt left them, so a retry never spends alpha again."""
    from rollout.gates import roles, sequential

    return {
        name: (roles.carry(st) if st.get("role") == "goal" else sequential.carry(st))
        for name, st in states.items()
        if isinstance(st, dict)
    }
