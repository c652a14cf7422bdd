"""`judge_noise:` on a mean gate: the plan states the judge's noise, the one observation path
(observe.read_tick, shared by apply and simulate) widens each tick by it before the gate judges."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.observe import read_tick
from rollout.spec import Gate

AT = datetime(2026, 1, 1, tzinfo=UTC)
MEAN = {
    "name": "judge-score",
    "kind": "mean",
    "count": 'judge_count{variant="{{ variant }}"}',
    "sum": 'judge_sum{variant="{{ variant }}"}',
    "sum_squares": 'judge_sum_squares{variant="{{ variant }}"}',
    "max_decrease": 0.05,
}
READINGS = {
    "baseline": {"count": 200.0, "sum": 140.0, "sum_squares": 102.5},
    "candidate": {"count": 200.0, "sum": 139.0, "sum_squares": 101.3},
}


def tick(gate: Gate) -> dict[str, dict[str, float]]:
    t = read_tick(
        gate,
        ("baseline", "candidate"),
        lambda v, role: READINGS[v][role],
        at=AT,
        stage="pilot",
        weight=5,
    )
    assert t.readings is not None
    return t.readings


def test_judge_noise_widens_each_variants_tick_and_keeps_its_mean() -> None:
    plain = tick(Gate.model_validate(MEAN))
    noisy = tick(Gate.model_validate({**MEAN, "judge_noise": {"sd": 0.05}}))
    assert plain == READINGS
    for v in READINGS:
        assert noisy[v]["count"] == plain[v]["count"] and noisy[v]["sum"] == plain[v]["sum"]
        n, s = plain[v]["count"], plain[v]["sum"]
        var_before = (plain[v]["sum_squares"] - s * s / n) / (n - 1)
        var_after = (noisy[v]["sum_squares"] - s * s / n) / (n - 1)
        assert var_after / n == pytest.approx(var_before / n + 0.05**2)


def test_a_gate_without_judge_noise_dumps_as_before() -> None:
    assert "judge_noise" not in Gate.model_validate(MEAN).model_dump()
    assert Gate.model_validate({**MEAN, "judge_noise": {"sd": 0.1}}).model_dump()["judge_noise"]


def test_judge_noise_on_a_proportion_gate_is_a_located_plan_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: rollout/v1\nkind: Plan\nname: p\n"
        "variants: {baseline: {model: a}, candidate: {model: b}}\n"
        "router: {type: file, path: routes.json}\n"
        "metrics: {type: simulated}\n"
        "gates:\n"
        "  - name: thumbs-down\n"
        "    kind: proportion\n"
        '    events: down{variant="{{ variant }}"}\n'
        '    total: rated{variant="{{ variant }}"}\n'
        "    max_increase: 0.01\n"
        "    judge_noise: {sd: 0.1}\n"
        "stages: [{name: full, weight: 100}]\n"
    )
    assert main(["validate", str(plan)]) == 2
    said = capsys.readouterr()
    assert (
        "plan.yaml:8:5: gates[0]" in said.out + said.err
        and "judge_noise applies to mean gates" in (said.out + said.err)
    )
