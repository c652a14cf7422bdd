"""The judge's noise measured from a file enters the test: a healthy candidate graded by a judge
whose per-variant batch offset moves each tick (the set-up of test_online's stated-sd test:
scores 0.7 ± 0.15, one offset per variant and tick) is falsely rolled back often by a mean gate
that does not know, and at most alpha once the plan says `judge_noise: {repeats: FILE}`, FILE
being the same judge regrading answers. Through the real path: `load` reads the file, the one
observation path (observe.read_tick, shared by apply and simulate) widens each tick, and the
sequential gate (gates.evaluate) judges it. Seeds are fixed; rates are asserted with margin."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rollout.gates.evaluate import evaluate
from rollout.gates.types import Settings
from rollout.loading import load
from rollout.observe import read_tick
from rollout.spec import Gate

TAU = 0.04  # the judge's batch offset per variant and tick (what a regrade moves by)
SIGMA, N = 0.15, 1000  # scores of one variant within a tick, grades per variant per tick
TICKS, ALPHA, RUNS = 40, 0.05, 200
AT = datetime(2026, 1, 1, tzinfo=UTC)

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: judged
variants: {{baseline: {{model: a}}, candidate: {{model: b}}}}
router: {{type: file, path: routes.json}}
metrics: {{type: simulated}}
gates:
  - name: judge-score
    kind: mean
    count: c{{variant="{{{{ variant }}}}"}}
    sum: s{{variant="{{{{ variant }}}}"}}
    sum_squares: q{{variant="{{{{ variant }}}}"}}
    max_decrease: 0.01
{noise}
stages: [{{name: pilot, weight: 50, bake: 40m}}, {{name: full, weight: 100}}]
"""


def regrades(path: Path) -> None:
    """100 answers, each graded 3 times by the judge, in different batches."""
    rng = random.Random(5)
    with path.open("w") as f:
        for i in range(100):
            truth = rng.uniform(0.4, 0.9)
            for _ in range(3):
                f.write(json.dumps({"item": f"q{i}", "score": truth + rng.gauss(0, TAU)}) + "\n")


def gate(tmp_path: Path, noise: str) -> Gate:
    regrades(tmp_path / "regrades.jsonl")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(noise=f"    judge_noise: {noise}" if noise else ""))
    return load(plan).plan.spec.gates[0]


def rollback_rate(g: Gate, delta: float, runs: int, seed: int) -> float:
    """The share of runs a `fail` verdict (a rollback) ends within TICKS ticks."""
    rng = random.Random(seed)
    settings = Settings(method="sequential", alpha=ALPHA)
    failed = 0
    for _ in range(runs):
        state: dict[str, object] = {}
        for k in range(TICKS):
            r = {}
            for v in ("baseline", "candidate"):
                offset = rng.gauss(0, TAU)  # shared by this variant's grades in this tick
                mean = 0.7 + (delta if v == "candidate" else 0.0) + offset
                mean += rng.gauss(0, SIGMA / math.sqrt(N))
                ss = SIGMA**2 * 2 * rng.gammavariate((N - 1) / 2, 1)  # σ² χ²(N−1)
                r[v] = {"count": float(N), "sum": N * mean, "sum_squares": ss + N * mean * mean}
            tick = read_tick(
                g,
                ("baseline", "candidate"),
                lambda v, role, r=r: r[v][role],
                at=AT + timedelta(minutes=k),
                stage="pilot",
                weight=50,
            )
            state, verdict = evaluate(g, state, tick, settings)
            if verdict.status == "fail":
                failed += 1
                break
    return failed / runs


def test_the_file_states_the_judges_noise(tmp_path: Path) -> None:
    jn = gate(tmp_path, "{repeats: regrades.jsonl}").judge_noise
    assert jn is not None and jn.sd is not None and jn.n == 300
    assert abs(jn.sd - TAU) < 0.2 * TAU


def test_a_noisy_judge_fails_a_healthy_candidate_unless_its_repeats_are_stated(
    tmp_path: Path,
) -> None:
    naive = rollback_rate(gate(tmp_path, ""), 0.0, RUNS, seed=1)
    stated = rollback_rate(gate(tmp_path, "{repeats: regrades.jsonl}"), 0.0, RUNS, seed=1)
    assert naive > 0.3  # measured 0.60: the judge's batch offsets taken as evidence
    assert stated <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)  # measured 0.0


@pytest.mark.parametrize("delta", [-0.06])
def test_a_worse_candidate_is_still_rolled_back_with_the_noise_stated(
    tmp_path: Path, delta: float
) -> None:
    g = gate(tmp_path, "{repeats: regrades.jsonl}")
    assert rollback_rate(g, delta, 50, seed=2) >= 0.9  # measured 1.0
