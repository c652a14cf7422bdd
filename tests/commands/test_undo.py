"""`rollout undo NAME`: a completed rollout, back to the previous baseline by the same stages."""

from __future__ import annotations

import json

import pytest
import yaml

from rollout.records import Phase
from tests.commands.conftest import Workspace


def routes(ws: Workspace) -> dict[str, tuple[int, str]]:
    doc = json.loads((ws.root / "routes.json").read_text())
    return {v["name"]: (v["weight"], v["model"]) for v in doc["variants"]}


@pytest.mark.slow  # over a second: two whole rollouts
def test_undo_goes_back_to_the_previous_baseline_with_the_same_gates(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan)).code == 0
    assert routes(ws)["candidate"] == (100, "gpt-4.1")
    res = ws.cli("undo", "demo")
    assert res.code == 0, res.err
    assert "demo-undo" in res.out
    undo = ws.run("demo-undo")
    assert undo.phase == Phase.COMPLETED
    assert undo.plan.spec.variants.candidate.model == "gpt-4o"  # the previous baseline
    assert undo.plan.spec.variants.baseline.model == "gpt-4.1"
    original = ws.run("demo")
    assert undo.plan.spec.gates == original.plan.spec.gates  # same gates, same stages
    assert undo.plan.spec.stages == original.plan.spec.stages
    # The fingerprints are the original's, swapped: it returns to exactly what served before.
    assert undo.plan.fingerprints["candidate"] == original.plan.fingerprints["baseline"]
    assert routes(ws)["candidate"] == (100, "gpt-4o")
    kinds = [e.kind for e in ws.store().history("demo-undo", limit=200)]
    assert kinds.count("weights") == 3 and "verdict" in kinds  # by stages, judged
    assert (ws.root / "demo-undo.yaml").exists()


@pytest.mark.slow  # over a second: two whole rollouts
def test_write_only_writes_a_plan_for_review(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    out = ws.root / "review.yaml"
    res = ws.cli("undo", "demo", "--write", str(out), "-o", "json")
    assert res.code == 0 and res.json()["started"] is False
    assert ws.store().load("demo-undo") is None  # nothing started
    text = out.read_text()
    assert text.count("{% raw %}") == 1  # query placeholders survive the loader's jinja2
    assert ws.cli("validate", str(out), state=False).code == 0
    doc = yaml.safe_load(text.replace("{% raw %}", "").replace("{% endraw %}", ""))
    assert doc["name"] == "demo-undo" and doc["variants"]["candidate"]["model"] == "gpt-4o"
    assert "Undo of demo" in doc["description"]
    assert ws.cli("apply", str(out)).code == 0  # and applied like any plan
    assert ws.run("demo-undo").phase == Phase.COMPLETED


def test_only_a_completed_rollout_can_be_undone(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan(approval=True))).code == 5
    res = ws.cli("undo", "demo")
    assert res.code == 2 and "awaiting_approval" in res.err and "rollout abort demo" in res.err
    assert ws.store().load("demo-undo") is None
    assert ws.cli("undo", "nope").code == 2


def test_a_changed_prompt_is_refused(ws: Workspace) -> None:
    prompt = ws.root / "v1.md"
    prompt.write_text("You are helpful.\n")
    plan = ws.root / "plan.yaml"
    text = ws.write_plan().read_text()
    plan.write_text(
        text.replace(
            'model_version: "2024-08-06"}', 'model_version: "2024-08-06", prompt: v1.md}', 1
        )
    )
    assert ws.cli("apply", str(plan)).code == 0
    prompt.write_text("You are terse.\n")  # the old baseline's prompt changed since
    res = ws.cli("undo", "demo")
    assert res.code == 2 and "previous baseline" in res.err
    assert ws.store().load("demo-undo") is None
