"""Late outcomes in virtual time: what a gate reads when judge scores and thumbs arrive late.

A scenario's `outcome_delay_minutes` says how long after a request its outcomes (the judge's
score, the user's thumbs: the series in OUTCOMES) arrive. A gate that reads such series then
sees different requests than the tick's own:

* without `settle:` it counts what *arrived* in the tick's [start, end): the outcomes of the
  requests made in [start - delay, end - delay), served at the weights in force then (an
  earlier stage's, before the candidate had traffic at all, ...);
* with `settle:` it reads the request-time window the engine asks for (TickRequest.windows),
  of which only the requests made before `now - delay` have their outcomes yet.

Either way the requests are drawn per span of constant weight (and candidate behaviour: the
onset), from the weights the virtual router actually served, and the gate's series are summed
over those spans (every outcome series is a count or a sum). Scenarios without a delay and
plans without `settle:` never come here: their draws are exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

from rollout.errors import NoData, ProviderError
from rollout.sim import traffic
from rollout.sim.traffic import Scenario

# series whose values arrive after the request (judge scores, user feedback)
OUTCOMES = frozenset(
    {"quality_count", "quality_sum", "quality_sum_squares", "feedback", "thumbs_down"}
)
Roles = dict[str, tuple[str, dict[str, str]]]


def reads_outcomes(roles: Roles) -> bool:
    return any(name in OUTCOMES for name, _ in roles.values())


def requests_read(
    settled: tuple[float, float] | None,
    arrived: tuple[float, float],
    now: float,
    delay: float,
    late: bool,
) -> tuple[float, float]:
    """[from, to) in minutes: the requests whose outcomes a gate reads at `now`. `settled` is
    its request-time window (a `settle:` gate), `arrived` the tick's own [start, end), `late`
    whether the gate reads outcome series (only those arrive `delay` minutes late)."""
    d = delay if late else 0.0
    if settled is not None:
        a, b = settled
        return a, max(a, min(b, now - d))
    return arrived[0] - d, arrived[1] - d


class Served:
    """The candidate share the virtual router served, from each change on (virtual minutes)."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, float]] = [(0.0, 0.0)]

    def set(self, minute: float, share: float) -> None:
        if share != self.changes[-1][1]:
            self.changes.append((minute, share))

    def spans(
        self, a: float, b: float, cuts: tuple[float, ...] = ()
    ) -> list[tuple[float, float, float]]:
        """(from, to, share) pieces of [a, b) (clipped at minute 0), cut at every weight change
        and at `cuts` (the candidate's onset)."""
        a = max(0.0, a)
        if b <= a:
            return []
        inner = {m for m, _ in self.changes} | set(cuts)
        points = sorted({a, b} | {m for m in inner if a < m < b})
        return [(x, y, self.share_at(x)) for x, y in pairwise(points)]

    def share_at(self, minute: float) -> float:
        share = 0.0
        for m, s in self.changes:
            if m > minute:
                break
            share = s
        return share


def fetcher(
    scn: Scenario,
    roles: Roles,
    served: Served,
    window: tuple[float, float],
    counts: Any,
    lat: Any,
) -> Callable[[str, str], float]:
    """`fetch(variant, role)` over the requests made in `window`, drawn per span of `served`."""
    pieces = served.spans(*window, cuts=(scn.candidate.onset_minute,))
    batches: dict[str, list[traffic.Batch]] = {
        v: [
            traffic.draw(scn, v, s if v == "candidate" else 1.0 - s, x, y, counts, lat)
            for x, y, s in pieces
        ]
        for v in ("baseline", "candidate")
    }

    def fetch(variant: str, role: str) -> float:
        name, labels = roles[role]
        if name == "latency_p95" and not pieces:
            raise NoData("no requests in the window")
        if name == "latency_p95" and len(pieces) > 1:  # the one series that is not a sum
            raise ProviderError(
                "the simulator cannot read latency_p95 over a window of changing weights "
                "(settle: or a late-outcome scenario); use latency_over or a mean gate"
            )
        return sum((traffic.answer(name, labels, b) for b in batches[variant]), 0.0)

    return fetch


def minutes(t: datetime, t0: datetime) -> float:
    return (t - t0).total_seconds() / 60
