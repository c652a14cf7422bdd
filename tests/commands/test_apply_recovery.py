"""`rollout apply` when something went wrong before or during it: a runner that died holding
the lease, a router that cannot be written, a job summary that cannot be written."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from rollout.records import Holder, Phase
from tests.commands.conftest import Workspace


def test_a_lease_left_by_a_dead_runner_is_taken_over_and_recorded(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    ghost = Holder(user="ci", host=socket.gethostname(), pid=child.pid)
    leaked = ws.store().lease("demo", ghost, ttl=3600)
    leaked.__enter__()  # never released: the runner died (the reference keeps it unreleased)
    res = ws.cli("apply", str(plan))
    del leaked
    assert res.code == 0, res.err
    assert f"runner ci@{socket.gethostname()} pid {child.pid}" in res.out
    takeovers = [e for e in ws.store().history("demo", limit=0) if e.kind == "takeover"]
    assert len(takeovers) == 1 and "without releasing its lease" in takeovers[0].message
    assert takeovers[0].data["previous"]["pid"] == child.pid
    assert ws.run().phase == Phase.COMPLETED


def test_a_router_that_cannot_be_written_stops_apply_with_exit_1(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    routes = ws.root / "routes.json"
    routes.unlink()
    routes.mkdir()
    res = ws.cli("apply", str(plan))
    assert res.code == 1
    assert res.err.count("error: ") >= 1 and "bug in rollout" not in res.err
    run = ws.run()
    assert not run.phase.finished  # traffic left as recorded: resumable


def test_approve_without_approval_steps_changes_nothing(ws: Workspace) -> None:
    res = ws.cli("apply", str(ws.write_plan()), "--approve")
    assert res.code == 0
    assert not [e for e in ws.store().history("demo", limit=0) if e.kind == "approval"]


def test_an_unwritable_job_summary_is_a_warning(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(ws.root / "no" / "such" / "dir" / "s.md"))
    res = ws.cli("apply", str(ws.write_plan()))
    assert res.code == 0
    assert "warning: could not write the job summary" in res.err


def test_a_completed_rollout_applied_again_is_exit_0_and_moves_nothing(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan)).code == 0
    revision = ws.run().revision
    res = ws.cli("apply", str(plan))
    assert res.code == 0 and "already completed with this plan" in res.out
    assert ws.run().revision == revision and ws.candidate_weight() == 100
