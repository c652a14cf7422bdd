"""Online quality gates with late outcomes and noisy judges (rollout.evaluation.online): windows
by request time that close only once outcomes settle, and judge noise inflating a mean gate's
variance so that a noisy judge cannot fail a healthy candidate."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import pytest

from rollout.evaluation.online import (
    JudgeNoise,
    inflate,
    request_window,
    settled_bake_end,
    variance_inflation,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_nothing_is_judged_until_the_first_outcomes_settle() -> None:
    assert request_window(T0, None, at(5), settle=600) is None  # 5 min in, 10 min to settle
    assert request_window(T0, None, at(10), settle=600) is None
    assert request_window(T0, None, at(12), settle=600) == (T0, at(2))


def test_windows_follow_each_other_by_request_time() -> None:
    first = request_window(T0, None, at(12), settle=600)
    assert first is not None
    second = request_window(T0, first[1], at(13), settle=600)
    assert second == (at(2), at(3))  # no gap, no overlap: every request judged once


def test_a_window_never_reaches_before_the_step_started() -> None:
    """Requests made before the step were served at another weight."""
    start = at(30)
    assert request_window(start, at(25), at(45), settle=300) == (start, at(40))


def test_the_bake_is_judged_to_its_end_only_after_settle() -> None:
    assert settled_bake_end(at(60), settle=900) == at(75)


def test_repeat_grading_gives_the_pooled_within_item_sd() -> None:
    noise = JudgeNoise.from_repeats({"a": [0.6, 0.8], "b": [0.5, 0.5, 0.8], "c": [0.9]})
    ss = 0.02 + 0.06  # a: 0.1² + 0.1² around 0.7; b: 0.1² + 0.1² + 0.2² around 0.6
    assert noise.sd == pytest.approx(math.sqrt(ss / 3))
    assert noise.n == 5
    with pytest.raises(ValueError, match="graded twice"):
        JudgeNoise.from_repeats({"a": [0.5]})


def test_a_calibration_set_separates_bias_from_noise() -> None:
    gold = {"a": 0.5, "b": 0.7, "c": 0.9}
    judged = {"a": [0.6, 0.6], "b": [0.8, 0.8], "c": [1.0, 1.0], "unknown": [0.1]}
    noise = JudgeNoise.from_calibration(gold, judged)
    assert noise.bias == pytest.approx(0.1) and noise.sd == pytest.approx(0.0, abs=1e-12)
    noisy = JudgeNoise.from_calibration(gold, {"a": [0.4, 0.6], "b": [0.6, 0.8]})
    assert noisy.bias == pytest.approx(0.0, abs=1e-12) and noisy.sd == pytest.approx(
        math.sqrt(0.04 / 3)
    )


def test_inflation_keeps_the_mean_and_adds_shared_variance_to_the_tick_mean() -> None:
    readings = {"candidate": {"count": 100.0, "sum": 70.0, "sum_squares": 51.0}}
    noise = JudgeNoise(sd=0.05, shared=1.0)
    got = inflate(readings, noise)["candidate"]
    n = 100.0
    s2_before = (51.0 - 70.0**2 / n) / (n - 1)
    s2_after = (got["sum_squares"] - got["sum"] ** 2 / n) / (n - 1)
    assert got["count"] == 100.0 and got["sum"] == 70.0  # the mean is unchanged
    assert s2_after / n == pytest.approx(s2_before / n + 0.05**2)  # var of the tick mean
    assert variance_inflation(n, s2_before, noise) == pytest.approx(s2_after / s2_before)
    assert inflate(readings, JudgeNoise(sd=0.05, shared=0.0)) == readings  # independent: as is


def test_bad_noise_statements_are_refused() -> None:
    with pytest.raises(ValueError):
        JudgeNoise(sd=-1.0)
    with pytest.raises(ValueError):
        JudgeNoise(sd=0.1, shared=1.5)


def _false_fail_rate(inflated: bool, runs: int = 400) -> float:
    """A healthy candidate (same true mean score) graded by a judge whose per-variant batch
    offset moves each tick (sd 0.03); a harm test at alpha 0.05 over 10 ticks, stratified by
    tick, each tick's variance from its readings."""
    rng = random.Random(7)
    z = NormalDist().inv_cdf(0.95)
    noise = JudgeNoise(sd=0.03, shared=1.0)
    fails = 0
    for _ in range(runs):
        diffs, variances = [], []
        for _tick in range(10):
            readings = {}
            for v in ("baseline", "candidate"):
                offset = rng.gauss(0, 0.03)
                xs = [0.7 + offset + rng.gauss(0, 0.15) for _ in range(200)]
                readings[v] = {
                    "count": float(len(xs)),
                    "sum": math.fsum(xs),
                    "sum_squares": math.fsum(x * x for x in xs),
                }
            if inflated:
                readings = inflate(readings, noise)
            m, var = {}, 0.0
            for v, r in readings.items():
                n = r["count"]
                m[v] = r["sum"] / n
                var += (r["sum_squares"] - n * m[v] ** 2) / (n - 1) / n
            diffs.append(m["candidate"] - m["baseline"])
            variances.append(var)
        est = sum(diffs) / len(diffs)
        se = math.sqrt(sum(variances)) / len(diffs)
        fails += est / se < -z
    return fails / runs


@pytest.mark.slow  # 800 simulated rollouts of 4,000 grades each
def test_a_noisy_judge_cannot_fail_a_healthy_candidate_once_its_noise_is_stated() -> None:
    naive = _false_fail_rate(inflated=False)
    stated = _false_fail_rate(inflated=True)
    assert naive > 0.15  # the judge's batch noise taken as evidence: many false failures
    assert stated <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)
