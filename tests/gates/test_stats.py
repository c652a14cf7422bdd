from __future__ import annotations

import math

import pytest

from rollout.gates import stats


def _pmf(N: int, K: int, n: int) -> dict[int, float]:
    lo, lps = stats.hyper_logpmf(N, K, n)
    return {lo + i: math.exp(v) for i, v in enumerate(lps)}


def test_hypergeometric_pmf_is_exact() -> None:
    pmf = _pmf(30, 7, 12)
    assert sum(pmf.values()) == pytest.approx(1.0, abs=1e-12)
    for k, p in pmf.items():
        assert p == pytest.approx(
            math.comb(7, k) * math.comb(23, 12 - k) / math.comb(30, 12), rel=1e-10
        )


def _noncentral(N: int, K: int, n: int, lpsi: float) -> dict[int, float]:
    pmf = _pmf(N, K, n)
    w = {k: p * math.exp(k * lpsi) for k, p in pmf.items()}
    z = sum(w.values())
    return {k: v / z for k, v in w.items()}


@pytest.mark.parametrize("tol", [0.0, math.log(1.25), math.log(0.8)])
def test_conditional_e_process_has_expectation_one_at_the_bound(tol: float) -> None:
    # nA=40, nB=9, 6 events: E[exp(increment)] = 1 exactly at psi = psi_tol, for every grid point
    nA, nB, E = 40, 9, 6
    dist = _noncentral(nA + nB, E, nB, tol)
    up_mean = [0.0] * stats.GRID_POINTS
    down_mean = [0.0] * stats.GRID_POINTS
    for eB, p in dist.items():
        up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
        stats.hyper_update(up, down, nA, nB, E - eB, eB, tol)
        for j in range(stats.GRID_POINTS):
            up_mean[j] += p * math.exp(up[j])
            down_mean[j] += p * math.exp(down[j])
    assert up_mean == pytest.approx([1.0] * stats.GRID_POINTS, rel=1e-9)
    assert down_mean == pytest.approx([1.0] * stats.GRID_POINTS, rel=1e-9)


def test_conditional_e_process_is_a_supermartingale_inside_the_null() -> None:
    # psi below psi_tol: `up` has expectation < 1; above it, `down` has expectation < 1
    nA, nB, E, tol = 60, 20, 10, math.log(1.25)
    for true, key in ((0.0, 0), (math.log(2.0), 1)):
        dist = _noncentral(nA + nB, E, nB, true)
        mean = 0.0
        for eB, p in dist.items():
            acc = ([0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS)
            stats.hyper_update(acc[0], acc[1], nA, nB, E - eB, eB, tol)
            mean += p * math.exp(stats.log_mix(acc[key], stats.half_grid()[1]))
        assert mean < 1.0


def test_grid_weights_are_a_proper_prior() -> None:
    gs, lw = stats.half_grid()
    assert sum(math.exp(w) for w in lw) == pytest.approx(1.0)
    assert list(gs) == sorted(gs) and gs[0] > 0
    assert sum(math.exp(w) for w in stats.sym_grid()[1]) == pytest.approx(1.0)


def test_srm_and_ceiling_updates_are_fair_under_the_null() -> None:
    n, w = 30, 0.2
    mean = [0.0] * len(stats.sym_grid()[0])
    for k in range(n + 1):
        p = math.comb(n, k) * w**k * (1 - w) ** (n - k)
        L = [0.0] * len(mean)
        stats.srm_update(L, n - k, k, w)
        mean = [m + p * math.exp(x) for m, x in zip(mean, L, strict=True)]
    assert mean == pytest.approx([1.0] * len(mean), rel=1e-9)
    c = 0.03
    up_mean = 0.0
    for k in range(n + 1):
        p = math.comb(n, k) * c**k * (1 - c) ** (n - k)
        up, down = [0.0] * stats.GRID_POINTS, [0.0] * stats.GRID_POINTS
        stats.binom_update(up, down, n, k, c)
        up_mean += p * math.exp(stats.log_mix(up, stats.half_grid()[1]))
    assert up_mean == pytest.approx(1.0, rel=1e-9)


def test_normal_mixture_matches_numerical_integration_and_radius_inverts() -> None:
    S, V, rho = 3.0, 4.0, 0.5
    # integrate 2 sqrt(rho/2pi) exp(-rho l^2/2) exp(l S - l^2 V/2) over l > 0
    h = 1e-4
    total = sum(
        2
        * math.sqrt(rho / (2 * math.pi))
        * math.exp(-rho * (i * h) ** 2 / 2 + i * h * S - (i * h) ** 2 * V / 2)
        * h
        for i in range(1, 200000)
    )
    assert stats.nm_log_e(S, V, rho) == pytest.approx(math.log(total), abs=1e-3)
    r = stats.nm_radius(V, rho, 0.05)
    assert stats.nm_log_e(r, V, rho) == pytest.approx(math.log(20), abs=1e-6)
    assert stats.nm_log_e(0.99 * r, V, rho) < math.log(20)


def test_tuning_constant() -> None:
    assert stats.c_alpha(0.1) == pytest.approx(6.33, abs=0.01)  # one-sided alpha 0.05
    assert stats.c_alpha(0.05) == pytest.approx(7.94, abs=0.01)


def test_odds_tolerance_is_the_rate_ratio_for_rare_events() -> None:
    assert stats.odds_tolerance(1e-4, 1.25e-4) == pytest.approx(math.log(1.25), abs=1e-4)
    assert stats.odds_tolerance(0.5, 0.625) == pytest.approx(math.log(0.625 / 0.375))
    assert stats.odds_tolerance(0.0, 0.1) is None


def test_moments() -> None:
    xs = [1.0, 2.0, 4.0]
    m = stats.moments(3, sum(xs), sum(x * x for x in xs))
    assert (
        m is not None
        and m[1] == pytest.approx(7 / 3)
        and m[2] == pytest.approx(2.3333333, rel=1e-6)
    )
    assert stats.moments(1, 1.0, 1.0) is None
