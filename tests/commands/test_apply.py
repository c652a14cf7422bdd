"""`rollout apply` in process: a quickstart-like plan on simulated traffic, a routes file and a
SQLite store in tmp_path, on a FakeClock (virtual time: a 4-minute plan runs in a moment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.records import Phase
from tests.commands.conftest import Workspace


def test_a_healthy_candidate_completes_at_100_percent(ws: Workspace) -> None:
    plan = ws.write_plan()
    res = ws.cli("apply", str(plan))
    assert res.code == 0, res.err
    assert ws.candidate_weight() == 100
    run = ws.run()
    assert run.phase == Phase.COMPLETED and run.step_index == len(run.plan.steps)
    assert "demo (attempt 1): completed · step 7/7" in res.out
    assert "starting demo: 7 steps" in res.out  # progress lines, plain off a terminal
    assert sum(ws.clock.slept) >= 4 * 60  # two 2-minute bakes passed in virtual time


def test_apply_again_with_the_same_plan_says_so_and_keeps_the_outcome(ws: Workspace) -> None:
    plan = ws.write_plan(candidate_error=0.1)
    assert ws.cli("apply", str(plan)).code == 3
    again = ws.cli("apply", str(plan))
    assert again.code == 3  # a re-run CI job never turns a rollback green
    assert "already rolled_back with this plan" in again.out
    assert ws.run().attempt == 1


def test_a_bad_candidate_is_rolled_back_with_exit_3_and_evidence(ws: Workspace) -> None:
    plan = ws.write_plan(candidate_error=0.1)
    res = ws.cli("apply", str(plan))
    assert res.code == 3
    assert ws.candidate_weight() == 0
    run = ws.run()
    assert run.phase == Phase.ROLLED_BACK
    assert run.verdicts["error-rate"]["status"] == "fail"
    assert "gate error-rate: fail" in res.out


def test_an_approval_step_waits_with_exit_5_and_approve_continues(ws: Workspace) -> None:
    plan = ws.write_plan(approval=True)
    res = ws.cli("apply", str(plan))
    assert res.code == 5
    assert ws.run().phase == Phase.AWAITING_APPROVAL
    assert ws.candidate_weight() == 5
    assert "rollout promote demo" in res.out
    res = ws.cli("apply", str(plan), "--approve")
    assert res.code == 0, res.err
    assert ws.run().phase == Phase.COMPLETED and ws.candidate_weight() == 100


def test_until_stops_after_the_stage_with_exit_0(ws: Workspace) -> None:
    plan = ws.write_plan()
    res = ws.cli("apply", str(plan), "--until", "pilot")
    assert res.code == 0
    run = ws.run()
    assert run.phase == Phase.PROGRESSING and ws.candidate_weight() == 5
    assert "reached --until pilot" in res.out


def test_until_an_unknown_stage_is_invalid_input_and_creates_nothing(ws: Workspace) -> None:
    plan = ws.write_plan()
    res = ws.cli("apply", str(plan), "--until", "nope")
    assert res.code == 2
    assert res.err.startswith("error: --until 'nope': no such stage; stages: pilot, expansion")
    assert not ws.db.exists() and not (ws.root / "routes.json").exists()


def test_json_is_one_document_with_the_exit_code_and_progress_on_stderr(ws: Workspace) -> None:
    plan = ws.write_plan()
    res = ws.cli("apply", str(plan), "-o", "json")
    doc = res.json()
    assert res.code == 0 and doc["exit_code"] == 0
    assert doc["schema"] == "rollout.apply/v1"
    assert doc["phase"] == "completed" and doc["weights"] == {"baseline": 0, "candidate": 100}
    assert doc["step_number"] == doc["steps"] == 7
    assert "weights" in res.err  # live progress goes to stderr in JSON mode


def test_a_compatible_edit_continues_in_place_with_the_evidence_kept(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    before = ws.run()
    plan.write_text(plan.read_text().replace("bake: 2m}", "bake: 3m}", 1))
    res = ws.cli("apply", str(plan))
    assert res.code == 0, res.err
    run = ws.run()
    assert run.attempt == 1 and run.phase == Phase.COMPLETED  # same attempt, no restart
    assert "continuing in place" in res.out and "bake: 120 -> 180" in res.out
    assert run.gates["error-rate"]["ticks"] > before.gates["error-rate"]["ticks"]
    shifts = [
        e.data["weights"]["candidate"]
        for e in ws.store().history("demo", limit=0)
        if e.kind == "weights" and "weights" in e.data
    ]
    assert shifts == sorted(shifts)  # never backwards: 5, 50, 100


def test_an_edit_of_the_variants_mid_rollout_is_refused_unless_restart(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    plan.write_text(plan.read_text().replace('"2025-04-14"', '"2025-05-01"'))
    res = ws.cli("apply", str(plan))
    assert res.code == 2
    assert "cannot continue in place: the variants changed" in res.err
    assert "--restart" in res.err and ws.candidate_weight() == 5  # nothing moved
    assert ws.run().attempt == 1
    res = ws.cli("apply", str(plan), "--restart", "--until", "pilot")
    assert res.code == 0, res.err
    assert ws.run().attempt == 2 and ws.candidate_weight() == 5
    first = ws.store().history("demo", limit=0, all_attempts=True)
    assert any("aborted for `apply --restart`" in e.message for e in first)


def test_a_changed_plan_after_the_end_starts_a_new_attempt(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan)).code == 0
    plan.write_text(plan.read_text().replace("bake: 2m}", "bake: 3m}", 1))
    res = ws.cli("apply", str(plan))
    assert res.code == 0
    run = ws.run()
    assert run.attempt == 2 and run.phase == Phase.COMPLETED
    assert "plan changed" in res.out and "attempt 1 was completed" in res.out


def test_the_job_summary_is_appended_in_github_actions(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = ws.root / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    text = summary.read_text()
    assert text.startswith("### rollout `demo` — completed")
    assert "step 7/7" in text


def test_an_invalid_plan_is_exit_2_with_its_location(ws: Workspace) -> None:
    plan = ws.root / "plan.yaml"
    plan.write_text(Path(ws.write_plan()).read_text().replace("weight: 5,", "weight: 500,"))
    res = ws.cli("apply", str(plan))
    assert res.code == 2
    assert "plan.yaml:" in res.err and "stages[0].weight" in res.err
    assert not ws.db.exists()
