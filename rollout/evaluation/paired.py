"""The paired test of an evaluate gate. Pure, standard library only (no numpy: `rollout --help`
must stay light, and the numbers must not depend on an optional dependency).

For each item scored for both variants, d_i = candidate_i − baseline_i. The gate is a one-sided
non-inferiority (or superiority) test on the mean of d at the plan's alpha, fixed sample:

* the bound is Student's t: mean(d) − t_{1−α, n−1} · sd(d) / √n (lower; the upper mirrors it),
  computed "plus two": with two pseudo-items at ± the largest |d| seen (±1 for 0/1 metrics), as
  Agresti & Min adjust paired proportions. Without it a pass/fail eval whose n items happen to
  tie (sd 0) would pass with certainty, and at n = 20 a candidate 5 points worse passed 15 % of
  the time (benchmarks/paired_evaluation.py); with it the level holds at the margin for both
  continuous and 0/1 scores. It passes when that bound clears the margin (−max_decrease,
  +min_increase; for lower-is-better metrics the upper bound must stay under +max_increase).
* for n < SMALL_N the t bound leans on normality that a handful of skewed scores does not have,
  so the exact sign test must agree as well: H0 "at least half of the items are worse than the
  margin", one-sided binomial(n, 1/2) at the same alpha. Requiring both keeps the level (an
  intersection–union test) and only makes a pass harder.
* fail: the opposite bound is itself beyond the margin (the candidate is shown worse);
  otherwise the gate is inconclusive. Only pass lets traffic move.
* fewer than `min_items` paired items, or more than `max_missing` of the expected items missing
  in either variant: inconclusive, whatever the numbers say (missing data is never evidence).

Several gates need no alpha split to pass together: passing all of them is an
intersection–union test, each at alpha keeps the family at alpha.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rollout.evaluation.spec import EvalGate

SMALL_N = 30  # below this the exact sign test must agree with the t bound
SHOWN_IDS = 10  # missing item ids listed in the evidence

Status = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class Result:
    status: Status
    summary: str
    evidence: dict[str, Any]


# -- distributions ------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _ibeta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    ln += b * math.log1p(-x)
    front = math.exp(ln)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _ibeta(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (0.5 < p < 1), by bisection."""
    if not 0.5 <= p < 1.0:
        raise ValueError("p must be in [0.5, 1)")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def sign_test_p(successes: int, n: int) -> float:
    """P(Binomial(n, 1/2) >= successes): the one-sided exact sign test's p-value."""
    if n <= 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(successes, n + 1)) / 2.0**n


# -- the gate -----------------------------------------------------------------------------------


def judge(
    gate: EvalGate,
    baseline: Mapping[str, float | None],
    candidate: Mapping[str, float | None],
    *,
    alpha: float,
    min_items: int,
    max_missing: float,
    expected: Sequence[str] | None = None,
) -> Result:
    """One evaluate gate over the two variants' scores for its metric (item id -> value)."""
    have_b = {k for k, v in baseline.items() if v is not None}
    have_c = {k for k, v in candidate.items() if v is not None}
    universe = set(expected) if expected is not None else (set(baseline) | set(candidate))
    if expected is not None:
        have_b &= universe
        have_c &= universe
    paired = sorted(have_b & have_c)
    missing_b = sorted(universe - have_b)
    missing_c = sorted(universe - have_c)
    unpaired = len(universe) - len(paired)
    frac = unpaired / len(universe) if universe else 1.0
    ev: dict[str, Any] = {
        "kind": "paired",
        "metric": gate.metric,
        "direction": "higher is better" if gate.higher_is_better else "lower is better",
        "bound_name": _bound_name(gate),
        "margin": _margin(gate),
        "threshold": gate.threshold,
        "alpha": alpha,
        "n": len(paired),
        "n_expected": len(universe),
        "missing": {
            "baseline": len(missing_b),
            "candidate": len(missing_c),
            "fraction": round(frac, 6),
            "limit": max_missing,
            "baseline_ids": missing_b[:SHOWN_IDS],
            "candidate_ids": missing_c[:SHOWN_IDS],
        },
    }
    if expected is not None:
        extra = sorted((set(baseline) | set(candidate)) - universe)
        if extra:
            ev["missing"]["not_in_dataset"] = len(extra)
    label = f"mean {gate.metric} difference"
    n = len(paired)
    if n:
        d = [float(candidate[k]) - float(baseline[k]) for k in paired]  # type: ignore[arg-type]
        ev.update(_numbers(gate, paired, baseline, candidate, d, alpha))
    if frac > max_missing:
        why = (
            f"{unpaired} of {len(universe)} items lack a score in one variant "
            f"(baseline {len(missing_b)}, candidate {len(missing_c)}; limit "
            f"{max_missing:.0%}): not judged"
        )
        return Result("inconclusive", f"{label}: {why}", ev)
    if n < min_items:
        why = f"{n} paired items; at least {min_items} are needed"
        return Result("inconclusive", f"{label}: {why}", ev)
    return _decide(gate, ev, label, alpha)


def _numbers(
    gate: EvalGate,
    ids: Sequence[str],
    baseline: Mapping[str, float | None],
    candidate: Mapping[str, float | None],
    d: Sequence[float],
    alpha: float,
) -> dict[str, Any]:
    n = len(d)
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else math.inf
    # Plus-two: two pseudo-items at ±spread (the largest difference seen; ±1 for 0/1 metrics)
    # enter the bound, so a sample that happens to show no disagreement (all ties: sd 0) is
    # never taken as certainty. Agresti & Min's adjustment for paired proportions, generalised.
    values = [float(v) for k in ids for v in (baseline[k], candidate[k])]  # type: ignore[arg-type]
    binary = all(v in (0.0, 1.0) for v in values)
    spread = max(max(abs(x) for x in d), 1.0 if binary else 0.0)
    adj = [*d, spread, -spread]
    m = len(adj)
    mean_adj = math.fsum(adj) / m
    sd_adj = math.sqrt(math.fsum((x - mean_adj) ** 2 for x in adj) / (m - 1))
    se = sd_adj / math.sqrt(m)
    t = t_quantile(1.0 - alpha, n - 1) if n > 1 else math.inf
    lower = mean_adj - t * se if se > 0 else mean_adj
    upper = mean_adj + t * se if se > 0 else mean_adj
    thr = gate.threshold
    # "good" items: not worse than the margin, in the direction that matters
    good = sum(1 for x in d if (x >= thr if gate.higher_is_better else x <= thr))
    out: dict[str, Any] = {
        "mean_baseline": math.fsum(float(baseline[k]) for k in ids) / n,  # type: ignore[arg-type]
        "mean_candidate": math.fsum(float(candidate[k]) for k in ids) / n,  # type: ignore[arg-type]
        "mean_difference": mean,
        "sd_difference": sd if math.isfinite(sd) else None,
        "lower_bound": lower if math.isfinite(lower) else None,
        "upper_bound": upper if math.isfinite(upper) else None,
        "confidence": 1.0 - alpha,
        "worse": sum(1 for x in d if x < 0),
        "better": sum(1 for x in d if x > 0),
        "tied": sum(1 for x in d if x == 0),
        "method": "paired t, plus-two" + ("" if n >= SMALL_N else " and exact sign test (n < 30)"),
    }
    if n < SMALL_N:
        out["sign_test"] = {"not_worse_than_margin": good, "n": n, "p": sign_test_p(good, n)}
    return out


def _decide(gate: EvalGate, ev: dict[str, Any], label: str, alpha: float) -> Result:
    thr = gate.threshold
    lower, upper = ev["lower_bound"], ev["upper_bound"]
    near, far = (lower, upper) if gate.higher_is_better else (upper, lower)
    conf = f"{1 - alpha:.0%}"
    n, mean = ev["n"], ev["mean_difference"]
    head = (
        f"{label} {mean:+.4g} (candidate {ev['mean_candidate']:.4g} vs baseline "
        f"{ev['mean_baseline']:.4g}) on {n} paired items"
    )
    sign = ev.get("sign_test")
    if gate.higher_is_better:
        shown_ok = near is not None and near >= thr
        shown_bad = far is not None and far < thr
        rel = "≥"
    else:
        shown_ok = near is not None and near <= thr
        shown_bad = far is not None and far > thr
        rel = "≤"
    bound = f"{conf} {ev['bound_name']} {_g(near)}"
    if shown_ok and (sign is None or sign["p"] <= alpha):
        ok = "non-inferior" if gate.min_increase is None else "better"
        return Result("pass", f"{head}; {bound} {rel} {thr:+.4g}: {ok}", ev)
    if shown_bad:
        other = "upper" if gate.higher_is_better else "lower"
        return Result(
            "fail",
            f"{head}; even the {conf} {other} bound {_g(far)} is past the margin {thr:+.4g}: worse",
            ev,
        )
    if shown_ok and sign is not None:
        why = (
            f"the t bound clears it but the sign test does not "
            f"({sign['not_worse_than_margin']} of {n} items not worse, p {sign['p']:.3g} > "
            f"{alpha:g})"
        )
        return Result("inconclusive", f"{head}; {bound}: {why}: not shown", ev)
    return Result("inconclusive", f"{head}; {bound} does not clear {thr:+.4g}: not shown", ev)


def _bound_name(gate: EvalGate) -> str:
    return "lower bound" if gate.higher_is_better else "upper bound"


def _margin(gate: EvalGate) -> dict[str, float]:
    for k in ("max_decrease", "max_increase", "min_increase"):
        v = getattr(gate, k)
        if v is not None:
            return {k: v}
    return {}


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4g}"
