"""`rollout simulate PLAN --scenario NAME` with the LLM scenarios: each is caught by the signal
it is about (and only by that one), and the healthy ones are not rolled back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.sim.scenarios import BUILTIN

ROOT = Path(__file__).resolve().parents[2]
PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: llm-sim
variants:
  baseline:  {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4o, model_version: "2024-11-20"}
router: {type: file, path: routes.json}
metrics: {type: simulated}
gates:
  - {name: errors,    signal: error-rate,            max_ratio: 1.25}
  - {name: throttled, signal: throttled-rate,        max: 0.02}
  - {name: filtered,  signal: content-filtered-rate, max_increase: 0.004}
  - {name: ttft,      signal: ttft,                  max_ratio: 1.2}
  - {name: tokens,    signal: output-tokens-per-request, max_ratio: 1.15}
  - {name: cost,      signal: cost-per-request,      max_ratio: 1.2}
  - {name: quality,   signal: quality-score,         max_decrease: 0.03}
stages:
  - {name: pilot, weight: 5, bake: 30m, gates: [errors, throttled, filtered, ttft, tokens, cost]}
  - {name: expansion, weights: [25, 50], bake: 30m}
  - {name: full, weight: 100, bake: 5m}
analysis: {interval: 1m, on_inconclusive: proceed}
"""
CAUGHT_BY = {
    "verbose": "tokens",
    "cost-2x": "cost",
    "throttling": "throttled",
    "content-filter-spike": "filtered",
    "quality-0.05": "quality",
    "ttft+50%": "ttft",
}


@pytest.mark.slow  # over a second: simulated rollouts per scenario
@pytest.mark.parametrize("scenario", [*CAUGHT_BY, "cheaper-equal-quality"])
def test_llm_scenario_through_the_simulate_command(
    tmp_path: Path, scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scenario in BUILTIN
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    args = ["simulate", str(plan), "--scenario", scenario, "--runs", "6", "-o", "json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    res = doc["results"]
    if scenario == "cheaper-equal-quality":
        assert res["healthy"] and res["outcomes"]["rolled_back"] == 0, res
        assert res["outcomes"]["completed"] == 6, res
        return
    gate = CAUGHT_BY[scenario]
    assert res["outcomes"]["rolled_back"] >= 4, res  # quality needs volume: most, not all
    assert set(res["failed_gates"]) == {gate}, res
