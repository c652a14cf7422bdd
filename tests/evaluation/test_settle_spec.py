"""`settle:` on a gate: a duration like the plan's others, absent by default (plans without it
dump and hash as before), and a located error naming the field when it is not a duration."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli import main
from rollout.spec import Gate

GATE = {
    "name": "thumbs-down",
    "kind": "proportion",
    "events": 'down{variant="{{ variant }}"}',
    "total": 'rated{variant="{{ variant }}"}',
    "max_increase": 0.01,
}


def test_settle_reads_as_a_duration_and_is_absent_by_default() -> None:
    assert Gate.model_validate({**GATE, "settle": "10m"}).settle == 600
    assert Gate.model_validate({**GATE, "settle": 90}).settle == 90
    plain = Gate.model_validate(GATE)
    assert plain.settle is None and "settle" not in plain.model_dump()
    assert Gate.model_validate({**GATE, "settle": "1m"}).model_dump()["settle"] == 60


@pytest.mark.parametrize("bad", ["ten minutes", "0s", -5])
def test_a_bad_settle_is_a_located_plan_error(
    bad: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
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
        f"    settle: {bad}\n"
        "stages: [{name: full, weight: 100}]\n"
    )
    assert main(["validate", str(plan)]) == 2
    said = capsys.readouterr().out
    assert "plan.yaml:13:" in said and "gates[0].settle" in said
    assert not (tmp_path / "routes.json").exists()
