"""The shipped examples and templates decide at the traffic they state (issue #16).

`rollout simulate <plan>` of each: a healthy candidate is certified (reaches 100 % with every
stage's gates `pass`) in >= 90 % of runs, and a 2x error rate is rolled back in >= 95 %.
Traffic: the plan's own simulated source, or the rate a template on real metrics says it is
sized for ("Sized for N requests/min" in its header); an example that ships its world as
scenario files (scenarios/<name>.yaml beside the plan: the Prometheus demo's service) is
simulated in that world. Run counts are per plan and scenario below.
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
    # the quickstart's signal gates take the engine path (~0.4 s per healthy run): 200 keeps the
    # whole file near 4 minutes of CPU (docs/benchmarks.md has it at 400)
    "examples/quickstart/plan.yaml": 200,
    "examples/bad-candidate/plan.yaml": 400,
    "examples/evaluate/plan.yaml": 400,  # its traffic stage, after the offline evaluation
    "examples/waves/plan.yaml": 400,  # its first wave's stages (each wave runs the same plan)
    "examples/prometheus/plan.yaml": 200,  # in demo_service.py's world (scenarios/*.yaml)
    # examples/github holds no plan: its workflow rolls out examples/azure/plan.yaml
    "examples/azure/plan.yaml": 50,
    "examples/azure/plan-appinsights.yaml": 50,
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


def _world(path: Path, scenario: str) -> list[str]:
    """The scenario file the example ships for this scenario (its world), else the built-in
    scenario at the traffic the plan states."""
    own = path.parent / "scenarios" / f"{scenario}.yaml"
    return ["--scenario", str(own)] if own.exists() else ["--scenario", scenario, *_sized_for(path)]


def _simulate(
    path: str, scenario: str, runs: int, capsys: pytest.CaptureFixture[str]
) -> dict[str, object]:
    plan = ROOT / path
    args = ["simulate", str(plan), *_world(plan, scenario), "--runs", str(runs), "-o", "json"]
    assert main(args) == 0
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


def test_shipped_plans_are_all_covered() -> None:
    shipped = {str(p.relative_to(ROOT)) for p in ROOT.glob("examples/**/*.yaml")}
    shipped = {
        p for p in shipped if "/scenarios/" not in p and "kind: Plan" in (ROOT / p).read_text()
    }
    shipped |= {str(p.relative_to(ROOT)) for p in ROOT.glob("plans/*.yaml")}
    assert shipped - set(PLANS) == set()


def test_a_shipped_world_states_the_traffic_its_plan_is_sized_for() -> None:
    import yaml

    plan = ROOT / "examples/prometheus/plan.yaml"
    rpm = int(_sized_for(plan)[1].removesuffix("/min"))
    service = (plan.parent / "demo_service.py").read_text(encoding="utf-8")
    rate = re.search(r'"DEMO_RATE", "([0-9.]+)"', service)
    healthy = re.search(r'"healthy": \(([0-9.]+), ([0-9.]+)\)', service)
    sigma = re.search(r"latency_sigma: float = ([0-9.]+)", service)
    assert rate and healthy and sigma
    assert float(rate.group(1)) * 60 == rpm  # the service's default calls/s
    for name in ("healthy", "error-2x"):
        world = yaml.safe_load((plan.parent / "scenarios" / f"{name}.yaml").read_text())
        assert world["requests_per_minute"] == rpm
        assert world["name"] == name
        base = world["baseline"]
        assert (base["error_rate"], base["latency_median"]) == tuple(map(float, healthy.groups()))
        assert base["latency_sigma"] == float(sigma.group(1))
