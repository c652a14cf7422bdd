"""Every template in plans/ and every example plan validates and compiles (with no variables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli import main
from rollout.loading import load

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "plans").glob("*.yaml")) + sorted((ROOT / "examples").glob("**/plan*.yaml"))


def test_there_are_templates_and_examples() -> None:
    names = {p.name for p in PLANS}
    assert {"pilot-expansion-full.yaml", "linear-10.yaml", "blue-green.yaml", "plan.yaml"} <= names


@pytest.mark.parametrize("path", PLANS, ids=lambda p: str(p.relative_to(ROOT)))
def test_plan_validates(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # from any directory: paths resolve relative to the plan
    loaded = load(path, env={})
    weights = [s.weight for s in loaded.plan.steps if s.kind == "set_weight"]
    assert weights == sorted(set(weights)) and weights[-1] == 100
    assert main(["validate", str(path)]) == 0
    assert list(tmp_path.iterdir()) == []  # validating wrote nothing


def test_template_shapes() -> None:
    def weights(name: str) -> list[int]:
        plan = load(ROOT / "plans" / name, env={}).plan
        return [s.weight or 0 for s in plan.steps if s.kind == "set_weight"]

    assert weights("linear-10.yaml") == list(range(10, 101, 10))
    assert weights("blue-green.yaml") == [100]
    pef = load(ROOT / "plans" / "pilot-expansion-full.yaml", env={})
    assert [s.name for s in pef.spec.stages] == ["pilot", "expansion", "full"]
    assert any(s.kind == "approval" for s in pef.plan.steps)
    assert load(ROOT / "plans" / "blue-green.yaml", env={}).spec.stages[0].bake > 0
