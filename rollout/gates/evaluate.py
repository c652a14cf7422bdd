"""One tick of one gate -> a verdict. Pure: state in, state out.

The contract the engine relies on:

    evaluate(gate, state, tick, settings) -> (new_state, Verdict)

`state` is a JSON-serialisable dict owned by the method (empty on the first tick); it is kept
in the run across ticks *and stages* (sequential evidence is never reset). A verdict is
`pass` (healthy so far / non-inferiority certified), `fail` (roll back now) or
`inconclusive`; `halt=True` asks the engine to pause the rollout for a person (e.g. both
variants breach an absolute ceiling, or the traffic split itself looks broken).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rollout.spec import Gate

Status = Literal["pass", "fail", "inconclusive"]


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)
    gate: str
    status: Status
    summary: str  # one line a person can read: "error rate 2.1 % vs 1.0 % baseline; ..."
    halt: bool = False
    evidence: dict[str, Any] = Field(default_factory=dict)  # the numbers behind it


@dataclass(frozen=True)
class Tick:
    """What the metrics said for one gate over one analysis window."""

    at: datetime
    stage: str
    weight: int  # candidate percent while the window ran
    readings: dict[str, dict[str, float]] | None  # variant -> role -> value; None: no data
    error: str | None = None  # the source failed (never a pass)


@dataclass(frozen=True)
class Settings:
    method: Literal["sequential", "threshold"]
    alpha: float  # this gate's share of the plan's family-wise alpha
    failure_limit: int = 0
    stage_complete: bool = False  # the bake of the current step has ended with this tick


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    if settings.method == "threshold":
        from rollout.gates import threshold

        return threshold.evaluate(gate, state, tick, settings)
    from rollout.gates import sequential

    return sequential.evaluate(gate, state, tick, settings)
