"""Late outcomes in `rollout simulate` (rollout.sim.late): judge scores that arrive 15 minutes
after their request, and a candidate whose quality drops only once it takes half the traffic.
Read as they arrive, the expansion stage is judged on the pilot's requests and the regression
is promoted; with `settle: 15m` the stage is judged on its own requests and rolls back."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from rollout.compile import compile_plan
from rollout.engine import TickRequest
from rollout.errors import ProviderError
from rollout.records import Plan
from rollout.sim import fast, late, virtual
from rollout.sim.traffic import Scenario
from rollout.spec import PlanSpec
from tests.helpers.plans import ERROR_GATE, spec_dict

RUNS = 10


def plan(settle: str | None) -> Plan:
    gate = {"name": "quality", "signal": "quality-score", "max_decrease": 0.02}
    if settle:
        gate["settle"] = settle
    d = spec_dict(
        gates=[gate],
        stages=[
            {"name": "pilot", "weight": 5, "bake": "10m"},
            {"name": "expansion", "weight": 50, "bake": "10m"},
            {"name": "full", "weight": 100},
        ],
        analysis={"interval": "1m", "method": "sequential"},
    )
    return compile_plan(PlanSpec.model_validate(d))


def scenario(delta: float) -> Scenario:
    return Scenario.model_validate(
        {
            "requests_per_minute": 20000,
            "outcome_delay_minutes": 15,
            "candidate": {"quality_delta": delta, "quality_from_weight": 50},
        }
    )


def outcomes(p: Plan, scn: Scenario) -> Counter[str]:
    return Counter(virtual.simulate_one(p, scn, 1, i).outcome for i in range(RUNS))


def test_read_as_they_arrive_a_regression_at_expansion_is_promoted() -> None:
    """The defect settle fixes: the expansion bake ends before its own outcomes arrive."""
    got = outcomes(plan(None), scenario(-0.1))
    assert got["rolled_back"] == 0 and got["completed"] >= RUNS - 1


def test_settled_the_regression_at_expansion_rolls_back_and_a_healthy_candidate_completes() -> None:
    assert outcomes(plan("15m"), scenario(-0.1)) == Counter({"rolled_back": RUNS})
    assert outcomes(plan("15m"), scenario(0.0)) == Counter({"completed": RUNS})


def test_the_requests_read_by_arrival_and_by_request_time() -> None:
    # as they arrive: the outcomes landing in [30, 31) are those of requests made 15 min before
    assert late.requests_read(None, (30.0, 31.0), 31.0, 15.0, late=True) == (15.0, 16.0)
    assert late.requests_read(None, (30.0, 31.0), 31.0, 15.0, late=False) == (30.0, 31.0)
    # by request time: never past what has arrived (a settle shorter than the delay reads less)
    assert late.requests_read((10.0, 16.0), (30.0, 31.0), 31.0, 15.0, late=True) == (10.0, 16.0)
    assert late.requests_read((10.0, 20.0), (30.0, 31.0), 31.0, 15.0, late=True) == (10.0, 16.0)
    assert late.requests_read((10.0, 20.0), (30.0, 31.0), 24.0, 15.0, late=True) == (10.0, 10.0)


def test_spans_follow_what_the_router_served() -> None:
    served = late.Served()
    served.set(2.0, 0.05)
    served.set(12.0, 0.5)
    assert served.spans(-5.0, 15.0, cuts=(13.0,)) == [
        (0.0, 2.0, 0.0),
        (2.0, 12.0, 0.05),
        (12.0, 13.0, 0.5),
        (13.0, 15.0, 0.5),
    ]
    assert served.spans(5.0, 5.0) == []


def test_a_settled_gate_with_nothing_settled_gives_no_tick() -> None:
    import numpy as np

    p = plan("15m")
    gate = p.spec.gates[0]
    t0 = virtual.T0
    req = TickRequest(
        start=t0,
        end=t0 + timedelta(minutes=1),
        gates=("quality",),
        stage="pilot",
        weight=5,
        windows={"quality": None},
    )
    series = virtual.series_for(p, scenario(0.0))["quality"]
    rng = np.random.default_rng(0)
    args = (gate, series, scenario(0.0), late.Served(), req, req.end, rng, rng)
    assert virtual._late_tick(*args) is None


def test_latency_p95_over_changing_weights_is_a_source_error_not_a_number() -> None:
    import numpy as np

    served = late.Served()
    served.set(1.0, 0.5)
    rng = np.random.default_rng(0)
    roles = {"query": ("latency_p95", {})}
    fetch = late.fetcher(Scenario(), roles, served, (0.0, 2.0), rng, rng)
    with pytest.raises(ProviderError, match="latency_p95"):
        fetch("candidate", "query")


def test_the_fast_path_leaves_settled_plans_to_the_engine() -> None:
    def errors(settle: str | None) -> Plan:
        gate = {**ERROR_GATE, **({"settle": settle} if settle else {})}
        d = spec_dict(gates=[gate], analysis={"interval": "20s", "method": "sequential"})
        return compile_plan(PlanSpec.model_validate(d))

    assert fast.supports(errors(None), Scenario()) is None
    assert fast.supports(errors("5m"), Scenario()) == "gate error-rate: settle"
