"""The exact conditional e-process at any count: exact where small, windowed where huge."""

from __future__ import annotations

import math
import random

import pytest

from rollout.gates import conditional, stats

TOL = math.log(1.25)


def _xs() -> list[float]:
    gs, _ = stats.half_grid()
    return [TOL, *(TOL + g for g in gs), *(TOL - g for g in gs)]


def test_the_tick_of_issue_9_no_longer_crashes() -> None:
    # 200,000 requests in one tick at the 50 % stage raised `math domain error`
    for eA, eB in ((1000, 1000), (50000, 50000), (2000, 5000)):
        up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
        stats.hyper_update(up, down, 100_000, 100_000, eA, eB, TOL)
        assert all(math.isfinite(v) for v in up + down)
        assert up != [0.0] * stats.GRID_POINTS  # the tick was used, not skipped


def test_a_clear_regression_at_a_billion_requests_is_overwhelming_evidence() -> None:
    up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
    stats.hyper_update(up, down, 10**9, 10**9, 10**7, 2 * 10**7, TOL)  # 1 % vs 2 %
    assert max(up) > 1e5 and all(math.isfinite(v) for v in up + down)
    assert max(down) < 0  # no evidence that it is better than the bound


def test_windowed_sums_match_the_exact_sum_over_the_whole_support() -> None:
    rng = random.Random(7)
    xs = _xs()
    for _ in range(25):
        N = rng.randint(3_000, 20_000)
        K, n = rng.randint(1, N - 1), rng.randint(1, N - 1)
        lo, hi = max(0, K - (N - n)), min(K, n)
        if hi - lo < 10:
            continue
        k = rng.randint(lo, hi)
        exact = conditional._exact(N, K, n, k, xs)
        mg = conditional.Margins(N, K, n)
        win = [mg.log_sum(k, x)[0] for x in xs]
        for e, w in zip(exact, win, strict=True):
            # what the e-process uses is each entry relative to the one at the bound
            assert (w - win[0]) - (e - exact[0]) == pytest.approx(0.0, abs=1e-9)


def test_windowed_error_is_covered_by_the_slack() -> None:
    # the slack taken off each windowed increment exceeds the windowed normaliser's error,
    # so the increment is never above the exact one: E[LR] <= 1 is kept
    N, K, n, k = 30_000, 9_000, 12_000, 3_600  # support 9,001 > EXACT_SUPPORT: windowed
    xs = _xs()
    exact = conditional._exact(N, K, n, k, xs)
    win, slack = conditional.log_mgf_ratios(N, K, n, k, xs)
    assert slack == conditional.SLACK > 0
    for j in range(1, len(xs)):
        exact_inc = -(exact[j] - exact[0])
        assert -(win[j] - win[0]) - slack <= exact_inc + 1e-12


def test_small_ticks_stay_on_the_exact_path_without_slack() -> None:
    _, slack = conditional.log_mgf_ratios(1000, 12, 50, 1, _xs())
    assert slack == 0.0


def test_pmf_keeps_full_precision_at_a_billion_requests() -> None:
    # 10^9 requests, 3 events: P(k) = C(3, k) n^(k) (N-n)^(3-k) / N^(3) (falling powers)
    N, K, n = 10**9, 3, 4 * 10**8

    def falling(x: int, j: int) -> int:
        return math.prod(range(x - j + 1, x + 1))

    lo, lps = stats.hyper_logpmf(N, K, n)
    assert lo == 0 and len(lps) == 4
    for k, v in enumerate(lps):
        exact = math.comb(K, k) * falling(n, k) * falling(N - n, K - k)
        assert v == pytest.approx(math.log(exact) - math.log(falling(N, K)), abs=1e-12)


def test_work_per_tick_is_bounded_whatever_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = conditional.Margins.rel

    def counting(self: conditional.Margins, k: int, r: int, x: float) -> float:
        calls["n"] += 1
        return real(self, k, r, x)

    monkeypatch.setattr(conditional.Margins, "rel", counting)
    for scale in (10**6, 10**9, 10**12):
        calls["n"] = 0
        up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
        stats.hyper_update(up, down, scale, scale // 3, scale // 10, scale // 25, TOL)
        # 33 mixture points, each a window of at most a few hundred terms
        assert 0 < calls["n"] <= 33 * 600
        assert all(math.isfinite(v) for v in up + down)


def test_fractional_counts_are_rounded_to_the_nearest_whole_number() -> None:
    assert [stats.whole(x) for x in (1.96, 2.4, 0.5, -1.0, math.nan)] == [2, 2, 1, 0, 0]
    a = ([0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS)
    b = ([0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS)
    stats.hyper_update(*a, 950.2, 49.7, 9.6, 1.96, TOL)
    stats.hyper_update(*b, 950, 50, 10, 2, TOL)
    assert a == b


def test_lgamma_difference_is_precise_for_large_arguments() -> None:
    # lgamma(a + d) - lgamma(a) = sum of log(a + i) for i < d: exact to ~1e-15 per term
    for a, d in ((2e5, 37), (3e9, 1000), (1e12, -500)):
        ref = (
            math.fsum(math.log(a + i) for i in range(d))
            if d > 0
            else -math.fsum(math.log(a + i) for i in range(d, 0))
        )
        assert conditional.lgd(a, d) == pytest.approx(ref, rel=1e-13, abs=1e-9)
