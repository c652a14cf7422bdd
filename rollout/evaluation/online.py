"""Online quality gates whose outcomes arrive late, judged by a noisy judge (issue #12 item 5,
second half). Pure helpers, wired into the engine and the observation path without changing
the gates themselves; what is wired and what remains is said at the end.

Late outcomes: windows by request time
--------------------------------------
Judge scores and user feedback (thumbs down) for a request arrive minutes to hours after it. A
tick that counts what *arrived* in [last, now) mixes requests from earlier windows (made at
another weight, maybe another stage) and misses the newest ones, which are not graded yet. So a
gate with `settle: 10m` judges by **request time**, and a window closes only once its outcomes
have settled: the tick at `now` reads requests made in

    [max(step start, end of what was judged last), now − settle)

(`request_window`), and nothing until `now − settle` is past the step's start. The query must
filter on the request's timestamp (a `request_time` column in Log Analytics, a label or the
command source's ROLLOUT_WINDOW_*), not the outcome's. The bake of a step is then judged up to
its end only at `bake end + settle` (`settled_bake_end`): the requests of the last `settle`
seconds are judged at the weight they were served at, not credited to the next stage.

Noisy judges: variance inflation
--------------------------------
An LLM judge grading the same answer twice gives two scores. Per-grade noise that is
independent across requests is already in the sample variance the mean gate computes. What a
fixed sample variance misses is noise **shared by a tick's grades of one variant** (graded in
one batch, by one judge deployment under load, one prompt cache state): the tick mean of that
variant moves by it however many requests there are, and a gate that does not know would take
a few such shifts as evidence — a noisy judge failing a healthy candidate. Offsets common to
both variants (the same judge at the same time) cancel against the concurrent baseline; only
the per-variant part matters.

`JudgeNoise(sd, shared)` states it: `sd` the judge's noise per grade (from repeat grading,
`JudgeNoise.from_repeats`, or a calibration set with gold scores, `from_calibration`, which also
reports the judge's bias), `shared` the fraction of that variance common to a variant's grades
within one tick (1.0 is the conservative default; 0 says grades are independent and changes
nothing). `inflate(readings, noise)` rewrites a mean gate's per-tick readings (count, sum,
sum_squares) so the mean is unchanged and the variance of the tick mean grows by
`shared · sd²`, the variance-inflation factor `1 + n · shared · sd² / s²`.

Wired, and what remains
-----------------------
* Wired: `judge_noise: {sd, shared}` on a mean gate (`rollout.spec.Gate`); `observe.read_tick`
  inflates the readings, so apply and simulate judge alike and no gate code changed.
* Wired: `settle: 10m` on a gate. `engine.wanted` puts each settled gate's
  `request_window(step start, last tick − settle, now, settle)` in `TickRequest.windows`
  (`engine.types.request_windows`: what a gate has judged is the last tick minus its settle,
  so the Run needs no new field); `Observer.ticks` and `simulate` query it instead of the
  tick's `[start, end)`, and leave the gate out of a tick while nothing has settled (no
  reading, no gap, never a pass; a step of settled gates first ticks one interval after its
  outcomes begin to settle, `engine.types.tick_base`). The step passes or moves on only at
  `settled_bake_end` of its slowest settled gate (`engine.types.judged_end`, used by
  `engine/analysis.py`); its other gates keep reading as outcomes arrive until then.
  `simulate` draws late outcomes (`outcome_delay_minutes`, rollout.sim.late); the fast path
  leaves settled plans to the engine.
* Wired: `judge_noise: {repeats: FILE}` / `{calibration: FILE}`: rollout.loading.judge_noise
  reads the file at load through `from_repeats` / `from_calibration` into the spec's `sd`, `n`,
  `sha256` (and `bias`, shown by `validate` and `plan`), so state never needs the file again.
* Wired: `status` says when a settled step is judged to its end (bake left plus settle) and
  `plan`'s minimum total time adds each bake's slowest settle (the power preview needs nothing:
  a settled gate judges a bake's worth of requests).
* Remains: requests made in a step's last `settle` (after its bake end, at its weight) are
  judged by no step; a judge bias that differs by variant (e.g. for verbosity) cannot be seen
  from one calibration set and is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# -- late outcomes ------------------------------------------------------------------------------


def request_window(
    step_started_at: datetime, judged_until: datetime | None, now: datetime, settle: int
) -> tuple[datetime, datetime] | None:
    """The request-time window a tick at `now` may judge, or None while nothing has settled.

    `judged_until` is the end of the last window judged in this step (None: none yet)."""
    start = max(step_started_at, judged_until) if judged_until is not None else step_started_at
    end = now - timedelta(seconds=settle)
    if end <= start:
        return None
    return start, end


def settled_bake_end(bake_end: datetime, settle: int) -> datetime:
    """When the last window of a bake can be judged: its outcomes need `settle` more seconds."""
    return bake_end + timedelta(seconds=settle)


# -- noisy judges -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeNoise:
    sd: float  # the judge's noise per grade, in score units
    shared: float = 1.0  # fraction of its variance shared by a variant's grades within a tick
    bias: float | None = None  # judge − gold on a calibration set, when known (reported only)
    n: int = 0  # grades the estimate rests on

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sd) and self.sd >= 0):
            raise ValueError("judge noise sd must be a finite number >= 0")
        if not 0 <= self.shared <= 1:
            raise ValueError("shared must be between 0 and 1")

    @property
    def tick_variance(self) -> float:
        """What a variant's tick mean moves by, whatever its count."""
        return self.shared * self.sd**2

    @classmethod
    def from_repeats(cls, grades: Mapping[str, Sequence[float]], shared: float = 1.0) -> JudgeNoise:
        """The pooled within-item variance of answers graded more than once."""
        ss, dof, n = 0.0, 0, 0
        for scores in grades.values():
            k = len(scores)
            if k < 2:
                continue
            m = math.fsum(scores) / k
            ss += math.fsum((s - m) ** 2 for s in scores)
            dof += k - 1
            n += k
        if dof == 0:
            raise ValueError("repeat grading needs at least one item graded twice")
        return cls(sd=math.sqrt(ss / dof), shared=shared, n=n)

    @classmethod
    def from_calibration(
        cls,
        gold: Mapping[str, float],
        judged: Mapping[str, Sequence[float]],
        shared: float = 1.0,
    ) -> JudgeNoise:
        """Judge scores of items with known (gold) scores: the bias is the mean error, the noise
        the sd of the error around it (a judge off by a constant is biased, not noisy: a bias
        common to both variants cancels in the comparison)."""
        errors = [s - gold[k] for k, ss in judged.items() if k in gold for s in ss]
        if len(errors) < 2:
            raise ValueError("a calibration set needs at least two graded gold items")
        bias = math.fsum(errors) / len(errors)
        var = math.fsum((e - bias) ** 2 for e in errors) / (len(errors) - 1)
        return cls(sd=math.sqrt(var), shared=shared, bias=bias, n=len(errors))


def variance_inflation(count: float, sample_variance: float, noise: JudgeNoise) -> float:
    """The factor by which the variance of a tick mean grows: 1 + n · shared · sd² / s²."""
    if count <= 0:
        return 1.0
    if sample_variance <= 0:
        return math.inf if noise.tick_variance > 0 else 1.0
    return 1.0 + count * noise.tick_variance / sample_variance


def inflate(
    readings: Mapping[str, Mapping[str, float]], noise: JudgeNoise
) -> dict[str, dict[str, float]]:
    """A mean gate's readings (variant -> count, sum, sum_squares) with the judge's shared noise
    added to each variant's tick: the mean is kept; the sample variance becomes s² + n·τ², so
    the variance of the tick mean, s²/n, becomes s²/n + τ² (τ² = shared · sd²)."""
    out: dict[str, dict[str, float]] = {}
    tau2 = noise.tick_variance
    for variant, r in readings.items():
        n, total, squares = float(r["count"]), float(r["sum"]), float(r["sum_squares"])
        if n < 2 or tau2 == 0:
            out[variant] = dict(r)
            continue
        mean = total / n
        ss = max(0.0, squares - n * mean * mean)  # sum of squared deviations
        s2 = ss / (n - 1)
        ss_new = (n - 1) * (s2 + n * tau2)
        out[variant] = {**r, "sum_squares": n * mean * mean + ss_new}
    return out
