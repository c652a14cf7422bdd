"""Anytime-valid tests for canary gates. Pure python + math: cheap enough to run every tick.

Every test here is an e-process: a non-negative process with expectation <= 1 under its null,
so by Ville's inequality P(it ever reaches 1/alpha) <= alpha however often we look. The state
of each test is a plain list of floats (one log-likelihood ratio per mixture grid point) so the
engine can store it as JSON and carry it across ticks and stages (never reset).

See /work/shared/reference/canary-statistics.md: section 3.3A (exact conditional test),
3.2/3.5 (normal mixture), 3.4 (per-tick binomial mixture, used for SRM and ceilings).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

GRID_POINTS = 16  # mixture grid size: the per-tick cost is O(grid x events in the tick)
GRID_TOP = 4.0  # largest |log odds ratio| considered (x55): beyond that any grid point fires
PRIOR_SIGMA = 0.7  # half-normal prior scale of the log odds ratio (section 3.3A / 3.7)
SRM_SIGMA = 0.3  # prior scale of the log-odds shift of the traffic split


def c_alpha(a: float) -> float:
    """Howard et al.'s tuning constant: c(a) = 2 log(1/a) + log(1 + 2 log(1/a))."""
    la = math.log(1.0 / a)
    return 2.0 * la + math.log(1.0 + 2.0 * la)


@cache
def half_grid(
    sigma: float = PRIOR_SIGMA, n: int = GRID_POINTS, top: float = GRID_TOP
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Grid g_j in (0, top] with normalised log weights of a half-normal(sigma) prior.

    Points are denser near 0 (g ~ j^1.5), where the prior has its mass and small regressions
    live; each weight is the prior density times the cell width, so the mixture is a proper
    discrete prior (any discrete prior keeps the e-process valid)."""
    gs = tuple(top * ((j + 1) / n) ** 1.5 for j in range(n))
    edges = (0.0, *gs)
    raw = [-0.5 * (g / sigma) ** 2 + math.log(edges[i + 1] - edges[i]) for i, g in enumerate(gs)]
    m = max(raw)
    z = math.log(sum(math.exp(r - m) for r in raw)) + m
    return gs, tuple(r - z for r in raw)


@cache
def sym_grid(
    sigma: float = SRM_SIGMA, n: int = GRID_POINTS, top: float = 2.0
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Symmetric grid for two-sided tests (normal prior): both halves of half_grid."""
    gs, lw = half_grid(sigma, n // 2, top)
    return tuple(-g for g in gs) + gs, tuple(w - math.log(2.0) for w in lw) * 2


def log_mix(L: Sequence[float], logw: Sequence[float]) -> float:
    """log of the prior-weighted mixture of exp(L_j): the e-process value."""
    vals = [a + b for a, b in zip(L, logw, strict=True)]
    m = max(vals)
    if m == -math.inf:
        return m
    return m + math.log(sum(map(math.exp, [v - m for v in vals])))


def _lse(vals: list[float]) -> float:
    m = max(vals)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(v - m) for v in vals))


def hyper_logpmf(N: int, K: int, n: int) -> tuple[int, list[float]]:
    """Central hypergeometric log-pmf of k (draws n of N, K marked) over its whole support."""
    lo, hi = max(0, K - (N - n)), min(K, n)
    lg = math.lgamma
    base = lg(K + 1) + lg(N - K + 1) + lg(n + 1) + lg(N - n + 1) - lg(N + 1)
    out = [
        base - lg(k + 1) - lg(K - k + 1) - lg(n - k + 1) - lg(N - K - n + k + 1)
        for k in range(lo, hi + 1)
    ]
    return lo, out


def _log_mgf(lo: int, pmf: list[float], lpsi: float) -> float:
    """log E[psi^k] under the central hypergeometric: Fisher's noncentral normaliser.

    `pmf` is the pmf over lo..hi scaled by its maximum (its log is added back by the caller's
    difference of two calls). Horner in linear space is ~10x cheaper than log-sum-exp; we only
    use it while psi^(hi-lo) cannot overflow."""
    if lpsi * (len(pmf) - 1) < 600:
        x = math.exp(lpsi)
        acc = 0.0
        for p in reversed(pmf):
            acc = acc * x + p
        return lo * lpsi + math.log(acc)
    return lo * lpsi + _lse(
        [math.log(p) + i * lpsi if p > 0 else -math.inf for i, p in enumerate(pmf)]
    )


def hyper_update(
    up: list[float],
    down: list[float],
    nA: int,
    nB: int,
    eA: int,
    eB: int,
    log_psi_tol: float,
    sigma: float = PRIOR_SIGMA,
) -> None:
    """One tick of the exact conditional e-processes (section 3.3A), in place.

    Given the tick's margins, the candidate's event count is Fisher noncentral hypergeometric
    with odds ratio psi. `up` accumulates log LR(psi_tol e^g) / LR(psi_tol) for g > 0 (evidence
    that psi > psi_tol); `down` does the same for psi_tol e^-g (evidence that psi < psi_tol).
    By monotone likelihood ratio each is a supermartingale under its whole composite null
    (psi <= psi_tol for `up`, psi >= psi_tol for `down`), whatever the base rate did.
    """
    E = eA + eB
    N = nA + nB
    if nA <= 0 or nB <= 0 or E == 0 or E == N:
        return  # the margins fix the count: no information in this tick
    lo, lps = hyper_logpmf(N, E, nB)
    top = max(lps)
    pmf = [math.exp(v - top) for v in lps]  # scaled: the common factor cancels in each difference
    m0 = _log_mgf(lo, pmf, log_psi_tol)
    gs, _ = half_grid(sigma)
    rev = pmf[::-1]
    span = len(pmf) - 1
    for j, g in enumerate(gs):
        lu, ld = log_psi_tol + g, log_psi_tol - g
        if lu * span < 600 and ld * span < 600:  # Horner inline: this loop is the per-tick hot path
            xu, xd = math.exp(lu), math.exp(ld)
            au = ad = 0.0
            for p in rev:
                au = au * xu + p
                ad = ad * xd + p
            mu, md = lo * lu + math.log(au), lo * ld + math.log(ad)
        else:
            mu, md = _log_mgf(lo, pmf, lu), _log_mgf(lo, pmf, ld)
        up[j] += eB * g - (mu - m0)
        down[j] += -eB * g - (md - m0)


def odds_tolerance(p: float, q: float) -> float | None:
    """log odds ratio between a tolerated rate q and the baseline rate p (None: undefined)."""
    if not (0.0 < p < 1.0) or not (0.0 < q < 1.0):
        return None
    return math.log(q / (1.0 - q)) - math.log(p / (1.0 - p))


def binom_update(
    up: list[float], down: list[float], n: int, e: int, c: float, sigma: float = PRIOR_SIGMA
) -> None:
    """One tick of one-sample e-processes for a rate against a fixed level c (absolute ceilings).

    Alternatives are p1 = logistic(logit(c) +/- g): `up` is evidence that p > c, `down` that
    p < c; each is a product of binomial likelihood ratios, a martingale under p = c and a
    supermartingale on its side of c (monotone likelihood ratio)."""
    if n <= 0:
        return
    c = min(max(c, 1e-9), 1 - 1e-9)
    lc = math.log(c / (1 - c))
    gs, _ = half_grid(sigma)
    lpc, lqc = math.log(c), math.log1p(-c)
    for j, g in enumerate(gs):
        for acc, sgn in ((up, 1.0), (down, -1.0)):
            p1 = 1.0 / (1.0 + math.exp(-(lc + sgn * g)))
            acc[j] += e * (math.log(p1) - lpc) + (n - e) * (math.log1p(-p1) - lqc)


@cache
def _srm_terms(w: float) -> tuple[tuple[float, float], ...]:
    lw = math.log(w / (1 - w))
    lpw, lqw = math.log(w), math.log1p(-w)
    out = []
    for g in sym_grid()[0]:
        th = 1.0 / (1.0 + math.exp(-(lw + g)))
        out.append((math.log(th) - lpw, math.log1p(-th) - lqw))
    return tuple(out)


def srm_update(L: list[float], nA: int, nB: int, w: float) -> None:
    """One tick of the sample-ratio-mismatch e-process (section 3.4 grid form, two-sided).

    Under a working router each request goes to the candidate with probability w (this tick's
    weight), so nB | nA + nB is Binomial(n, w); alternatives shift the log odds of the split."""
    if nA + nB <= 0 or not 0.0 < w < 1.0:
        return
    for j, (a, b) in enumerate(_srm_terms(w)):
        L[j] += nB * a + nA * b


def norm_cdf_log(x: float) -> float:
    if x > -30:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2 * math.pi)  # Mills ratio tail


def nm_log_e(S: float, V: float, rho: float) -> float:
    """One-sided normal-mixture e-value (Howard et al.; half-normal mixing, precision rho).

    S is a sum whose increments have mean <= 0 under the null and variance V so far:
    log M = log 2 + 1/2 log(rho/(V+rho)) + S^2/(2(V+rho)) + log Phi(S/sqrt(V+rho))."""
    if V <= 0:
        return 0.0
    t = V + rho
    return (
        math.log(2.0) + 0.5 * math.log(rho / t) + S * S / (2 * t) + norm_cdf_log(S / math.sqrt(t))
    )


def nm_radius(V: float, rho: float, alpha: float) -> float:
    """Smallest r with nm_log_e(r, V, rho) >= log(1/alpha): the one-sided CS radius for S."""
    if V <= 0:
        return math.inf
    target = math.log(1.0 / alpha)
    lo, hi = 0.0, math.sqrt((V + rho) * (2 * target + math.log((V + rho) / rho) + 2))
    while nm_log_e(hi, V, rho) < target:
        hi *= 2
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if nm_log_e(mid, V, rho) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def nm_rho(V_burn: float, alpha: float, growth: float = 10.0) -> float:
    """Mixing precision tuned (section 3.2) to be tightest at `growth` x the burn-in information."""
    return max(growth * V_burn, 1e-12) / c_alpha(2 * alpha)


def moments(count: float, total: float, squares: float) -> tuple[float, float, float] | None:
    """(n, mean, sample variance) from sufficient statistics; None below two samples."""
    n = count
    if n < 2:
        return None
    mean = total / n
    var = max((squares - total * total / n) / (n - 1), 1e-12)
    return n, mean, var
