"""The sample-ratio check of the sequential gates: is the candidate's share of requests far
from the weight the router was told? A mismatch halts (the router is broken, no gate can be
trusted); the same per-tick shares give the dispersion factor request counts are deflated by.
With per-bucket request counts of the sticky key (a gate's `bucket_by`), the check runs on
bucket sums instead, whose spread is the variance that holds when the router assigns users.
"""

from __future__ import annotations

import math
from typing import Any

from rollout.gates import buckets, detector, stats

SRM_ALPHA = 0.001
SRM_BAND = 0.2  # a share within 20 % (relative) of the weight is not a mismatch
SRM_WARMUP = 10  # ticks at a weight before its split is tested (the dispersion needs them)
SRM_SIGMA = 0.3  # prior scale of the log-odds shift beyond the band


def blank() -> list[float]:
    """The check's e-process state: two one-sided binomial mixtures on half grids, side by side."""
    return [0.0] * (2 * (stats.GRID_POINTS // 2))


def start_over(st: dict[str, Any]) -> None:
    """After a halt or at `rollout retry`: the check starts over on the next share of SRM_ALPHA
    (never spent again)."""
    st["srm"] = blank()
    st["srm_k"] = st.get("srm_k", 0) + 1
    b = st.get("srm_bk")
    if b is not None:  # the bucket sums start over too; the tuned mixture is kept
        b["hi"], b["lo"] = [0.0] * b["k"], [0.0] * b["k"]


def check(
    st: dict[str, Any], nA: int, nB: int, w: float, split: buckets.Split | None = None
) -> dict[str, Any]:
    """The sample-ratio check: is the candidate's share of requests far from the weight?

    A router that assigns users (sticky keys), not requests, splits requests only roughly:
    a few heavy users on one side move the share, and bursts make it jump from minute to
    minute. So the test is robust on both counts: (1) its null is a band, a share within
    SRM_BAND (relative) of the weight, and only a split beyond it is a mismatch (a broken
    router sends 2x or 0.5x, not 1.05x); (2) counts are deflated by a dispersion factor, the
    Pearson statistic of the past ticks' shares at this weight (>= 1; a predictable plug-in),
    and nothing is tested before SRM_WARMUP such ticks. Each side is a binomial mixture
    e-process against its edge of the band (valid on the whole side by monotone likelihood
    ratio); they are averaged.

    With `split` (per-bucket request counts, baseline and candidate, from the first tick on)
    the same band is tested on bucket sums instead (`_bucket_update`): the unit is the user,
    so heavy users and bursts are in the variance rather than mistaken for a broken router."""
    cum = st["cum"]
    # the unit is fixed by the first tick (a state from before bucket checks stays on requests)
    unit = st.setdefault("srm_unit", "request" if "srm_disp" in st or split is None else "bucket")
    lo, hi = w * (1 - SRM_BAND), min(w * (1 + SRM_BAND), 1 - 1e-9)
    d = st.setdefault("srm_disp", [0.0, 0.0, 0.0, 0])  # sum n, sum n s, sum n s^2, ticks
    phi = None
    # The first window after a weight change may hold requests routed before the router
    # caught up, so it is left out (a predictable rule: the e-process stays valid).
    if st.get("srm_weight") == w and 0.0 < w < 1.0:
        n = nA + nB
        phi = dispersion(st.get("srm_done", [0.0, 0.0]), d)
        if unit == "bucket":
            if split is not None:
                _bucket_update(st, split, w, lo, hi)
        elif d[3] >= SRM_WARMUP and d[0] > 0:
            half = len(st["srm"]) // 2
            up, down = st["srm"][:half], st["srm"][half:]
            # the split check itself takes the raw estimate (no shrinking toward 1: a halt is
            # the error it must not make), never below the shrunk one
            f = max(phi, dispersion(st.get("srm_done", [0.0, 0.0]), d, prior=0.0))
            stats.binom_update(up, [0.0] * half, n / f, nB / f, hi, SRM_SIGMA, n_grid=half)
            stats.binom_update([0.0] * half, down, n / f, nB / f, lo, SRM_SIGMA, n_grid=half)
            st["srm"] = up + down
        if n > 0:
            s_t = nB / n
            d[0], d[1], d[2], d[3] = d[0] + n, d[1] + n * s_t, d[2] + n * s_t * s_t, d[3] + 1
        cum["srm_a"] = cum.get("srm_a", 0) + nA  # the observed split at this weight, for words
        cum["srm_b"] = cum.get("srm_b", 0) + nB
    else:
        cum["srm_a"] = cum["srm_b"] = 0
        done = st.setdefault("srm_done", [0.0, 0.0])  # (chi^2, df) of the weights before
        c2, df = pearson(d)
        done[0], done[1] = done[0] + c2, done[1] + df
        st["srm_disp"] = [0.0, 0.0, 0.0, 0]
        phi = dispersion(done, st["srm_disp"])
    st["srm_weight"] = w
    if unit == "bucket":
        le = _bucket_log_e(st.get("srm_bk"))
    else:
        half = len(st["srm"]) // 2
        _, logw = stats.half_grid(SRM_SIGMA, half, 2.0)
        le = detector.lse(
            [stats.log_mix(st["srm"][:half], logw), stats.log_mix(st["srm"][half:], logw)]
        ) + math.log(0.5)
    # after a halt the test starts over with the next share of SRM_ALPHA (never spent again)
    le += detector.log_share(st.get("srm_k", 0))
    fired = le >= math.log(1 / SRM_ALPHA)
    tot = cum["srm_a"] + cum["srm_b"]
    out = {
        "log_e": le,
        "fired": fired,
        "expected_share": w,
        "observed_share": cum["srm_b"] / tot if tot else None,
        "band": [lo, hi],
        "dispersion": phi,
        "unit": unit,
    }
    if fired:  # halt once; a person resumes, and the test starts over on the next share
        start_over(st)
        cum["srm_a"] = cum["srm_b"] = 0
    return out


def _bucket_update(
    st: dict[str, Any], split: buckets.Split, w: float, lo: float, hi: float
) -> None:
    """One tick of the split check on bucket sums of the sticky key.

    Per bucket j the contrasts at the band's edges, b_j - hi n_j and lo n_j - b_j (b_j the
    candidate's requests, n_j the bucket's), are summed over ticks. The router assigns users,
    each to the candidate with probability within the band, and users stay in their bucket
    (an independent hash of the key), so the bucket sums are independent with mean <= 0 on
    the null: a one-sided normal-mixture e-process runs on their total and between-bucket
    variance (buckets.totals, with its small-sample allowance), one per edge. A heavy user on
    one side moves its bucket's sum for the whole stage, which is what that variance counts
    (per-tick shares never see it). The mixture is tuned on a burn-in of SRM_WARMUP ticks
    (their sums of b_j - w n_j), then counting starts from the next tick."""
    k = len(split)
    b = st.setdefault(
        "srm_bk",
        {"k": k, "rho": None, "ticks": 0, "burn": [0.0] * k, "hi": [0.0] * k, "lo": [0.0] * k},
    )
    if k != b["k"]:
        return  # a source that changed its buckets mid-way: no evidence this tick
    if b["rho"] is None:
        for j, (na, nb) in enumerate(split):
            b["burn"][j] += nb - w * (na + nb)
        b["ticks"] += 1
        if b["ticks"] >= SRM_WARMUP:
            v = buckets.totals({"B": b["burn"], "A": [0.0] * k})[1]
            if v > 0:
                b["rho"] = stats.nm_rho(v, SRM_ALPHA)
        return
    for j, (na, nb) in enumerate(split):
        b["hi"][j] += nb - hi * (na + nb)
        b["lo"][j] += lo * (na + nb) - nb


def _bucket_log_e(b: dict[str, Any] | None) -> float:
    """log of the average of the two edges' e-processes (0 before the mixture is tuned)."""
    if b is None or not b["rho"]:
        return 0.0
    zero = [0.0] * b["k"]
    sides = []
    for edge in ("hi", "lo"):
        S, V = buckets.totals({"B": b[edge], "A": zero})
        sides.append(stats.nm_log_e(S, V, b["rho"]))
    return detector.lse(sides) + math.log(0.5)


DISPERSION_PRIOR = 10.0  # pseudo degrees of freedom at dispersion 1 (shrinks a noisy estimate)


def pearson(d: list[float]) -> tuple[float, float]:
    """(chi^2, degrees of freedom) of one weight's per-tick shares about their mean."""
    n, ns, nss, k = d
    if k < 2 or n <= 0:
        return 0.0, 0.0
    m = ns / n
    if not 0.0 < m < 1.0:
        return 0.0, 0.0
    return max(0.0, nss - ns * ns / n) / (m * (1 - m)), k - 1


def dispersion(done: list[float], d: list[float], prior: float = DISPERSION_PRIOR) -> float:
    """Pearson dispersion of per-tick shares (weights n), pooled over the weights so far and
    shrunk toward 1 by DISPERSION_PRIOR: 1 for binomial splits, more when counts are
    extrapolated (increase()) or come in bursts of one user; floored at 1."""
    c2, df = pearson(d)
    if done[1] + df + prior <= 0:
        return 1.0
    return max(1.0, (done[0] + c2 + prior) / (done[1] + df + prior))
