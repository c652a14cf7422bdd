"""The cost projection of `rollout plan` (rollout.llm.forecast): prices x the simulated source's
expected tokens x traffic; a real source, or a model without a price, says why there is none."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.compile import compile_plan
from rollout.llm import forecast, units
from rollout.records import Plan
from rollout.spec import PlanSpec

COST = {"name": "cost", "signal": "cost-per-request", "max_ratio": 1.1, "required": False}


def make(**over: Any) -> Plan:
    d: dict[str, Any] = {
        "apiVersion": "rollout/v1",
        "kind": "Plan",
        "name": "demo",
        "variants": {
            "baseline": {"model": "gpt-4o", "model_version": "2024-08-06"},
            "candidate": {"model": "gpt-4o-mini", "model_version": "2024-07-18"},
        },
        "router": {"type": "file", "path": "r.json"},
        "metrics": {"type": "simulated", "requests_per_second": 100},
        "gates": [COST],
        "stages": [{"name": "pilot", "weight": 10, "bake": "30m"}, {"name": "full", "weight": 100}],
    }
    d.update(over)
    return compile_plan(PlanSpec.model_validate(d))


def test_prices_times_expected_tokens_at_the_simulated_rate() -> None:
    p = forecast.planned(make())
    # 800 input, 300 output tokens (the simulated defaults) at the shipped prices
    b = 800 * 0.0025 / 1000 + 300 * 0.01 / 1000
    c = 800 * 0.00015 / 1000 + 300 * 0.0006 / 1000
    assert p["baseline_per_request"] == pytest.approx(b)
    assert p["candidate_per_request"] == pytest.approx(c)
    assert p["relative"] == pytest.approx(c / b - 1)
    assert p["requests_per_hour"] == pytest.approx(100 * 3600)
    assert p["monthly_delta"] == pytest.approx((c - b) * 100 * 3600 * 730)
    assert p["traffic"] == "6,000 requests/min (the plan's simulated source)"
    assert p["note"] is None and p["budget"] is None


def test_traffic_given_wins_and_tokens_and_overrides_count() -> None:
    metrics = {
        "type": "simulated",
        "candidate": {"input_tokens": 1000, "output_tokens": 100},
    }
    pricing = {"gpt-4o-mini@2024-07-18": {"input_per_1k": 0.001, "output_per_1k": 0.002}}
    p = forecast.planned(make(metrics=metrics, pricing=pricing), 20_000, "--traffic")
    assert p["candidate_per_request"] == pytest.approx(1000 * 0.001 / 1000 + 100 * 0.002 / 1000)
    assert p["requests_per_hour"] == 20_000 * 60
    assert p["traffic"] == "20,000 requests/min (--traffic)"


def test_a_real_source_has_no_projection_never_zeros() -> None:
    p = forecast.planned(make(metrics={"type": "prometheus", "url": "http://prom:9090"}), 1000)
    assert p["note"].startswith("no projection: tokens per call are not known before traffic")
    assert "prometheus" in p["note"]
    for k in ("baseline_per_request", "candidate_per_request", "relative", "monthly_delta"):
        assert p[k] is None
    assert units.projection_line(p).startswith("cost at 100 %: no projection:")


def test_a_model_without_a_price_has_no_projection() -> None:
    variants = {"baseline": {"model": "my-model"}, "candidate": {"model": "gpt-4o"}}
    p = forecast.planned(make(variants=variants, gates=[]))
    assert p["note"] is not None and "no PAYG price for my-model (baseline)" in p["note"]
    assert p["candidate_per_request"] is None


def test_a_budget_shows_what_the_bakes_should_spend() -> None:
    p = forecast.planned(make(budget={"max_candidate_cost": 50}))
    c = p["candidate_per_request"]
    assert p["budget"]["cap"] == 50
    # 10 % of 100 requests/s for the 30-minute pilot; `full` has no bake
    assert p["budget"]["expected_spend"] == pytest.approx(c * 0.1 * 100 * 1800)
    line = units.projection_line(p)
    assert line.endswith(f"; budget $50.00: the bakes should spend ~{units.usd(c * 18000)} on it")


def test_the_line_reads_like_status() -> None:
    line = units.projection_line(forecast.planned(make(), 20_000, "--traffic"))
    assert line.startswith("cost at 100 %: candidate -94 % per request ($0.0003 vs $0.0050), -$")
    assert line.endswith(" a month at 20,000 requests/min (--traffic)")


def test_status_spent_of_cap() -> None:
    shown = {"spent": 251.2, "cap": 250.0, "unmeasured_ticks": 2}
    assert units.budget_clause(shown) == (
        "; budget: candidate spent $251 of $250 (2 interval(s) without a cost reading, not counted)"
    )
    assert units.budget_clause(None) == ""


def test_status_shows_the_budget_before_both_variants_are_measured() -> None:
    spec = make(budget={"max_candidate_cost": 250}).spec
    spent = {"spent": 1.5, "cap": 250.0, "unmeasured_ticks": 0}
    p = units.cost_projection(spec, {"cost": {"status": "inconclusive", "budget": spent}})
    assert p is not None and p["relative"] is None and p["budget"] == spent
    assert units.projection_line(p) == (
        "cost at 100 %: not yet measured for both variants; budget: candidate spent $1.50 of $250"
    )
    assert units.cost_projection(spec, {}) is None  # nothing measured, nothing spent: no line
