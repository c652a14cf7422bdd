"""Five gates at 10,000 requests/min through the whole plan: this crashed the engine with
`math domain error` (issue #9, #16) at the first 25 % tick of a p50 exceedance gate."""

from __future__ import annotations

import math

import pytest

from rollout.compile import compile_plan
from rollout.sim.scenarios import builtin
from rollout.sim.virtual import simulate_one
from rollout.spec import PlanSpec

V = '{variant="{{ variant }}"'
GATES = [
    {
        "name": "error-rate",
        "kind": "proportion",
        "events": "errors" + V + "}",
        "total": "requests" + V + "}",
        "max_ratio": 1.25,
    },
    {
        "name": "error-ceiling",
        "kind": "proportion",
        "events": "errors" + V + "}",
        "total": "requests" + V + "}",
        "max": 0.05,
    },
    {
        "name": "slower-than-p50",  # half of all requests are events: wide supports
        "kind": "proportion",
        "events": "latency_over" + V + ',le="0.8"}',
        "total": "requests" + V + "}",
        "max_ratio": 1.1,
    },
    {
        "name": "slower-than-p95",
        "kind": "proportion",
        "events": "latency_over" + V + ',le="2.15"}',
        "total": "requests" + V + "}",
        "max_ratio": 1.2,
    },
    {
        "name": "log-latency",
        "kind": "mean",
        "count": "latency_count" + V + "}",
        "sum": "latency_log_sum" + V + "}",
        "sum_squares": "latency_log_sum_squares" + V + "}",
        "max_increase": 0.1,
    },
]


@pytest.mark.slow  # over a second: a whole rollout at 10,000 requests/min
def test_five_gates_at_10000_rpm_run_a_whole_rollout() -> None:
    spec = PlanSpec.model_validate(
        {
            "apiVersion": "rollout/v1",
            "kind": "Plan",
            "name": "five",
            "variants": {"baseline": {"model": "a"}, "candidate": {"model": "b"}},
            "router": {"type": "file", "path": "r.json"},
            "metrics": {"type": "simulated"},
            "gates": GATES,
            "stages": [
                {"name": "pilot", "weight": 5, "bake": "30m"},
                {"name": "expansion", "weights": [25, 50], "bake": "1h"},
                {"name": "full", "weight": 100, "bake": "30m"},
            ],
            "analysis": {"interval": "1m", "alpha": 0.05, "on_inconclusive": "proceed"},
        }
    )
    plan = compile_plan(spec)
    out = simulate_one(plan, builtin("healthy", requests_per_minute=10_000), 1, 0)
    assert out.outcome == "completed"  # every tick of every gate was judged, none crashed
    assert out.ticks == 180 and out.candidate_requests > 500_000
    bad = simulate_one(plan, builtin("latency+25%", requests_per_minute=10_000), 1, 0)
    assert bad.outcome == "rolled_back" and math.isfinite(bad.minutes)
