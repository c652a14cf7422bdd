"""The plan language (v1): pydantic models of what a user writes in plan.yaml.

Semantic rules that span fields (weights rise, gates exist, ...) live here too, so that
every error carries a field path that `load` maps back to a file line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from rollout.durations import parse_duration
from rollout.errors import PlanRuleErrors
from rollout.evaluation.spec import EvaluateSpec, JudgeNoiseSpec
from rollout.llm.pricing import Price
from rollout.notify.config import NotifyTarget

Duration = Annotated[int, BeforeValidator(parse_duration)]


def _percent(v: int) -> int:
    if not 0 < v <= 100:
        raise ValueError("must be > 0 and <= 100")
    return v


# Validated per item, so an error names the exact entry: stages[1].weights[0].
Percent = Annotated[int, AfterValidator(_percent)]
NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
SHORT = 256  # model names, versions, targets
QUERY = 16 * 1024  # one query template
# Finite numbers only: `.inf` or `.nan` in a bound would validate and then break the engine.
Bound = Annotated[float, Field(allow_inf_nan=False)]
# Environment variable names a plan may read with {{ env.NAME }} (see rollout.loading.template).
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Variant(_Strict):
    model: str = Field(min_length=1, max_length=SHORT)
    model_version: str | None = Field(default=None, max_length=SHORT)
    # a file, relative to the plan file; hashed into the fingerprint
    prompt: str | None = Field(default=None, max_length=4096)
    params: dict[str, Any] = Field(default_factory=dict)
    # what the router calls it (deployment, backend, flag variant)
    target: str | None = Field(default=None, max_length=SHORT)


class Variants(_Strict):
    baseline: Variant
    candidate: Variant


class ProviderSpec(BaseModel):
    """`{type: NAME, ...}`: the rest is validated by the provider's own Config model."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


GateKind = Literal["proportion", "mean", "value"]
_QUERIES: dict[str, tuple[str, ...]] = {
    "proportion": ("events", "total"),
    "mean": ("count", "sum", "sum_squares"),
    "value": ("query",),
}


class Gate(_Strict):
    name: str = Field(pattern=NAME_RE)
    kind: GateKind
    # proportion: events / total per variant
    events: str | None = Field(default=None, max_length=QUERY)
    total: str | None = Field(default=None, max_length=QUERY)
    # mean: count, sum and sum of squares per variant (e.g. of log-latency, tokens, eval score)
    count: str | None = Field(default=None, max_length=QUERY)
    sum: str | None = Field(default=None, max_length=QUERY)
    sum_squares: str | None = Field(default=None, max_length=QUERY)
    # value: one number per variant (threshold method)
    query: str | None = Field(default=None, max_length=QUERY)
    # bounds: absolute, and relative to the baseline running at the same time
    max: Bound | None = None
    min: Bound | None = None
    max_ratio: Bound | None = Field(default=None, gt=0, le=1e6)
    min_ratio: Bound | None = Field(default=None, gt=0, le=1e6)
    max_increase: Bound | None = Field(default=None, ge=0)
    max_decrease: Bound | None = Field(default=None, ge=0)
    required: bool = True  # must pass for a stage to advance (else advisory)
    source: str | None = Field(default=None, max_length=SHORT)  # a name in `sources`
    # a built-in LLM signal (rollout.llm.catalog): fills kind and queries from the source type
    signal: str | None = Field(default=None, max_length=64)
    threshold: Bound | None = Field(default=None, gt=0)  # ms, for the *-exceedance signals
    # a mean gate on judge scores: the judge's own noise widens each tick (evaluation.online)
    judge_noise: JudgeNoiseSpec | None = None
    # a proportion gate whose queries return one series per value of this label (a hash bucket
    # of the sticky key): the gate judges users, the unit the router assigns (issue #16)
    bucket_by: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    # guardrail: must not be worse (non-inferiority at its bound; a breach rolls back); goal:
    # must be better (superiority: max_ratio 0.9 = shown at least 10 % lower; docs/design.md)
    role: Literal["guardrail", "goal"] = "guardrail"
    # outcomes that arrive late (judge scores, thumbs down): judge by request time, a window
    # once its outcomes have settled this long (rollout.evaluation.online); None: as they arrive
    settle: Annotated[Duration, Field(gt=0)] | None = None

    @model_serializer(mode="wrap")
    def _without_signal(self, handler: Any) -> Any:
        """A gate without `signal:` dumps (and hashes) as it did before signals existed."""
        data = handler(self)
        if isinstance(data, dict):
            for k in ("signal", "threshold", "judge_noise", "bucket_by", "settle"):
                if data.get(k, 0) is None:
                    data.pop(k)
            if data.get("role") == "guardrail":  # the default: plans hash as before roles
                data.pop("role")
        return data

    def queries(self) -> dict[str, str]:
        """role -> query template, for the roles this kind needs."""
        return {role: getattr(self, role) for role in _QUERIES[self.kind]}

    @model_validator(mode="after")
    def _shape(self) -> Gate:
        if self.threshold is not None and self.signal is None:
            raise ValueError("threshold applies to the *-exceedance signals only")
        if self.judge_noise is not None and self.kind != "mean":
            raise ValueError("judge_noise applies to mean gates (of judge scores) only")
        if self.bucket_by is not None and self.kind != "proportion":
            raise ValueError("bucket_by applies to proportion gates only")
        need = _QUERIES[self.kind]
        missing = [r for r in need if getattr(self, r) is None]
        if missing:
            raise ValueError(
                f"a {self.kind} gate needs {', '.join(need)}; missing {', '.join(missing)}"
            )
        extra = [
            r for roles in _QUERIES.values() for r in roles if r not in need and getattr(self, r)
        ]
        if extra:
            raise ValueError(
                f"{', '.join(extra)} does not apply to a {self.kind} gate "
                f"(it takes {', '.join(need)})"
            )
        if all(
            getattr(self, b) is None
            for b in ("max", "min", "max_ratio", "min_ratio", "max_increase", "max_decrease")
        ):
            raise ValueError(
                "a gate needs a bound: max, min, max_ratio, min_ratio, max_increase or max_decrease"
            )
        if self.kind == "proportion":
            for b in ("max", "min", "max_increase", "max_decrease"):
                v = getattr(self, b)
                if v is not None and not 0 <= v <= 1:
                    raise ValueError(
                        f"{b} of a proportion gate is a fraction between 0 and 1 (got {v})"
                    )
        if self.role == "goal":
            _goal_shape(self)
        return self


def _goal_shape(g: Gate) -> None:
    """A goal is one bound relative to the baseline, on the better side of it."""
    if g.kind == "value":
        raise ValueError("role: goal needs a proportion or mean gate (a value gate has no test)")
    if g.max is not None or g.min is not None:
        raise ValueError(
            "role: goal is stated relative to the baseline: max/min do not apply "
            "(put a hard limit in a guardrail gate)"
        )
    rel = [
        (b, getattr(g, b))
        for b in ("max_ratio", "min_ratio", "max_increase", "max_decrease")
        if getattr(g, b) is not None
    ]
    if len(rel) != 1:
        raise ValueError(f"role: goal takes one bound, got {', '.join(b for b, _ in rel)}")
    b, v = rel[0]
    if (b == "max_ratio" and v > 1) or (b == "min_ratio" and v < 1):
        side = "<= 1 (0.9: at least 10 % lower)" if b == "max_ratio" else ">= 1 (1.1: 10 % higher)"
        raise ValueError(f"{b} of a goal must be {side}: a goal must be better (got {v:g})")
    if b in ("max_increase", "max_decrease") and v != 0:
        raise ValueError(
            f"{b} of a goal must be 0 (shown better than the baseline); a margin is stated as a "
            f"ratio (max_ratio 0.9 or min_ratio 1.1) (got {v:g})"
        )


class Stage(_Strict):
    name: str = Field(pattern=NAME_RE)
    weight: Percent | None = None
    weights: list[Percent] | None = None
    bake: Duration = 0  # analysis time at each weight of the stage; 0: no analysis
    approval: bool = False  # a person (or --approve) must approve before this stage starts
    gates: list[str] | None = None  # default: every gate
    # candidate requests before the stage may pass
    min_requests: int | None = Field(default=None, ge=0, le=10**12)

    def weight_list(self) -> list[int]:
        return list(self.weights) if self.weights is not None else [self.weight or 0]

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and not v:
            raise ValueError("needs at least one weight")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Stage:
        if (self.weight is None) == (self.weights is None):
            raise ValueError("give exactly one of weight or weights")
        return self


class Analysis(_Strict):
    interval: Duration = 60
    method: Literal["sequential", "threshold"] = "sequential"
    alpha: float = Field(default=0.05, gt=0, lt=0.5, allow_inf_nan=False)
    # threshold method: failed checks tolerated
    failure_limit: int = Field(default=0, ge=0, le=10_000)
    on_inconclusive: Literal["extend", "rollback", "proceed"] = "extend"
    # how many times `extend` may add one more bake
    max_extensions: int = Field(default=2, ge=0, le=1000)
    # Missing data is never evidence: after `no_data_limit` analysis intervals in a row in which a
    # required gate had no usable reading (no samples, a failed query, an impossible value), the
    # rollout pauses for a person (or rolls back), and says so loudly.
    on_no_data: Literal["pause", "rollback"] = "pause"
    no_data_limit: int = Field(default=3, ge=1, le=1000)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be longer than 0s")
        return v


class Budget(_Strict):
    """What the rollout itself may spend on the candidate (rollout.engine.budget)."""

    # USD the candidate's traffic may cost in one attempt, counted from the cost-per-request
    # gate's readings; reaching it rolls back
    max_candidate_cost: float = Field(gt=0, le=1e9, allow_inf_nan=False)


class Wave(_Strict):
    """One target of a wave plan (rollout.waves): its own router and metrics scope, if given."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,30}$")
    router: ProviderSpec | None = None
    metrics: ProviderSpec | None = None
    approval: bool = False  # a person approves (`rollout promote`, --approve) before it starts
    # what this wave does when a later wave fails: keep the candidate, or restore its baseline
    on_failure: Literal["hold", "rollback"] = "hold"


class PlanSpec(_Strict):
    api_version: Literal["rollout/v1"] = Field(alias="apiVersion")
    kind: Literal["Plan"]
    name: str = Field(pattern=NAME_RE)
    description: str | None = Field(default=None, max_length=4096)
    # Not part of the compiled plan (exclude): they say how the file is read, not what it does.
    env: list[EnvName] | None = Field(default=None, exclude=True, max_length=100)
    prompt_root: str | None = Field(default=None, exclude=True, max_length=4096)
    variants: Variants
    router: ProviderSpec
    metrics: ProviderSpec
    sources: dict[str, ProviderSpec] = Field(default_factory=dict)
    deployments: ProviderSpec | None = None  # e.g. azure-openai: check/create targets in preflight
    gates: list[Gate] = Field(default_factory=list)
    stages: list[Stage] = Field(min_length=1)
    analysis: Analysis = Field(default_factory=Analysis)
    # Slack / Teams / webhook notifications (rollout.notify); URLs from the environment only.
    notify: list[NotifyTarget] = Field(default_factory=list, max_length=20)
    # offline paired evaluation of both variants before any traffic moves (rollout.evaluation)
    evaluate: EvaluateSpec | None = None
    # price overrides for cost signals: `model` or `model@version` -> prices (rollout.llm.pricing)
    pricing: dict[str, Price] | None = Field(default=None, max_length=100)
    # the same change across ordered targets, one child rollout each (rollout.waves)
    waves: list[Wave] | None = Field(default=None, min_length=1, max_length=50)
    # a spend cap on the candidate (rollout.engine.budget); needs a cost-per-request gate
    budget: Budget | None = None

    @model_serializer(mode="wrap")
    def _without_empty_notify(self, handler: Any) -> Any:
        """A plan without `notify:` dumps (and hashes) as it did before the section existed."""
        data = handler(self)
        if not self.notify and isinstance(data, dict):
            data.pop("notify", None)
        if self.evaluate is None and isinstance(data, dict):
            data.pop("evaluate", None)
        if self.pricing is None and isinstance(data, dict):
            data.pop("pricing", None)
        if self.waves is None and isinstance(data, dict):
            data.pop("waves", None)
        if self.budget is None and isinstance(data, dict):
            data.pop("budget", None)
        return data

    def cost_gate(self) -> Gate | None:
        """The gate the candidate's costs are read from (the projection at 100 %, the spend
        cap): the plan's first `signal: cost-per-request` gate."""
        return next((g for g in self.gates if g.signal == "cost-per-request"), None)

    @model_validator(mode="before")
    @classmethod
    def _signals(cls, data: Any) -> Any:
        """Gates that name a built-in signal get its kind and queries (rollout.llm.catalog)."""
        from rollout.llm.catalog import expand_signals

        return expand_signals(data)

    @model_validator(mode="after")
    def _rules(self) -> PlanSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen_stage: set[str] = set()
        for i, st in enumerate(self.stages):
            if st.name in seen_stage:
                problems.append((("stages", i, "name"), f"duplicate stage name {st.name!r}"))
            seen_stage.add(st.name)
        seen_wave: set[str] = set()
        for i, wv in enumerate(self.waves or []):
            if wv.name in seen_wave:
                problems.append((("waves", i, "name"), f"duplicate wave name {wv.name!r}"))
            seen_wave.add(wv.name)
        seen_gate: set[str] = set()
        for i, g in enumerate(self.gates):
            if g.name in seen_gate:
                problems.append((("gates", i, "name"), f"duplicate gate name {g.name!r}"))
            seen_gate.add(g.name)
            if g.source is not None and g.source not in self.sources:
                problems.append(
                    (("gates", i, "source"), f"unknown source {g.source!r}; {_known(self.sources)}")
                )
            if g.role == "goal" and self.analysis.method != "sequential":
                problems.append(
                    (("gates", i, "role"), "role: goal needs analysis.method sequential")
                )
        prev = 0
        for i, st in enumerate(self.stages):
            field: tuple[str | int, ...]
            for j, w in enumerate(st.weight_list()):
                field = (
                    ("stages", i, "weights", j)
                    if st.weights is not None
                    else ("stages", i, "weight")
                )
                if w <= prev:
                    problems.append(
                        (field, f"weights must rise across the plan: {w} follows {prev}")
                    )
                prev = max(prev, w)
            for j, name in enumerate(st.gates or []):
                if name not in seen_gate:
                    problems.append(
                        (
                            ("stages", i, "gates", j),
                            f"unknown gate {name!r}; {_known(seen_gate)}"
                            f"{_did_you_mean(name, seen_gate)}",
                        )
                    )
            if st.bake and st.bake < self.analysis.interval:
                problems.append(
                    (
                        ("stages", i, "bake"),
                        f"bake ({st.bake}s) is shorter than analysis.interval "
                        f"({self.analysis.interval}s)",
                    )
                )
        problems += _budget_rules(self)
        if prev != 100:
            problems.append(
                (
                    ("stages", len(self.stages) - 1),
                    f"the last stage must reach weight 100 (it reaches {prev})",
                )
            )
        if problems:
            raise PlanRuleErrors(problems)
        return self


def _budget_rules(spec: PlanSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """A budget counts the candidate's spend from a cost-per-request gate that every bake
    judges: a stage that never reads cost could spend unseen."""
    if spec.budget is None:
        return []
    gate = spec.cost_gate()
    if gate is None:
        return [
            (
                ("budget",),
                "a budget needs a gate with signal: cost-per-request (the candidate's spend is "
                "counted from its readings)",
            )
        ]
    cost = gate.name
    return [
        (
            ("stages", i, "gates"),
            f"with a budget every stage that bakes judges {cost!r} (the candidate's spend is "
            "counted from its readings)",
        )
        for i, st in enumerate(spec.stages)
        if st.bake and st.gates is not None and cost not in st.gates
    ]


def _known(names: Any) -> str:
    names = sorted(names)
    return f"known: {', '.join(names)}" if names else "none are defined"


def _did_you_mean(name: str, names: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def slug_ok(name: str) -> bool:
    return re.match(NAME_RE, name) is not None
