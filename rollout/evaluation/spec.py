"""The `evaluate:` section of a plan: an offline, paired comparison before any traffic moves.

    evaluate:
      command: [python3, evals/run.py]   # argv list, or one shell string
      dataset: evals/support.jsonl       # relative to the plan file; must exist
      timeout: 10m                       # per variant
      env: {EVAL_JUDGE: "rubric-v2"}     # extra, non-secret environment
      alpha: 0.05                        # default: analysis.alpha
      min_items: 10                      # fewer paired items: inconclusive
      max_missing: 0.05                  # more items missing in either variant: inconclusive
      gates:
        - {name: quality, metric: score, max_decrease: 0.02}      # higher is better
        - {name: refusals, metric: refused, max_increase: 0.01}   # lower is better

Only pydantic and the duration parser here: `rollout.spec` imports this module.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)

from rollout.durations import parse_duration

NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"  # as rollout.spec.NAME_RE (no import: no cycle)
# A field of an item, or a dotted path into it: `score`, `metrics.accuracy`.
METRIC_RE = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}(\.[A-Za-z_][A-Za-z0-9_-]{0,63}){0,3}$"
Margin = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EvalGate(_Strict):
    """One paired comparison: candidate − baseline of `metric`, item by item.

    `max_decrease: m` (higher is better): passes when the one-sided lower confidence bound of
    the mean difference is above −m. `max_increase: m` (lower is better): passes when the upper
    bound is below +m. `min_increase: m` (a goal: must be better): the lower bound above +m."""

    name: str = Field(pattern=NAME_RE)
    metric: str = Field(default="score", pattern=METRIC_RE)
    max_decrease: Margin | None = None
    max_increase: Margin | None = None
    min_increase: Margin | None = None
    required: bool = True  # advisory gates are reported and never block

    @model_validator(mode="after")
    def _one_bound(self) -> EvalGate:
        given = [
            b
            for b in ("max_decrease", "max_increase", "min_increase")
            if getattr(self, b) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "an evaluate gate takes exactly one of max_decrease, max_increase or min_increase"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.max_increase is None

    @property
    def threshold(self) -> float:
        """The difference (candidate − baseline) the confidence bound must clear."""
        if self.max_decrease is not None:
            return -self.max_decrease
        if self.min_increase is not None:
            return self.min_increase
        assert self.max_increase is not None
        return self.max_increase


JUDGE_NOISE_SOURCES = ("sd", "repeats", "calibration")
_COMPUTED = ("bias", "n", "sha256")  # filled from the file at load, never written in a plan


class JudgeNoiseSpec(_Strict):
    """`judge_noise:` on a mean gate of judge scores (rollout.evaluation.online): the judge's
    noise per grade and the share of its variance a variant's grades in one tick have in
    common; each tick's variance grows by shared · sd². The noise is stated (`sd: 0.05`) or
    measured from a file next to the plan: `repeats: FILE` (answers graded 2+ times) or
    `calibration: FILE` (grades of items with gold scores). A file is read at load
    (rollout.loading.judge_noise), which fills `sd`, `n`, `sha256` (and `bias` for a
    calibration set): the stored plan never needs the file again, and its hash changes when
    the file does."""

    sd: float | None = Field(default=None, ge=0, le=1e6, allow_inf_nan=False)
    repeats: str | None = Field(default=None, min_length=1, max_length=4096)
    calibration: str | None = Field(default=None, min_length=1, max_length=4096)
    shared: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    bias: float | None = Field(default=None, allow_inf_nan=False)
    n: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> Any:
        """`{sd, shared}` dumps (and hashes) as it did before files could be named."""
        data = handler(self)
        if isinstance(data, dict):
            for k in ("repeats", "calibration", *_COMPUTED):
                if data.get(k, 0) is None:
                    data.pop(k)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> JudgeNoiseSpec:
        given = [k for k in JUDGE_NOISE_SOURCES if getattr(self, k) is not None]
        files = [k for k in ("repeats", "calibration") if getattr(self, k) is not None]
        if self.sha256 is not None:  # as stored after load: the file's figures and digest
            if len(files) != 1 or self.sd is None or self.n is None:
                raise ValueError("sha256 is filled at load from a repeats or calibration file")
            return self
        if len(given) != 1:
            raise ValueError(
                "judge_noise takes exactly one of sd, repeats or calibration"
                + (f" (got {', '.join(given)})" if given else "")
            )
        extra = [k for k in ("bias", "n") if getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} is computed from a file at load, not written")
        return self

    @property
    def file(self) -> str | None:
        return self.repeats if self.repeats is not None else self.calibration

    def stated_sd(self) -> float:
        """The judge's noise per grade; a file not read yet (a spec not loaded) is an error."""
        if self.sd is None:
            raise ValueError(f"judge_noise from {self.file} was not read (load the plan)")
        return self.sd


class EvaluateSpec(_Strict):
    command: str | list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=4096
    )
    dataset: str = Field(min_length=1, max_length=4096)
    timeout: Annotated[int, BeforeValidator(parse_duration)] = Field(default=600, gt=0)
    env: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=100
    )
    cwd: str | None = Field(default=None, max_length=4096)  # relative to the plan file
    alpha: float | None = Field(default=None, gt=0, lt=0.5, allow_inf_nan=False)
    min_items: int = Field(default=10, ge=2, le=10**7)
    max_missing: float = Field(default=0.05, ge=0, le=1, allow_inf_nan=False)
    gates: list[EvalGate] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique(self) -> EvaluateSpec:
        names = [g.name for g in self.gates]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate evaluate gate name {dup[0]!r}")
        return self
