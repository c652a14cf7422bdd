"""`rollout simulate` honours a spend cap: the plan's own engine in virtual time counts the
candidate's simulated spend, so a cost-2x candidate that a healthy one's spend fits under rolls
back, and without the cap the same (advisory) cost gate lets it complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.loading import load
from rollout.sim import fast, power, scenarios

# gpt-4o both sides, $0.005 a call at 1,000 requests/min: the bakes spend ~$65 on a healthy
# candidate (10 % x 30 min + 100 % x 10 min), ~$130 at twice the price: a $100 cap tells them apart
PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: capped
variants:
  baseline: {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4o, model_version: "2024-11-20"}
router: {type: file, path: routes.json}
metrics: {type: simulated, requests_per_second: 16.6667}
gates:
  - {name: errors, signal: error-rate, max_ratio: 1.5}
  - {name: cost, signal: cost-per-request, max_ratio: 1.1, required: false}
stages:
  - {name: pilot, weight: 10, bake: 30m}
  - {name: full, weight: 100, bake: 10m}
analysis: {interval: 1m, on_inconclusive: proceed}
"""


def outcomes(tmp_path: Path, scenario: str, budget: str) -> list[str]:
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN + budget)
    plan = load(p).plan
    scn = power.with_plan_traffic(scenarios.builtin(scenario), plan)
    got, path = fast.run(plan, scn, 1, range(5))
    assert path.startswith("engine")  # cost series are the engine's: the cap is honoured
    return [o.outcome for o in got]


@pytest.mark.parametrize(
    ("scenario", "budget", "expected"),
    [
        ("cost-2x", "budget: {max_candidate_cost: 100}\n", "rolled_back"),
        ("healthy", "budget: {max_candidate_cost: 100}\n", "completed"),
        ("cost-2x", "", "completed"),  # the advisory cost gate alone does not stop it
    ],
)
def test_a_tight_cap_rolls_back_a_pricier_candidate(
    tmp_path: Path, scenario: str, budget: str, expected: str
) -> None:
    assert outcomes(tmp_path, scenario, budget) == [expected] * 5
