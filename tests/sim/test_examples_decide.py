"""The shipped examples and templates decide at the traffic they state (issue #16).

`rollout simulate <plan>` of each: a healthy candidate is certified (reaches 100 % with every
stage's gates `pass`) in >= 90 % of runs, and a 2x error rate is rolled back in >= 95 %.
Traffic: the plan's own simulated source, or the rate a Prometheus template says it is sized
for ("Sized for N requests/min" in its header). Run counts are per plan and scenario below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rollout.cli import main

ROOT = Path(__file__).resolve().parents[2]
# plan -> runs per scenario (the engine path of threshold plans with a p95 value gate draws
# every request's latency, so those run fewer)
PLANS = {
    "examples/quickstart/plan.yaml": 400,
    "examples/bad-candidate/plan.yaml": 400,
    "examples/evaluate/plan.yaml": 400,  # its traffic stage, after the offline evaluation
    "plans/pilot-expansion-full.yaml": 300,
    "plans/blue-green.yaml": 200,
    "plans/linear-10.yaml": 100,
    # the LLM templates' signal gates take the engine path (about a second per healthy run)
    "plans/cheaper-model.yaml": 50,
    "plans/model-version-upgrade.yaml": 50,
    "plans/payg-to-provisioned.yaml": 50,
    "plans/prompt-change.yaml": 50,
}


def _sized_for(path: Path) -> list[str]:
    m = re.search(r"Sized for ([0-9,]+) requests/min", path.read_text(encoding="utf-8"))
    return ["--traffic", m.group(1).replace(",", "") + "/min"] if m else []


def _simulate(
    path: str, scenario: str, runs: int, capsys: pytest.CaptureFixture[str]
) -> dict[str, object]:
    plan = ROOT / path
    args = ["simulate", str(plan), "--scenario", scenario, "--runs", str(runs), "-o", "json"]
    assert main([*args, *_sized_for(plan)]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.slow  # minutes in all: hundreds of virtual rollouts per plan
@pytest.mark.parametrize("path", sorted(PLANS))
def test_healthy_certified_and_2x_caught(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    runs = PLANS[path]
    healthy = _simulate(path, "healthy", runs, capsys)
    r = healthy["results"]
    assert isinstance(r, dict)
    # every stage waits for its gates to pass (extend) unless it is a threshold ramp that
    # proceeds on quiet steps; either way completing means no gate ever failed
    assert r["outcomes"]["completed"] >= 0.90 * runs, (path, r["outcomes"])
    bad = _simulate(path, "error-2x", runs, capsys)["results"]
    assert isinstance(bad, dict)
    assert bad["outcomes"]["rolled_back"] >= 0.95 * runs, (path, bad["outcomes"])


def test_templates_on_real_metrics_say_what_traffic_they_are_sized_for() -> None:
    sized = [p for p in PLANS if not _sized_for(ROOT / p)]
    real = [p for p in sized if "type: simulated" not in (ROOT / p).read_text(encoding="utf-8")]
    assert real == []  # a Prometheus template states its traffic, so its test can use it
    assert _sized_for(ROOT / "plans/pilot-expansion-full.yaml") == ["--traffic", "20000/min"]
