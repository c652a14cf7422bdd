"""The data the engine works on: compiled plans, runs, events. Frozen, JSON-serialisable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rollout.spec import PlanSpec

VARIANTS = ("baseline", "candidate")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Weights(_Frozen):
    """Share of traffic per variant, in percent; always sums to 100."""

    baseline: int = Field(ge=0, le=100)
    candidate: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _sum(self) -> Weights:
        if self.baseline + self.candidate != 100:
            raise ValueError(f"weights must sum to 100, got {self.baseline} + {self.candidate}")
        return self

    @classmethod
    def of(cls, candidate: int) -> Weights:
        return cls(baseline=100 - candidate, candidate=candidate)

    @classmethod
    def all_baseline(cls) -> Weights:
        return cls(baseline=100, candidate=0)

    def __str__(self) -> str:
        return f"{self.candidate}% candidate / {self.baseline}% baseline"


StepKind = Literal["evaluate", "preflight", "set_weight", "analyze", "approval", "promote"]


class Step(_Frozen):
    """One compiled step. Fields that do not apply to a kind are None / empty."""

    kind: StepKind
    stage: str | None = None
    weight: int | None = None  # set_weight: candidate percent; analyze: the weight it runs at
    duration: int | None = None  # analyze: seconds (the bake)
    interval: int | None = None  # analyze: seconds between checks
    gates: tuple[str, ...] = ()
    min_requests: int | None = None

    def describe(self) -> str:
        if self.kind == "set_weight":
            return f"set_weight {self.weight}"
        if self.kind == "analyze":
            return (
                f"analyze {self.duration}s every {self.interval}s gates [{', '.join(self.gates)}]"
            )
        if self.kind == "approval":
            return f"approval {self.stage}"
        return self.kind


class Plan(_Frozen):
    """A compiled plan: what `rollout plan` shows and what the engine follows."""

    name: str
    plan_hash: str
    steps: tuple[Step, ...]
    spec: PlanSpec  # the normalised, typed plan incl. router/metrics config: no secrets
    fingerprints: dict[str, str]  # variant -> sha256 of model, version, params, prompt content
    source: str | None = None  # the plan file it came from


class Phase(StrEnum):
    PENDING = "pending"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def finished(self) -> bool:
        return self in (Phase.COMPLETED, Phase.ROLLED_BACK, Phase.ABORTED)


class Intent(_Frozen):
    """What a person asked for through a control verb; the runner acts on it at its next tick."""

    action: Literal["abort", "pause", "resume", "promote", "promote_full"]
    actor: str  # user@host
    at: datetime
    reason: str | None = None


class Event(_Frozen):
    """One line of a run's audit trail. `data` holds the evidence (numbers, weights)."""

    kind: str  # e.g. phase, weights, verdict, intent, step, approval, error, drift
    at: datetime
    message: str
    actor: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None  # assigned by the store
    attempt: int | None = None  # assigned by the store


class Holder(_Frozen):
    """Who holds a lease (like terraform's LockInfo)."""

    user: str
    host: str
    pid: int
    since: datetime | None = None
    expires: datetime | None = None

    def __str__(self) -> str:
        s = f"{self.user}@{self.host} pid {self.pid}"
        if self.since is not None:
            s += f" since {self.since.isoformat(timespec='seconds')}"
        return s


class Run(_Frozen):
    """The stored state of one attempt of a rollout.

    Position is step_index + plan_hash, never inferred. Traffic is described three ways:
    `desired` is what we decided (recorded *before* acting), `verified` what the router last
    confirmed after an act. desired != verified means an act may not have happened (heal it on
    resume); desired == verified while the router shows something else means someone moved the
    traffic outside rollout (see engine.heal)."""

    name: str
    attempt: int = 1
    revision: int = 0  # bumped by every commit; commits are checked against it
    plan_hash: str
    plan: Plan  # snapshot, so abort/status work from any machine without the plan file
    phase: Phase = Phase.PENDING
    step_index: int = 0
    step_started_at: datetime | None = None
    desired: Weights | None = None  # what we last asked the router for (recorded before acting)
    verified: Weights | None = None  # what the router confirmed after the last act
    intents: tuple[Intent, ...] = ()  # control verbs, oldest first; consumed in order
    gates: dict[str, Any] = Field(default_factory=dict)  # per-gate statistical state (JSON)
    verdicts: dict[str, Any] = Field(default_factory=dict)  # per-gate latest verdict (JSON)
    last_tick_at: datetime | None = None
    extensions: int = 0  # bakes added by on_inconclusive: extend, in the current step
    approved: tuple[str, ...] = ()  # stages approved ahead of time (--approve / promote)
    exposure: dict[str, float] = Field(default_factory=dict)  # candidate requests seen per stage
    no_data: int = 0  # consecutive analysis ticks in which a required gate had no usable data
    step_gaps: int = 0  # ticks of the current step with a failed query or no data
    message: str = ""
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Rows written by 0.1 had one intent slot; it becomes the head of the queue."""
        if isinstance(data, dict) and "intent" in data:
            data = dict(data)
            one = data.pop("intent")
            if one is not None and not data.get("intents"):
                data["intents"] = [one]
        return data

    @property
    def intent(self) -> Intent | None:
        """The next intent to act on (the head of the queue)."""
        return self.intents[0] if self.intents else None
