"""rollout.sim.fast gives the engine path's outcomes, run by run, and says when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.commands._common import load_plan
from rollout.loading import load
from rollout.records import Plan
from rollout.sim import fast
from rollout.sim.report import run_fast
from rollout.sim.scenarios import builtin
from rollout.sim.virtual import series_for, simulate_one

from .conftest import ERROR_GATE, LATENCY_GATE, write_plan

ROOT = Path(__file__).resolve().parents[2]


def _engine(plan: Plan, name: str, runs: int, seed: int) -> list[fast.Outcome]:
    scn = builtin(name)
    series = series_for(plan, scn)
    return [simulate_one(plan, scn, seed, i, series) for i in range(runs)]


def _both(tmp_path: Path) -> Plan:
    gates = ERROR_GATE % {"bound": "max_ratio: 1.25"} + LATENCY_GATE
    return load(write_plan(tmp_path, gates)).plan


@pytest.mark.slow  # over a second: virtual rollouts on both paths
@pytest.mark.parametrize(
    ("scenario", "runs"),
    [("healthy", 12), ("error-2x", 12), ("latency+10%", 8), ("broken-router", 8), ("drift", 8)],
)
def test_same_outcomes_as_the_engine_run_by_run(tmp_path: Path, scenario: str, runs: int) -> None:
    plan = _both(tmp_path)
    scn = builtin(scenario)
    got = fast.batch(plan, scn, 5, range(runs), series_for(plan, scn))
    want = _engine(plan, scenario, runs, 5)
    assert [o.outcome for o in got] == [o.outcome for o in want]
    assert all(fast._same_outcome(a, b) for a, b in zip(got, want, strict=True))
    # the scenarios are not all alike: something is decided in these runs
    assert {o.outcome for o in want} & {"rolled_back", "completed", "halted"}


@pytest.mark.slow  # over a second: virtual rollouts on both paths
@pytest.mark.parametrize(
    ("path", "scenario"),
    [
        ("plans/pilot-expansion-full.yaml", "error-2x"),
        ("plans/pilot-expansion-full.yaml", "healthy"),
        ("examples/bad-candidate/plan.yaml", "error-2x"),
    ],
)
def test_shipped_plans_same_outcomes(path: str, scenario: str) -> None:
    _, plan = load_plan(ROOT / path, [], [])
    scn = builtin(scenario)
    series = series_for(plan, scn)
    assert fast.supports(plan, scn, series) is None
    got = fast.batch(plan, scn, 1, range(6), series)
    want = [simulate_one(plan, scn, 1, i, series) for i in range(6)]
    assert all(fast._same_outcome(a, b) for a, b in zip(got, want, strict=True)), (got, want)


@pytest.mark.slow  # over a second: virtual rollouts on both paths
def test_the_fast_path_is_the_one_taken_and_agrees_with_itself_across_workers(
    tmp_path: Path,
) -> None:
    plan = _both(tmp_path)
    scn = builtin("error-2x")
    one, path = run_fast(plan, scn, 400, 3, workers=1)
    # If this fails with "engine (...)", the gate math changed and rollout.sim.fast must follow
    # it (simulate is still right, only slower): the reason names what differs.
    assert path == "fast"
    two, path2 = run_fast(plan, scn, 400, 3, workers=2)
    assert path2 == "fast" and one == two


def test_a_fast_path_that_disagrees_falls_back_to_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _both(tmp_path)
    scn = builtin("error-2x")
    real = fast._psi_tol
    monkeypatch.setattr(fast, "_psi_tol", lambda *a: real(*a) + 0.05)  # a wrong tolerance
    outs, path = fast.run(plan, scn, 2, range(5))
    assert path.startswith("engine (") and "differ" in path
    assert outs == _engine(plan, "error-2x", 5, 2)


def test_what_it_does_not_cover_runs_on_the_engine(tmp_path: Path) -> None:
    plan = load(write_plan(tmp_path, ERROR_GATE % {"bound": "max: 0.05"})).plan
    scn = builtin("error-5x")
    assert fast.supports(plan, scn) == "gate error-rate: absolute bound max"
    outs, path = fast.run(plan, scn, 1, range(3))
    assert path == "engine (gate error-rate: absolute bound max)"
    assert outs == _engine(plan, "error-5x", 3, 1)


def test_log_latency_sums_are_drawn_from_their_exact_distribution() -> None:
    import numpy as np

    from rollout.sim.virtual import log_sums

    rng = np.random.default_rng(4)
    n, mu, sigma = 40, -0.2, 0.6
    draws = np.array([log_sums(n, mu, sigma, rng) for _ in range(20_000)])
    s, q = draws[:, 0], draws[:, 1]
    var = (q - s * s / n) / (n - 1)  # each tick's sample variance
    assert abs(s.mean() / n - mu) < 0.005 and abs(s.std() - sigma * np.sqrt(n)) < 0.05
    assert abs(var.mean() - sigma**2) < 0.005  # unbiased
    assert abs(var.std() - sigma**2 * np.sqrt(2 / (n - 1))) < 0.005  # chi-square spread
    assert log_sums(0, mu, sigma, rng) == (0.0, 0.0)


def test_latency_sums_only_where_they_suffice(tmp_path: Path) -> None:
    from rollout.sim.virtual import sums_suffice

    plan = _both(tmp_path)
    assert sums_suffice(builtin("latency+10%"), series_for(plan, builtin("latency+10%")))
    tail = builtin("tail-regression")  # a slow tail is not normal on the log scale
    assert not sums_suffice(tail, series_for(plan, tail))
