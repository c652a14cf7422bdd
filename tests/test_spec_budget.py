"""`budget:` in the plan language: a spend cap on the candidate, with located errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.cli import main
from rollout.spec import PlanRuleErrors, PlanSpec

BASE: dict[str, Any] = {
    "apiVersion": "rollout/v1",
    "kind": "Plan",
    "name": "demo",
    "variants": {
        "baseline": {"model": "gpt-4o", "model_version": "2024-08-06"},
        "candidate": {"model": "gpt-4o-mini", "model_version": "2024-07-18"},
    },
    "router": {"type": "file", "path": "r.json"},
    "metrics": {"type": "simulated"},
    "gates": [
        {"name": "err", "kind": "proportion", "events": "e", "total": "t", "max_ratio": 1.2},
        {"name": "cost", "signal": "cost-per-request", "max_ratio": 1.1, "required": False},
    ],
    "stages": [{"name": "pilot", "weight": 5, "bake": "1m"}, {"name": "full", "weight": 100}],
    "budget": {"max_candidate_cost": 250},
}


def plan(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def problems(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        PlanSpec.model_validate(data)
    out: list[tuple[tuple[Any, ...], str]] = []
    for e in info.value.errors():
        err = (e.get("ctx") or {}).get("error")
        if isinstance(err, PlanRuleErrors):
            out += [(tuple(loc), msg) for loc, msg in err.problems]
        else:
            out.append((tuple(e["loc"]), str(e["msg"])))
    return out


def test_a_budget_validates_and_dumps() -> None:
    spec = PlanSpec.model_validate(plan())
    assert spec.budget is not None and spec.budget.max_candidate_cost == 250.0
    assert spec.model_dump(by_alias=True)["budget"] == {"max_candidate_cost": 250.0}


def test_a_plan_without_budget_dumps_as_before() -> None:
    data = plan()
    del data["budget"]
    assert "budget" not in PlanSpec.model_validate(data).model_dump(by_alias=True)


@pytest.mark.parametrize("bad", [0, -5, "lots", float("inf"), 1e12])
def test_bad_caps_are_errors_at_the_field(bad: Any) -> None:
    got = problems(plan(budget={"max_candidate_cost": bad}))
    assert [loc for loc, _ in got] == [("budget", "max_candidate_cost")]


def test_unknown_budget_keys_are_errors() -> None:
    got = problems(plan(budget={"max_cost": 250}))
    locs = {loc for loc, _ in got}
    assert ("budget", "max_cost") in locs and ("budget", "max_candidate_cost") in locs


def test_a_budget_needs_a_cost_gate() -> None:
    got = problems(plan(gates=BASE["gates"][:1]))
    assert got == [(("budget",), got[0][1])]
    assert "cost-per-request" in got[0][1]


def test_every_stage_that_bakes_judges_the_cost_gate() -> None:
    stages = [
        {"name": "pilot", "weight": 5, "bake": "1m", "gates": ["err"]},
        {"name": "half", "weight": 50, "bake": "1m", "gates": ["err", "cost"]},
        {"name": "full", "weight": 100, "gates": ["err"]},  # no bake: reads nothing
    ]
    got = problems(plan(stages=stages))
    assert [loc for loc, _ in got] == [("stages", 0, "gates")]
    assert "'cost'" in got[0][1]


PLAN_FILE = """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline: {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4o-mini, model_version: "2024-07-18"}
router: {type: file, path: routes.json}
metrics: {type: simulated}
gates:
  - {name: cost, signal: cost-per-request, max_ratio: 1.1, required: false}
stages:
  - {name: full, weight: 100, bake: 1m}
budget:
  max_candidate_cost: -3
"""


def test_the_cli_names_file_line_and_field_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plan.yaml").write_text(PLAN_FILE)
    assert main(["plan", "plan.yaml"]) == 2
    err = capsys.readouterr().err
    assert "plan.yaml:14" in err and "budget.max_candidate_cost" in err
    assert not (tmp_path / "routes.json").exists() and not (tmp_path / ".rollout").exists()
