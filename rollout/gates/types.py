"""The types every gate method shares: what a tick says, how a gate is judged, what it decides.

They live here, apart from `evaluate` (the dispatcher), so the methods (`sequential`,
`threshold`) can import them without importing the module that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    # variant -> one reading (role -> value) per hash bucket of the sticky key, when the source
    # can split its numbers by the bucket label: the unit of randomisation is the user, and
    # bucket-level sums give a variance that holds when a user's requests are not independent
    buckets: dict[str, list[dict[str, float]]] | None = None


@dataclass(frozen=True)
class Settings:
    method: Literal["sequential", "threshold"]
    alpha: float  # this gate's share of the plan's family-wise alpha
    failure_limit: int = 0
    stage_complete: bool = False  # the bake of the current step has ended with this tick
    # the alpha of this gate's certification (`pass`), by decision role (engine.pass_alpha);
    # None: the same as `alpha` (a plan without goals)
    pass_alpha: float | None = None
