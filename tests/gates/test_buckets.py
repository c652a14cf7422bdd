"""rollout.gates.buckets: the bucket readings a gate may use (here: the split check's counts)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from rollout.gates import buckets
from rollout.gates.types import Tick

AT = datetime(2026, 1, 1, tzinfo=UTC)


def tick(cand: list[Any], base: list[Any]) -> Tick:
    r = {"candidate": {"events": 0.0, "total": 1.0}, "baseline": {"events": 0.0, "total": 1.0}}
    bk = {
        "candidate": [{"events": 0.0, "total": x} for x in cand],
        "baseline": [{"events": 0.0, "total": x} for x in base],
    }
    return Tick(at=AT, stage="pilot", weight=10, readings=r, buckets=bk)


def test_counts_are_baseline_and_candidate_requests_per_bucket() -> None:
    t = tick([float(i) for i in range(8)], [10.0 * i for i in range(8)])
    assert buckets.counts(t) == [(10.0 * i, float(i)) for i in range(8)]


def test_fractional_counts_are_kept_as_numbers() -> None:
    t = tick([1.5] * 8, [2.25] * 8)  # increase() extrapolates
    assert buckets.counts(t) == [(2.25, 1.5)] * 8


def test_unusable_bucket_counts_are_no_split_evidence() -> None:
    ok = [1.0] * 8
    assert buckets.counts(Tick(at=AT, stage="p", weight=5, readings={})) is None
    assert buckets.counts(tick(ok[:7], ok[:7])) is None  # too few buckets for a variance
    assert buckets.counts(tick(ok, [1.0] * 9)) is None  # the variants disagree on buckets
    for bad in (-1.0, math.nan, math.inf, True, "3", None):
        assert buckets.counts(tick([bad, *ok[1:]], ok)) is None, bad


def test_a_missing_role_is_no_evidence() -> None:
    assert buckets.counts(tick([1.0] * 8, [1.0] * 8), role="count") is None
