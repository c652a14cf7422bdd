"""The exact conditional e-process's one hard number: log E[psi^k] under the central hypergeometric.

Given a tick's margins (N requests, K events, n of the requests on the candidate), the
candidate's event count k is Fisher noncentral hypergeometric with odds ratio psi, and the
per-tick likelihood ratio of psi1 against psi0 is psi1^k M(psi0) / (psi0^k M(psi1)) with

    M(psi) = sum_k Hyp(k; N, K, n) psi^k      (k from lo = max(0, K - N + n) to hi = min(K, n))

Everything here works in log space relative to the observed count, so nothing overflows or
underflows at any count (tested to 10^9 requests per tick and beyond), and the work per tick
is bounded whatever the counts:

* small supports (<= EXACT_SUPPORT points, the common case: 1,000 requests/min at 1 % errors
  has ~10) are summed term by term, exactly (Horner in linear space while it cannot overflow,
  log-sum-exp otherwise), with the pmf built by its ratio recursion so a tick of 10^9 requests
  and 100 errors keeps full precision;
* larger supports are summed, for each psi separately, only over the window where the terms
  matter: the summand is log-concave in k (a hypergeometric pmf times an exponential tilt), so
  once a term is DROP = 60 nats below the largest, every term further out is smaller still and
  the whole tail beyond is below width x e^-60 of the sum (a concave function that has fallen
  60 over a distance D falls at least 60/D per step from there on). Inside the window, terms
  are summed exactly when the window is at most WINDOW_POINTS wide; wider windows (standard
  deviation >~ 6) use every h-th integer (h >= 1) times h. By Poisson summation both the unit
  sum and the h-lattice sum equal the integral of the smooth, analytic, bell-shaped summand up
  to aliasing terms of relative size ~exp(-2 pi^2 (sd/h)^2) (e^-40 at the first h, about a
  third of a standard deviation); the lattice is refined (h halved) until the h and 2h sums
  agree to TOLERANCE = 1e-9, which bounds the finer sum's error well below it.
  A window that reaches an end of the support where the terms still matter makes the h and 2h
  sums disagree (by about h/2 terms), so it is refined down to h = 1, an exact sum; no
  Euler-Maclaurin end corrections are needed, and near an end the spread is small anyway
  (the variance is below the distance to the end), so this costs little.

Validity: an e-process may not have expectation above 1 under its null. On the windowed path
the relative error of M is below 2e-9 (lattice error under TOLERANCE, rounding noise of
terms ~1e-11 at 10^9 counts), so each increment computed there is lowered by SLACK = 1e-8
(callers subtract `slack`): E[LR e^-SLACK] <= 1. That costs 10^-3 nats over 10^5 such ticks.
The small-support path is exact and needs no slack. Log-gamma differences use Stirling's
series with log1p for large arguments (lgd, Margins.rel), so terms keep full precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EXACT_SUPPORT = 2048  # supports up to this size: the whole support, term by term
WINDOW_POINTS = 128  # windowed path: nodes per window before refinement
DROP = 60.0  # nats below the largest term at which a window ends
TOLERANCE = 1e-9  # agreement of the h and 2h lattice sums (relative; rounding noise ~1e-11)
SLACK = 1e-8  # taken off each windowed increment: covers the windowed sum's relative error
_STIRLING = 1e5  # lgamma differences switch to Stirling's series above this argument


def lgd(a: float, d: float) -> float:
    """lgamma(a + d) - lgamma(a) for a >= 1, a + d >= 1, to full relative precision.

    For large arguments the difference of two lgamma values (each ~ a log a) would lose the
    digits that matter; Stirling's series written with log1p keeps them (remainder < 1e-17)."""
    if d == 0:
        return 0.0
    b = a + d
    if a > _STIRLING and b > _STIRLING:
        return (
            d * math.log(a)
            + (b - 0.5) * math.log1p(d / a)
            - d
            + (1.0 / b - 1.0 / a) / 12.0
            - (1.0 / b**3 - 1.0 / a**3) / 360.0
        )
    return math.lgamma(b) - math.lgamma(a)


def _phi(t: float) -> float:
    """(1 + t) log(1 + t) - t, accurate for small t (a series: sum (-1)^k t^k / (k (k - 1)))."""
    if abs(t) < 0.01:
        acc, p = 0.0, t * t
        for k in range(2, 12):
            acc += p / (k * (k - 1)) if k % 2 == 0 else -p / (k * (k - 1))
            p *= t
        return acc
    return (1.0 + t) * math.log1p(t) - t


def _log_terms(N: int, K: int, n: int) -> tuple[int, list[float]]:
    """log Hyp(k) up to a constant over the whole support, by the ratio recursion.

    t(k+1)/t(k) = (K-k)(n-k) / ((k+1)(N-K-n+k+1)) is one correctly rounded division of exact
    integers, so the accumulated error is ~1e-16 per step whatever N is (differences of
    lgamma values near 10^10 would carry errors of 1e-5)."""
    lo, hi = max(0, K - (N - n)), min(K, n)
    M = N - K - n
    out = [0.0]
    acc = 0.0
    log = math.log
    for k in range(lo, hi):
        acc += log(((K - k) * (n - k)) / ((k + 1) * (M + k + 1)))
        out.append(acc)
    return lo, out


def hyper_logpmf(N: int, K: int, n: int) -> tuple[int, list[float]]:
    """Central hypergeometric log-pmf of k (draws n of N, K marked) over its whole support."""
    lo, lps = _log_terms(N, K, n)
    z = _lse(lps)
    return lo, [v - z for v in lps]


def _lse(vals: Sequence[float]) -> float:
    m = max(vals)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(v - m) for v in vals))


class Margins:
    """One tick's margins, with log-term evaluation relative to a reference count r.

    rel(k, x) = log[Hyp(k) psi^k / (Hyp(r) psi^r)] with psi = e^x, computed from four lgamma
    differences so that it stays exact when the counts are in the billions."""

    def __init__(self, N: int, K: int, n: int) -> None:
        self.N, self.K, self.n = N, K, n
        self.M = N - K - n
        self.lo, self.hi = max(0, K - (N - n)), min(K, n)

    def rel(self, k: int, r: int, x: float) -> float:
        d = k - r
        if d == 0:
            return 0.0
        a1, a2, a3, a4 = r + 1, self.K - r + 1, self.n - r + 1, self.M + r + 1
        if min(a1, a2, a3, a4) - abs(d) > _STIRLING:
            # Stirling for all four at once: the d log(a) terms combine into one log and the
            # +-d terms cancel exactly, so what is left has the size of the result (~DROP)
            # rather than of d, and the rounding noise stays near 1e-15
            c = d * (x - math.log((a1 * a4) / (a2 * a3)))
            for a, dd in ((a1, d), (a2, -d), (a3, -d), (a4, d)):
                t = dd / a
                c -= a * _phi(t) - 0.5 * math.log1p(t) + (1.0 / (a + dd) - 1.0 / a) / 12.0
            return c
        return d * x - (lgd(a1, d) + lgd(a2, -d) + lgd(a3, -d) + lgd(a4, d))

    def mode(self, x: float) -> tuple[int, float]:
        """The noncentral mode (integer) for psi = e^x and an estimate of the spread (sd)."""
        K, n, M = self.K, self.n, self.M
        psi = math.exp(x)
        # t(k+1)/t(k) = psi (K-k)(n-k) / ((k+1)(M+k+1)) = 1  <=>  A k^2 + B k + C = 0
        A = psi - 1.0
        B = -(psi * (K + n) + M + 2.0)
        C = psi * K * n - (M + 1.0)
        disc = max(0.0, B * B - 4.0 * A * C)
        den = -B + math.sqrt(disc)
        k = 2.0 * C / den if den > 0 else float(self.lo)
        k = min(max(k, float(self.lo)), float(self.hi))
        m = min(max(math.floor(k), self.lo), self.hi)
        if m + 1 <= self.hi and self.rel(m + 1, m, x) > 0:
            m += 1
        var = 1.0 / (
            1.0 / (k + 1.0) + 1.0 / (K - k + 1.0) + 1.0 / (n - k + 1.0) + 1.0 / (M + k + 1.0)
        )
        return m, math.sqrt(var)

    def log_sum(self, r: int, x: float) -> tuple[float, bool]:
        """log sum_k Hyp(k) psi^k / (Hyp(r) psi^r) for psi = e^x: (value, exact?).

        Terms are taken relative to the mode m (values between -DROP and 0, full precision);
        the offset from r to m is added once."""
        m, sd = self.mode(x)
        a = self._edge(m, x, sd, -1)
        b = self._edge(m, x, sd, +1)
        if b - a <= WINDOW_POINTS:
            v, exact = _lse([self.rel(k, m, x) for k in range(a, b + 1)]), True
        else:
            v, exact = self._lattice(a, b, m, x, sd)
        return self.rel(m, r, x) + v, exact

    def _edge(self, m: int, x: float, sd: float, sgn: int) -> int:
        """A count on one side of the mode whose term is DROP below the mode's (or the end)."""
        end = self.lo if sgn < 0 else self.hi
        dist = max(1, int(math.sqrt(2.0 * DROP) * sd) + 2)
        while True:
            k = m + sgn * dist
            if (sgn < 0 and k <= end) or (sgn > 0 and k >= end):
                return end
            if self.rel(k, m, x) <= -DROP:
                return k
            dist *= 2

    def _lattice(self, a: int, b: int, m: int, x: float, sd: float) -> tuple[float, bool]:
        """h x (sum of every h-th term) over [a, b], refined until h and 2h agree: (log, exact?).

        At an end of the support with terms that matter, the two sums disagree by about h/2
        terms, so refinement goes on to h = 1 there: the agreement test is what makes the
        lattice safe without end corrections. Below h = sd / 8 aliasing is beyond e^-300, so
        a disagreement left there is rounding noise and the finer sum is taken."""
        h = max(1, (b - a) // WINDOW_POINTS)
        while True:
            vals = [self.rel(k, m, x) for k in range(a, b + 1, h)]
            fine = math.log(h) + _lse(vals)
            if h == 1:
                return fine, True
            coarse = math.log(2 * h) + _lse(vals[::2])
            ends = a in (self.lo,) or b in (self.hi,)
            if abs(fine - coarse) <= TOLERANCE or (not ends and 8 * h <= sd):
                return fine, False
            h = max(1, h // 2)


def log_mgf_ratios(
    N: int, K: int, n: int, k_obs: int, xs: Sequence[float]
) -> tuple[list[float], float]:
    """For each x in xs: log M(e^x) - k_obs x + const (the same const for every x), and the slack.

    Differences of two entries are what the e-process needs: log M(psi1) - log M(psi0) -
    k_obs (x1 - x0). The slack (to subtract from each increment) is 0 on the exact path."""
    lo, hi = max(0, K - (N - n)), min(K, n)
    if hi - lo + 1 <= EXACT_SUPPORT:
        return _exact(N, K, n, k_obs, xs), 0.0
    mg = Margins(N, K, n)
    r = min(max(k_obs, lo), hi)
    out = [mg.log_sum(r, x)[0] + (r - k_obs) * x for x in xs]
    return out, SLACK


def _exact(N: int, K: int, n: int, k_obs: int, xs: Sequence[float]) -> list[float]:
    lo, lps = _log_terms(N, K, n)
    top = max(lps)
    pmf = [math.exp(v - top) for v in lps]
    rev = pmf[::-1]
    span = len(pmf) - 1
    out = []
    for x in xs:
        if abs(x) * span < 600:  # Horner in linear space: cannot overflow or underflow here
            px = math.exp(x)
            acc = 0.0
            for p in rev:
                acc = acc * px + p
            out.append((lo - k_obs) * x + math.log(acc))
        else:
            out.append((lo - k_obs) * x + _lse([v - top + i * x for i, v in enumerate(lps)]))
    return out
