from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline:  {model: gpt-4o}
  candidate: {model: gpt-4.1}
router:  {type: file, path: routes.json}
metrics: {type: simulated}
gates:
  - name: error-rate
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total:  requests{variant="{{ variant }}"}
    max_ratio: {{ ratio }}
stages:
  - {name: pilot,     weight: 5,  bake: 20m}
  - {name: expansion, weight: 50, bake: 20m, approval: true}
  - {name: full,      weight: 100, bake: 5m}
analysis: {interval: 1m, on_inconclusive: proceed}
"""


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN)
    return p


def test_json_report(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "simulate",
            str(plan),
            "--scenario",
            "error-5x",
            "--runs",
            "40",
            "--seed",
            "3",
            "--var",
            "ratio=1.0",
            "--output",
            "json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.simulate/v1" and doc["plan"] == "demo" and doc["seed"] == 3
    r = doc["results"]
    assert (
        r["runs"] == 40 and r["detection_probability"] >= 0.95 and r["false_rollback_rate"] is None
    )
    assert (
        r["time_to_detect_min"]["median"] <= 10
        and r["excess_failed_requests"]["median"] is not None
    )
    assert doc["scenario"]["candidate"]["error_ratio"] == 5.0 and doc["runtime_seconds"] >= 0
    # reproducible by seed
    main(
        [
            "simulate",
            str(plan),
            "--scenario",
            "error-5x",
            "--runs",
            "40",
            "--seed",
            "3",
            "--var",
            "ratio=1.0",
            "--output",
            "json",
        ]
    )
    again = json.loads(capsys.readouterr().out)
    assert again["results"] == r


def test_text_report_on_a_healthy_scenario_file(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scn = tmp_path / "quiet.yaml"
    scn.write_text("description: low traffic\nrequests_per_minute: 200\n")
    code = main(
        ["simulate", str(plan), "--scenario", str(scn), "--runs", "20", "--var", "ratio=1.25"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "scenario quiet (healthy; 200 requests/min" in out
        and "false rollback rate" in out
        and "time to full" in out
    )
    assert "runtime" in out and "low traffic" in out


def test_bad_arguments_are_exit_2(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(plan), "--scenario", "nope", "--var", "ratio=1"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert main(["simulate", str(plan), "--runs", "0", "--var", "ratio=1"]) == 2
    assert main(["simulate", str(plan)]) == 2  # the template needs --var ratio
