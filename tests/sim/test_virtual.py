"""The plan's own engine in virtual time: error control and power, deterministic by seed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rollout.loading import load
from rollout.records import Plan
from rollout.sim.report import run_many, summarise
from rollout.sim.scenarios import builtin
from rollout.sim.virtual import series_for, simulate_one

from .conftest import ERROR_GATE, LATENCY_GATE, write_plan


def test_same_seed_same_outcome_and_runs_differ(error_plan: Plan) -> None:
    scn = builtin("error-2x")
    a = simulate_one(error_plan, scn, 7, 3)
    b = simulate_one(error_plan, scn, 7, 3)
    c = simulate_one(error_plan, scn, 7, 4)
    assert a == b
    assert (a.minutes, a.candidate_requests) != (c.minutes, c.candidate_requests)


def test_workers_do_not_change_results(error_plan: Plan) -> None:
    scn = builtin("error-5x")
    assert run_many(error_plan, scn, 120, 1, workers=1) == run_many(
        error_plan, scn, 120, 1, workers=2
    )


@pytest.mark.slow  # over a second: many virtual rollouts
def test_power_at_pilot_traffic_beats_the_calibrated_threshold_rule(
    error_plan: Plan, threshold_plan: Plan
) -> None:
    # The headline: 1,000 requests/min, 5 % pilot, error rate 1 % -> 2 %.
    scn = builtin("error-2x")
    seq = summarise(run_many(error_plan, scn, 300, 11), healthy=False)
    thr = summarise(run_many(threshold_plan, scn, 300, 11), healthy=False)  # same traffic (CRN)
    assert seq["detection_probability"] >= 0.99
    assert seq["excess_failed_requests"]["median"] <= 20
    assert thr["excess_failed_requests"]["mean"] >= 5 * seq["excess_failed_requests"]["mean"]
    assert thr["excess_failed_requests"]["median"] >= 5 * seq["excess_failed_requests"]["median"]


@pytest.mark.slow  # over a second: many virtual rollouts
def test_healthy_false_rollbacks_stay_within_alpha_under_drift_and_incident(
    error_plan: Plan,
) -> None:
    # Seeded healthy runs with base-rate drift while weights change, and a provider incident:
    # the false-rollback rate must be <= alpha + 3 standard errors.
    alpha, runs = 0.05, 300
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    for name in ("drift", "incident"):
        s = summarise(run_many(error_plan, builtin(name), runs, 5), healthy=True)
        assert s["false_rollback_rate"] <= bound, (name, s["false_rollback_rate"])
        assert s["outcomes"]["completed"] + s["outcomes"]["rolled_back"] == runs


@pytest.mark.slow  # over a second: many virtual rollouts
def test_latency_power_and_tail_detection(tmp_path: Path) -> None:
    gates = (
        LATENCY_GATE
        + """\
  - name: latency-tail
    kind: proportion
    events: latency_over{variant="{{ variant }}",le="2.15"}
    total:  requests{variant="{{ variant }}"}
    max_ratio: 1.0
"""
    )
    plan = load(write_plan(tmp_path, gates)).plan
    s = summarise(run_many(plan, builtin("latency+25%"), 60, 3), healthy=False)
    assert s["detection_probability"] >= 0.98 and s["time_to_detect_min"]["median"] <= 10
    t = summarise(run_many(plan, builtin("tail-regression"), 60, 3), healthy=False)
    assert t["detection_probability"] >= 0.95 and t["failed_gates"].get("latency-tail", 0) > t[
        "failed_gates"
    ].get("log-latency", 0)


def test_broken_router_halts_every_run(error_plan: Plan) -> None:
    s = summarise(run_many(error_plan, builtin("broken-router"), 30, 1), healthy=True)
    assert s["outcomes"]["halted"] == 30 and s["rollback_rate"] == 0


def test_series_default_by_kind_and_scenario_override(tmp_path: Path) -> None:
    gate = ERROR_GATE % {"bound": "max_ratio: 1.0"}
    plan = load(
        write_plan(
            tmp_path, gate.replace('errors{variant="{{ variant }}"}', "sum(rate(http_5xx[5m]))")
        )
    ).plan
    assert series_for(plan, builtin("healthy"))["error-rate"]["events"] == ("errors", {})
    scn = builtin("healthy", series={"error-rate": {"events": 'latency_over{le="3"}'}})
    assert series_for(plan, scn)["error-rate"]["events"] == ("latency_over", {"le": "3"})
