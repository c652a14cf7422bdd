"""The power preview (rollout.sim.power) against `rollout simulate`, and where it is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.errors import InvalidInput
from rollout.loading import load
from rollout.sim import fast
from rollout.sim.power import parse_traffic, preview
from rollout.sim.scenarios import builtin
from rollout.sim.virtual import series_for

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: power
variants: {baseline: {model: a}, candidate: {model: b}}
router: {type: file, path: routes.json}
metrics: {type: simulated}
gates:
  - name: error-rate
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total:  requests{variant="{{ variant }}"}
    max_ratio: %(ratio)s
%(latency)s
stages:
%(stages)s
analysis: {interval: 1m, on_inconclusive: proceed}
"""
LATENCY = """\
  - name: log-latency
    kind: mean
    count:       latency_count{variant="{{ variant }}"}
    sum:         latency_log_sum{variant="{{ variant }}"}
    sum_squares: latency_log_sum_squares{variant="{{ variant }}"}
    max_increase: %s
"""
# Three plans whose steps span unlikely to near-certain verdicts (on_inconclusive: proceed, so
# every run reaches every step and the simulated rate is not conditioned on earlier steps).
CASES = {
    "pilot-expansion-1k": (
        1000,
        "1.25",
        LATENCY % "0.1",
        "  - {name: pilot, weight: 5, bake: 30m}\n"
        "  - {name: expansion, weights: [25, 50], bake: 1h}\n"
        "  - {name: full, weight: 100, bake: 10m}",
    ),
    "faster-3k": (
        3000,
        "1.25",
        LATENCY % "0.05",
        "  - {name: pilot, weight: 10, bake: 20m}\n"
        "  - {name: expansion, weights: [30, 50], bake: 30m}\n"
        "  - {name: full, weight: 100, bake: 10m}",
    ),
    "errors-only-10k": (
        10000,
        "1.2",
        "",
        "  - {name: pilot, weight: 5, bake: 15m}\n"
        "  - {name: half, weight: 50, bake: 15m}\n"
        "  - {name: full, weight: 100, bake: 5m}",
    ),
}
RUNS = 300  # per plan; a rate's standard error is at most 2.9 points


def _plan(tmp_path: Path, case: str) -> tuple[float, object]:
    rpm, ratio, latency, stages = CASES[case]
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN % {"ratio": ratio, "latency": latency, "stages": stages})
    return float(rpm), load(p).plan


@pytest.mark.slow  # a few seconds: 300 virtual rollouts per plan
@pytest.mark.parametrize("case", sorted(CASES))
def test_predicted_chance_of_a_verdict_is_within_10_points_of_simulate(
    tmp_path: Path, case: str
) -> None:
    rpm, plan = _plan(tmp_path, case)
    predicted = preview(plan, rpm)  # type: ignore[arg-type]
    scn = builtin("healthy").model_copy(update={"requests_per_minute": rpm})
    series = series_for(plan, scn)  # type: ignore[arg-type]
    # the simulation is the engine's: the fast path's self-check must agree with it first
    assert fast.self_check(plan, scn, 11, range(3), series) is None  # type: ignore[arg-type]
    bakes: list[list[tuple[int, bool]]] = [[] for _ in range(RUNS)]
    fast.batch(plan, scn, 11, range(RUNS), series, bakes=bakes)  # type: ignore[arg-type]
    spread = []
    for step in predicted["steps"]:
        seen = [ok for b in bakes for i, ok in b if i == step["index"]]
        assert len(seen) >= 0.95 * RUNS  # (a false rollback ends a run before its bake)
        simulated = sum(seen) / len(seen)
        assert abs(step["p_verdict"] - simulated) <= 0.10, (case, step["stage"], simulated)
        spread.append(simulated)
    assert max(spread[:-1]) - min(spread[:-1]) > 0.3  # the steps are not all alike


def test_a_plan_that_cannot_decide_is_flagged_with_the_time_it_needs(tmp_path: Path) -> None:
    rpm, plan = _plan(tmp_path, "pilot-expansion-1k")
    pv = preview(plan, rpm)  # type: ignore[arg-type]
    assert pv["decides"] is False
    pilot = pv["steps"][0]
    assert pilot["stage"] == "pilot" and pilot["p_verdict"] < 0.1
    err = pilot["gates"][0]
    assert err["gate"] == "error-rate" and 6 * 60 <= err["certify_minutes"] <= 24 * 60
    assert pv["flags"][0].startswith("pilot at 5 %: a healthy candidate is certified by the end")
    assert "error-rate (max_ratio 1.25) needs ~" in pv["flags"][0]
    # fifty times the traffic decides the same plan (the pilot needs ~12 h at 1,000/min)
    assert preview(plan, 50 * rpm)["decides"] is True  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "rpm"),
    [("1000/min", 1000.0), ("20/s", 1200.0), ("60000/h", 1000.0), ("1,500", 1500.0)],
)
def test_traffic_rates(text: str, rpm: float) -> None:
    assert parse_traffic(text) == pytest.approx(rpm)


@pytest.mark.parametrize("text", ["fast", "0/min", "10/day", ""])
def test_bad_traffic_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="--traffic"):
        parse_traffic(text)


@pytest.mark.slow  # over a second: the plan's power preview
def test_plan_shows_and_emits_the_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _plan(tmp_path, "pilot-expansion-1k")
    assert main(["plan", "plan.yaml", "--traffic", "1000/min"]) == 0
    out = capsys.readouterr().out
    assert "power at 1,000 requests/min (--traffic)" in out
    assert "cannot decide in its bake: pilot at 5 %" in out
    assert main(["plan", "plan.yaml", "-o", "json"]) == 0  # the plan's simulated source
    doc = json.loads(capsys.readouterr().out)
    assert doc["power"]["requests_per_minute"] == 1200.0  # simulated default: 20/s
    assert doc["power"]["traffic_from"] == "the plan's simulated source"
    assert [s["stage"] for s in doc["power"]["steps"]] == [
        "pilot",
        "expansion",
        "expansion",
        "full",
    ]
    assert main(["plan", "plan.yaml", "--traffic", "lots"]) == 2
    assert "--traffic 'lots'" in capsys.readouterr().err


def test_check_judges_at_the_traffic_it_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _plan(tmp_path, "pilot-expansion-1k")
    code = main(["check", "plan.yaml", "-o", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    power = doc["power"]
    assert power["traffic_from"] == "the metrics source (check's window)"
    assert 900 <= power["requests_per_minute"] <= 1500  # 20/s simulated, one window's counts
    assert main(["check", "plan.yaml", "--traffic", "100000/min", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["power"]["decides"] is True
