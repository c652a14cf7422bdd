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

from rollout.gates import conditional

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


hyper_logpmf = conditional.hyper_logpmf


def whole(x: float) -> int:
    """A count for the exact tests: the nearest integer (never truncated), 0 for non-finite.

    Prometheus `increase()` extrapolates to the window's edges, so a count arrives as a
    fractional estimate of a whole number (1.96 errors); int() would drop nearly one in two
    of those. The exact conditional test is run on the nearest integers (readings.problem
    has refused impossible values before this)."""
    if not math.isfinite(x) or x <= 0:
        return 0
    return math.floor(x + 0.5)


def hyper_update(
    up: list[float],
    down: list[float],
    nA: float,
    nB: float,
    eA: float,
    eB: float,
    log_psi_tol: float,
    sigma: float = PRIOR_SIGMA,
    more_up: Sequence[list[float]] = (),
    more_down: Sequence[list[float]] = (),
) -> None:
    """One tick of the exact conditional e-processes (section 3.3A), in place.

    Given the tick's margins, the candidate's event count is Fisher noncentral hypergeometric
    with odds ratio psi. `up` accumulates log LR(psi_tol e^g) / LR(psi_tol) for g > 0 (evidence
    that psi > psi_tol); `down` does the same for psi_tol e^-g (evidence that psi < psi_tol).
    By monotone likelihood ratio each is a supermartingale under its whole composite null
    (psi <= psi_tol for `up`, psi >= psi_tol for `down`), whatever the base rate did.

    Counts are rounded to the nearest integer (`whole`), events capped at their total. The
    normaliser comes from rollout.gates.conditional: exact for small ticks, a windowed sum with
    bounded work and a validity slack for huge ones (10^9 requests per tick is fine).

    `more_up` / `more_down`: e-processes of the same test started later (an e-detector's
    components) take the same increments, computed once."""
    nA_, nB_ = whole(nA), whole(nB)
    eA_, eB_ = min(whole(eA), nA_), min(whole(eB), nB_)
    E, N = eA_ + eB_, nA_ + nB_
    if nA_ <= 0 or nB_ <= 0 or E == 0 or E == N or not math.isfinite(log_psi_tol):
        return  # the margins fix the count: no information in this tick
    gs, _ = half_grid(sigma)
    xs = [log_psi_tol, *(log_psi_tol + g for g in gs), *(log_psi_tol - g for g in gs)]
    vals, slack = conditional.log_mgf_ratios(N, E, nB_, eB_, xs)
    m0, k = vals[0], len(gs)
    inc_up = [-(vals[1 + j] - m0 + slack) for j in range(k)]
    inc_down = [-(vals[1 + k + j] - m0 + slack) for j in range(k)]
    for acc, inc in ((up, inc_up), (down, inc_down)):
        for j in range(k):
            acc[j] += inc[j]
    for more, inc in ((more_up, inc_up), (more_down, inc_down)):
        for acc in more:
            for j in range(k):
                acc[j] += inc[j]


def odds_tolerance(p: float, q: float) -> float | None:
    """log odds ratio between a tolerated rate q and the baseline rate p (None: undefined)."""
    if not (0.0 < p < 1.0) or not (0.0 < q < 1.0):
        return None
    return math.log(q / (1.0 - q)) - math.log(p / (1.0 - p))


def binom_update(
    up: list[float],
    down: list[float],
    n: float,
    e: float,
    c: float,
    sigma: float = PRIOR_SIGMA,
    more_up: Sequence[list[float]] = (),
    more_down: Sequence[list[float]] = (),
    n_grid: int = GRID_POINTS,
) -> None:
    """One tick of one-sample e-processes for a rate against a fixed level c (absolute ceilings).

    Alternatives are p1 = logistic(logit(c) +/- g): `up` is evidence that p > c, `down` that
    p < c; each is a product of binomial likelihood ratios, a martingale under p = c and a
    supermartingale on its side of c (monotone likelihood ratio)."""
    if n <= 0:
        return
    c = min(max(c, 1e-9), 1 - 1e-9)
    lc = math.log(c / (1 - c))
    gs, _ = half_grid(sigma) if n_grid == GRID_POINTS else half_grid(sigma, n_grid, 2.0)
    lpc, lqc = math.log(c), math.log1p(-c)
    for j, g in enumerate(gs):
        for acc, more, sgn in ((up, more_up, 1.0), (down, more_down, -1.0)):
            p1 = 1.0 / (1.0 + math.exp(-(lc + sgn * g)))
            inc = e * (math.log(p1) - lpc) + (n - e) * (math.log1p(-p1) - lqc)
            acc[j] += inc
            for extra in more:
                extra[j] += inc


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
    if not (V > 0 and math.isfinite(V) and math.isfinite(S) and rho > 0):
        return 0.0  # no information (or a sum no finite data gives): no evidence
    t = V + rho
    return (
        math.log(2.0) + 0.5 * math.log(rho / t) + S * S / (2 * t) + norm_cdf_log(S / math.sqrt(t))
    )


def nm_radius(V: float, rho: float, alpha: float) -> float:
    """Smallest r with nm_log_e(r, V, rho) >= log(1/alpha): the one-sided CS radius for S."""
    if not (V > 0 and math.isfinite(V) and rho > 0):
        return math.inf
    target = math.log(1.0 / alpha)
    lo, hi = 0.0, math.sqrt((V + rho) * (2 * target + math.log((V + rho) / rho) + 2))
    for _ in range(64):  # the start is already above the root; this only guards it
        if nm_log_e(hi, V, rho) >= target:
            break
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
    if not n >= 2:
        return None
    mean = total / n
    # squares - total^2/n cancels at large n; rounding can take it just below 0, and a floor
    # relative to the second moment keeps a constant metric from looking infinitely precise
    var = max((squares - total * total / n) / (n - 1), 1e-12 * (1.0 + abs(squares) / n))
    return n, mean, var
