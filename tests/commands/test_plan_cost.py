"""`rollout plan` shows the cost projection at 100 % before anything runs (human and json),
from prices and the plan's simulated tokens and rate, or --traffic; a real source says why not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: cheaper
variants:
  baseline: {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4o-mini, model_version: "2024-07-18"}
router: {type: file, path: routes.json}
metrics: METRICS
gates:
  - {name: errors, signal: error-rate, max_ratio: 1.5}
  - {name: cost, signal: cost-per-request, max_ratio: 1.1, required: false}
stages:
  - {name: pilot, weight: 5, bake: 30m}
  - {name: full, weight: 100, bake: 10m}
budget: {max_candidate_cost: 250}
"""
SIMULATED = "{type: simulated, requests_per_second: 100}"
PROMETHEUS = "{type: prometheus, url: 'http://prometheus:9090'}"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return tmp_path


def write(work: Path, metrics: str) -> str:
    (work / "plan.yaml").write_text(PLAN.replace("METRICS", metrics))
    return "plan.yaml"


def test_human_shows_per_request_and_monthly_at_the_traffic_given(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", write(work, SIMULATED), "--traffic", "20000/min"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("cost at 100 %"))
    assert line.startswith("cost at 100 %: candidate -94 % per request ($0.0003 vs $0.0050), -$")
    assert "a month at 20,000 requests/min (--traffic)" in line
    assert "; budget $250: the bakes should spend ~$" in line
    assert not (work / "routes.json").exists() and not (work / ".rollout").exists()


def test_json_carries_cost_projection(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", write(work, SIMULATED), "-o", "json"]) == 0
    p = json.loads(capsys.readouterr().out)["cost_projection"]
    assert p["gate"] == "cost" and p["note"] is None
    assert p["relative"] == pytest.approx(-0.94)
    assert p["requests_per_hour"] == pytest.approx(360_000)  # the plan's 100 requests/s
    assert p["monthly_delta"] == pytest.approx((0.0003 - 0.005) * 360_000 * 730)
    # 5 % for 30 minutes and 100 % for 10 at 100 requests/s, $0.0003 a call
    assert p["budget"]["expected_spend"] == pytest.approx(0.0003 * 100 * (0.05 * 1800 + 600))


def test_a_real_source_says_no_projection(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", write(work, PROMETHEUS), "--traffic", "20000/min"]) == 0
    out = capsys.readouterr().out
    assert "cost at 100 %: no projection: tokens per call are not known before traffic" in out
    assert "$0 " not in out and "+0 %" not in out  # never zeros
    assert main(["plan", "plan.yaml", "-o", "json"]) == 0
    p = json.loads(capsys.readouterr().out)["cost_projection"]
    assert p["note"].startswith("no projection:") and p["monthly_delta"] is None
