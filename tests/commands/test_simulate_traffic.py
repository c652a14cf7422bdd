"""`rollout simulate` judges a plan at the traffic it states: its simulated source, or --traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: traffic
variants:
  baseline:  {model: gpt-4o}
  candidate: {model: gpt-4.1}
router:  {type: file, path: routes.json}
metrics:
  type: simulated
  requests_per_second: 50
  baseline: {error_rate: 0.02, latency_median: 1.2, latency_sigma: 0.5}
gates:
  - name: error-rate
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total:  requests{variant="{{ variant }}"}
    max_ratio: 1.25
stages:
  - {name: pilot, weight: 10, bake: 10m}
  - {name: full,  weight: 100, bake: 2m}
analysis: {interval: 1m, on_inconclusive: proceed}
"""


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN)
    return p


def _doc(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["simulate", *args, "--runs", "20", "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_builtin_scenario_runs_in_the_plans_own_world(
    plan: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _doc(capsys, str(plan), "--scenario", "error-2x")
    scn = doc["scenario"]
    assert isinstance(scn, dict)
    assert scn["requests_per_minute"] == 3000.0 and doc["traffic_from"] == "plan"
    assert scn["baseline"]["error_rate"] == 0.02 and scn["baseline"]["latency_median"] == 1.2
    assert scn["candidate"]["error_ratio"] == 2.0  # the scenario still says what differs
    assert doc["path"] == "fast"


def test_traffic_option_and_scenario_files(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _doc(capsys, str(plan), "--traffic", "10/s")
    assert doc["scenario"]["requests_per_minute"] == 600.0  # type: ignore[index]
    assert doc["traffic_from"] == "--traffic"
    own = tmp_path / "quiet.yaml"
    own.write_text("requests_per_minute: 200\n")
    doc = _doc(capsys, str(plan), "--scenario", str(own))  # a file is used as written
    assert doc["scenario"]["requests_per_minute"] == 200.0  # type: ignore[index]
    assert doc["traffic_from"] == "scenario"
    assert main(["simulate", str(plan), "--traffic", "many"]) == 2
    assert "--traffic 'many'" in capsys.readouterr().err


def test_the_text_says_where_the_traffic_comes_from(
    plan: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(plan), "--runs", "20"]) == 0
    out = capsys.readouterr().out
    assert "(healthy; 3,000 requests/min, the plan's own traffic; seed 1)" in out
    assert "(fast path)" in out
