"""`rollout apply` with a spend cap (budget.max_candidate_cost) on simulated traffic, on a
FakeClock: a cap the candidate reaches rolls back (exit 3) and says so in history and status."""

from __future__ import annotations

from pathlib import Path

from rollout.engine.budget import KEY
from rollout.records import Phase
from tests.commands.conftest import Workspace

# gpt-4.1 at 800 input / 300 output tokens a call: $0.004 a call; at 5 % of 200 requests/s the
# candidate spends about $1.20 every 30 s tick of the pilot.
PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline:  {{model: gpt-4o, model_version: "2024-08-06"}}
  candidate: {{model: gpt-4.1, model_version: "2025-04-14"}}
router: {{type: file, path: routes.json}}
metrics: {{type: simulated, seed: 7, requests_per_second: 200}}
gates:
  - {{name: error-rate, signal: error-rate, max_ratio: 1.25}}
  - {{name: cost, signal: cost-per-request, max_ratio: 1.5, required: false}}
stages:
  - {{name: pilot, weight: 5, bake: 2m}}
  - {{name: full, weight: 100, bake: 1m}}
analysis: {{interval: 30s, on_inconclusive: proceed}}
budget: {{max_candidate_cost: {cap}}}
"""


def write(ws: Workspace, cap: float) -> Path:
    path = ws.root / "plan.yaml"
    path.write_text(PLAN.format(cap=cap))
    return path


def test_a_cap_the_candidate_reaches_rolls_back_with_the_reason_in_history(
    ws: Workspace,
) -> None:
    plan = write(ws, 3)
    res = ws.cli("apply", str(plan))
    assert res.code == 3, res.out + res.err
    assert ws.candidate_weight() == 0
    run = ws.run()
    assert run.phase == Phase.ROLLED_BACK
    spent = run.gates[KEY]["spent"]
    assert 3 <= spent < 3 + 1.5  # the tick that crossed it, no more
    assert run.message.startswith("budget: candidate spent $") and "of $3.00" in run.message
    hist = ws.cli("history", "demo")
    assert hist.code == 0
    assert "budget: candidate spent $" in hist.out and "of $3.00" in hist.out
    status = ws.cli("status", "demo")
    assert "budget: candidate spent $" in status.out and "of $3.00" in status.out
    report = ws.cli("report", "demo")
    assert report.code == 0 and "budget: candidate spent $" in report.out
    doc = ws.cli("status", "demo", "-o", "json").json()
    assert doc["cost_projection"]["budget"]["cap"] == 3.0
    assert doc["cost_projection"]["budget"]["spent"] == spent


def test_a_cap_above_the_spend_lets_the_rollout_complete(ws: Workspace) -> None:
    plan = write(ws, 1000)
    res = ws.cli("apply", str(plan))
    assert res.code == 0, res.out + res.err
    run = ws.run()
    assert run.phase == Phase.COMPLETED
    assert 0 < run.gates[KEY]["spent"] < 1000
