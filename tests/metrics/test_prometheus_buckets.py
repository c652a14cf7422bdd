"""`bucket_by` gates (issue #16): Prometheus answers one series per hash bucket of the sticky
key, observe turns them into Tick.buckets (totals are the buckets' sums, fractional values kept
as they are), and the gate judges users rather than requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rollout.errors import NoData, ProviderError
from rollout.gates.evaluate import Settings, evaluate
from rollout.observe import read_tick
from rollout.spec import Gate
from tests.metrics.test_prometheus import WINDOW, Fake, source, vector

AT = datetime(2026, 1, 1, tzinfo=UTC)
GATE = Gate(
    name="errors",
    kind="proportion",
    events='sum by (bucket) (increase(errors_total{variant="{{ variant }}"}[1m]))',
    total='sum by (bucket) (increase(requests_total{variant="{{ variant }}"}[1m]))',
    max_ratio=1.2,
    bucket_by="bucket",
)


def test_query_by_returns_one_fractional_number_per_label_value() -> None:
    fake = Fake(
        vector("1.33", "2.67", "NaN", labels=[{"bucket": "0"}, {"bucket": "1"}, {"bucket": "2"}])
    )
    got = source(fake).query_by("sum by (bucket) (increase(x[1m]))", WINDOW, "bucket")
    assert got == {"0": 1.33, "1": 2.67}  # as they are; a NaN bucket is left out


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (vector("1", labels=[{"code": "500"}]), "without the label 'bucket'"),
        (vector("1", "2", labels=[{"bucket": "0"}, {"bucket": "0"}]), "two series"),
        ({"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}, "vector"),
    ],
)
def test_query_by_refuses_what_is_not_one_series_per_bucket(reply: Any, words: str) -> None:
    with pytest.raises(ProviderError) as e:
        source(Fake(reply)).query_by("q", WINDOW, "bucket")
    assert words in str(e.value)


def test_query_by_with_no_series_is_no_data() -> None:
    with pytest.raises(NoData):
        source(Fake(vector())).query_by("q", WINDOW, "bucket")


def test_gate_with_bucket_by_must_be_a_proportion() -> None:
    with pytest.raises(ValueError, match="bucket_by applies to proportion gates only"):
        Gate(name="m", kind="mean", count="c", sum="s", sum_squares="q", max=1, bucket_by="b")
    plain = Gate(name="e", kind="proportion", events="e", total="t", max_ratio=1.0)
    assert "bucket_by" not in plain.model_dump()  # plan hashes of gates without it unchanged


def by_bucket(variant: str, role: str) -> dict[str, float]:
    k = 16
    if role == "total":
        return {str(b): (100.0 if variant == "candidate" else 900.0) / k * 4 / 3 for b in range(k)}
    return {str(b): (1.0 if variant == "candidate" else 9.0) / k * 4 / 3 for b in range(k)}


def never(variant: str, role: str) -> float:
    raise AssertionError("a bucket_by gate reads its totals from the buckets")


def test_observe_builds_buckets_and_totals_from_them() -> None:
    t = read_tick(
        GATE, ("candidate", "baseline"), never, at=AT, stage="p", weight=10, fetch_by=by_bucket
    )
    assert t.readings is not None and t.buckets is not None
    assert t.readings["candidate"]["total"] == pytest.approx(100 * 4 / 3)
    assert len(t.buckets["candidate"]) == 16 and t.buckets["baseline"][3]["events"] == 0.75
    _st, v = evaluate(GATE, {}, t, Settings(method="sequential", alpha=0.05))
    assert v.evidence["unit"] == "bucket"


def test_an_impossible_bucket_drops_the_buckets_not_the_tick() -> None:
    def bad(variant: str, role: str) -> dict[str, float]:
        got = by_bucket(variant, role)
        if variant == "candidate" and role == "events":
            got["0"] = 50.0  # more errors than requests in bucket 0
        return got

    t = read_tick(GATE, ("candidate", "baseline"), never, at=AT, stage="p", weight=10, fetch_by=bad)
    assert t.buckets is None and t.error is None  # totals (not impossible) still judged
    assert t.readings is not None


def test_a_failed_bucket_query_is_a_source_error() -> None:
    def broken(variant: str, role: str) -> dict[str, float]:
        raise ProviderError("prometheus down")

    t = read_tick(
        GATE, ("candidate", "baseline"), never, at=AT, stage="p", weight=10, fetch_by=broken
    )
    assert t.readings is None and t.error == "prometheus down"
