"""The e-detector of the sequential gates' harm tests: how alpha is shared between the
e-processes a test starts (one with the rollout, one at each later step, after a halt and at
`rollout retry`) and how their evidence is combined; and the small helpers of JSON gate state.
"""

from __future__ import annotations

import math
from typing import Any

from rollout.gates import stats

BURN_IN = 100  # samples per variant before a normal-mixture test acts (CLT)
FIRST_SHARE = 0.7  # share of a harm test's alpha for the e-process started at the first tick
MAX_STARTS = 16  # e-processes a harm test may start (one per step; restarts after a halt)

# A sub-test result: (bound, harm log-e, safety log-e, log threshold, absolute-breach state)
Result = tuple[str, float, float, float, str]


def log_share(k: int) -> float:
    """log pi_k, the alpha share of the k-th e-process a harm test starts (sum over k: 1).

    pi_0 = FIRST_SHARE for the one that starts with the rollout; pi_k = (1 - FIRST_SHARE) /
    (k (k + 1)) for the one started at the k-th later step or restart. The harm evidence is
    sum_k pi_k E_k: a mixture of e-processes, each 1 until its (predictable) start, so it is an
    e-process itself and reaching 1/alpha has probability <= alpha over every start and restart
    together (an e-detector: a regression that begins at a later step is judged by evidence
    that begins there, not by the healthy evidence of the steps before it)."""
    if k == 0:
        return math.log(FIRST_SHARE)
    return math.log((1.0 - FIRST_SHARE) / (k * (k + 1)))


def lse(vals: list[float]) -> float:
    m = max(vals)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(v - m) for v in vals))


def copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return list(obj)
    return obj


def zeros() -> list[float]:
    return [0.0] * stats.GRID_POINTS


def starts(t: dict[str, Any], fresh: bool, blank: Any) -> None:
    """Start one more harm e-process (a copy of `blank`) when a new step begins."""
    t.setdefault("late", [])
    t.setdefault("late_k", [])
    nxt = t.setdefault("next", 1)
    if fresh and nxt < MAX_STARTS:
        t["late"].append(copy(blank))
        t["late_k"].append(nxt)
        t["next"] = nxt + 1


def restart(t: dict[str, Any], keys: tuple[str, ...], blank: Any) -> None:
    """After a halt: every e-process of the test starts over on the next unused share."""
    for k in keys:
        t[k] = copy(blank)
    t["k0"] = t.get("next", 1)
    t["next"] = t["k0"] + 1
    t["late"], t["late_k"] = [], []


def combine(t: dict[str, Any], first: float, late: list[float]) -> float:
    """log of sum_k pi_k E_k: the first e-process and those started at later steps."""
    terms = [log_share(t.get("k0", 0)) + first]
    terms += [log_share(k) + v for k, v in zip(t["late_k"], late, strict=True)]
    return lse(terms)
