"""The paired test of an evaluate gate: Student-t bound, exact sign test for small n, the
missing-data rules. Pure numbers in, a verdict out."""

from __future__ import annotations

import math
import random

import pytest

from rollout.evaluation.paired import judge, sign_test_p, t_cdf, t_quantile
from rollout.evaluation.spec import EvalGate

NI = EvalGate(name="quality", metric="score", max_decrease=0.02)


def scores(values: list[float]) -> dict[str, float | None]:
    return {f"q{i:03d}": v for i, v in enumerate(values)}


def run(
    base: list[float], cand: list[float], gate: EvalGate = NI, **kw: object
) -> tuple[str, dict[str, object]]:
    args: dict[str, object] = {"alpha": 0.05, "min_items": 10, "max_missing": 0.05, **kw}
    r = judge(gate, scores(base), scores(cand), **args)  # type: ignore[arg-type]
    return r.status, r.evidence


@pytest.mark.parametrize(
    ("p", "df", "want"),
    [(0.95, 9, 1.833113), (0.975, 4, 2.776445), (0.95, 1, 6.313752), (0.99, 30, 2.457262)],
)
def test_t_quantiles_match_the_tables(p: float, df: int, want: float) -> None:
    assert t_quantile(p, df) == pytest.approx(want, abs=1e-5)
    assert t_cdf(want, df) == pytest.approx(p, abs=1e-6)


def test_the_t_quantile_tends_to_the_normal_one() -> None:
    assert t_quantile(0.95, 100_000) == pytest.approx(1.644854, abs=1e-4)


def test_sign_test_p_values_are_exact_binomial_tails() -> None:
    assert sign_test_p(10, 10) == 2.0**-10
    assert sign_test_p(9, 10) == pytest.approx(11 / 1024)
    assert sign_test_p(0, 10) == 1.0


def test_an_equal_candidate_passes_with_the_bound_in_the_evidence() -> None:
    rng = random.Random(1)
    base = [rng.uniform(0.3, 0.9) for _ in range(60)]
    cand = [b + rng.gauss(0, 0.01) for b in base]
    status, ev = run(base, cand)
    assert status == "pass"
    assert ev["n"] == 60 and ev["method"] == "paired t, plus-two"
    lower = ev["lower_bound"]
    assert isinstance(lower, float) and -0.02 <= lower < ev["mean_difference"]  # type: ignore[operator]


def test_the_bound_is_the_plus_two_t_bound() -> None:
    """mean − t · se over the differences plus two pseudo-items at ± the largest one."""
    d = [0.01, -0.02, 0.03, 0.0, -0.01, 0.02, 0.01, -0.03, 0.02, 0.0] * 4
    base = [0.5] * len(d)
    _, ev = run(base, [0.5 + x for x in d])
    n = len(d)
    adj = [*d, 0.03, -0.03]
    mean = sum(adj) / (n + 2)
    sd = math.sqrt(sum((x - mean) ** 2 for x in adj) / (n + 1))
    want = mean - t_quantile(0.95, n - 1) * sd / math.sqrt(n + 2)
    assert ev["lower_bound"] == pytest.approx(want, rel=1e-6, abs=1e-6)
    assert ev["mean_difference"] == pytest.approx(sum(d) / n)  # reported as observed


def test_all_ties_on_a_pass_fail_metric_are_not_certainty() -> None:
    """40 items both variants pass: a candidate failing 5 % more would show this 13 % of the
    time, so it is not shown within 0.02 (the plus-two items at ±1 say so)."""
    status, ev = run([1.0] * 40, [1.0] * 40)
    assert status == "inconclusive" and ev["lower_bound"] < -0.02  # type: ignore[operator]
    assert run([1.0] * 400, [1.0] * 400)[0] == "pass"


def test_a_clearly_worse_candidate_fails() -> None:
    base = [0.8] * 40
    cand = [0.7 + 0.01 * (i % 3) for i in range(40)]
    status, ev = run(base, cand)
    assert status == "fail" and ev["upper_bound"] < -0.02  # type: ignore[operator]


def test_a_noisy_small_difference_is_inconclusive_not_a_pass() -> None:
    rng = random.Random(3)
    base = [0.5] * 40
    cand = [0.5 - 0.02 + rng.gauss(0, 0.2) for _ in range(40)]
    status, ev = run(base, cand)
    assert status == "inconclusive"
    assert ev["lower_bound"] < -0.02 < ev["upper_bound"]  # type: ignore[operator]


def test_pairing_removes_the_item_effect() -> None:
    """Items differ far more than the variants do: unpaired this would be hopeless."""
    rng = random.Random(5)
    base = [rng.uniform(0, 1) for _ in range(40)]
    cand = [b + 0.001 for b in base]
    status, ev = run(base, cand)
    assert status == "pass" and ev["sd_difference"] == pytest.approx(0, abs=1e-12)


def test_small_n_also_needs_the_sign_test() -> None:
    # 12 items: five big gains hide seven small losses beyond the margin; t alone would pass.
    base = [0.5] * 12
    cand = [0.5 + 0.3] * 5 + [0.5 - 0.03] * 7
    status, ev = run(base, cand)
    assert ev["lower_bound"] > -0.02  # type: ignore[operator]
    assert status == "inconclusive" and "sign test" in str(ev["method"])
    sign = ev["sign_test"]
    assert isinstance(sign, dict) and sign["not_worse_than_margin"] == 5 and sign["p"] > 0.05


def test_fewer_paired_items_than_min_items_is_inconclusive() -> None:
    status, ev = run([0.5] * 5, [0.6] * 5)
    assert status == "inconclusive" and ev["n"] == 5


def test_items_missing_in_one_variant_are_reported_and_too_many_block() -> None:
    base = scores([0.5] * 40)
    cand: dict[str, float | None] = {k: 0.9 for k in list(base)[:35]}  # 5 missing
    cand["q001"] = None  # a null score is missing too
    r = judge(NI, base, cand, alpha=0.05, min_items=10, max_missing=0.05)
    assert r.status == "inconclusive"  # far better on what it answered, but 6 of 40 missing
    missing = r.evidence["missing"]
    assert missing["candidate"] == 6 and missing["baseline"] == 0
    assert "q001" in missing["candidate_ids"] and "q039" in missing["candidate_ids"]
    ok = judge(NI, base, cand, alpha=0.05, min_items=10, max_missing=0.2)
    assert ok.status == "pass" and ok.evidence["n"] == 34


def test_expected_ids_from_the_dataset_count_items_neither_variant_scored() -> None:
    base, cand = scores([0.5] * 20), scores([0.5] * 20)
    expected = [*base, *(f"extra{i}" for i in range(5))]
    r = judge(NI, base, cand, alpha=0.05, min_items=10, max_missing=0.1, expected=expected)
    assert r.status == "inconclusive" and r.evidence["n_expected"] == 25


def test_lower_is_better_metrics_use_the_upper_bound() -> None:
    gate = EvalGate(name="refusals", metric="refused", max_increase=0.05)
    base = [0.0] * 100
    assert run(base, [0.0] * 100, gate)[0] == "pass"
    status, ev = run(base, [1.0 if i % 4 == 0 else 0.0 for i in range(100)], gate)
    assert status == "fail" and ev["lower_bound"] > 0.05  # type: ignore[operator]


def test_a_goal_needs_the_candidate_shown_better() -> None:
    gate = EvalGate(name="quality", min_increase=0.0)
    base = [0.5 + 0.001 * i for i in range(40)]
    assert run(base, base, gate)[0] != "fail"
    assert run(base, [b + 0.05 for b in base], gate)[0] == "pass"
    assert run(base, [b - 0.05 for b in base], gate)[0] == "fail"


def test_the_level_holds_at_the_margin() -> None:
    """A candidate exactly at the margin passes at most about alpha of the time."""
    rng = random.Random(11)
    passes = 0
    trials = 400
    for _ in range(trials):
        base = [0.5] * 40
        cand = [0.5 - 0.02 + rng.gauss(0, 0.05) for _ in range(40)]
        passes += run(base, cand)[0] == "pass"
    assert passes / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)
