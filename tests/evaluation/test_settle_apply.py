"""`settle:` through `rollout apply` (the simulated source, a FakeClock): the run completes, and
each stage with a settled gate passes only `settle` after its bake, never before."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.clock import FakeClock
from tests.commands.conftest import Workspace, plan_text


@pytest.fixture
def work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return Workspace(tmp_path, FakeClock(), capsys)


@pytest.mark.parametrize("settle", [None, 60])
def test_a_stage_with_a_settled_gate_moves_on_settle_after_its_bake(
    work: Workspace, settle: int | None
) -> None:
    text = plan_text()
    if settle:
        text = text.replace(
            "    max_ratio: 1.25\n", f"    max_ratio: 1.25\n    settle: {settle}s\n"
        )
    plan = work.root / "plan.yaml"
    plan.write_text(text)
    assert work.cli("apply", str(plan)).code == 0
    events = work.store().history("demo", limit=500)
    started = {e.data.get("stage"): e.at for e in events if e.kind == "weights"}
    passed = {e.data.get("stage"): e.at for e in events if e.kind == "step"}  # pass or proceed
    assert set(passed) == {"pilot", "expansion"}, [(e.kind, e.message) for e in events]
    for stage, at in passed.items():
        took = (at - started[stage]).total_seconds()
        assert took >= 120 + (settle or 0), (stage, took)
        assert took < 120 + (settle or 0) + 60, (stage, took)
    assert work.run().phase.value == "completed"
