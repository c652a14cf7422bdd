"""Runs driven deterministically for the report tests: the in-process CLI on a FakeClock, in a
temporary directory, with the person's identity fixed (events name `alice@ci-runner`), so the
same commands give the same reports byte for byte on any machine."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from rollout.clock import FakeClock
from tests.commands.conftest import Workspace

MAX_JOBS = 60  # scheduled reconcile jobs before a test gives up on a rollout finishing


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    monkeypatch.setattr(socket, "gethostname", lambda: "ci-runner")
    return Workspace(tmp_path, FakeClock(), capsys)


@dataclass
class CiRun:
    """The example workflow's sequence: start (apply, which stops at the approval), a person's
    `promote` ten minutes later, then a scheduled `reconcile` every 30 s until it is done. Each
    job's GitHub step summary is kept."""

    ws: Workspace
    apply_summary: str
    last_summary: str
    jobs: int


def ci_sequence(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> CiRun:
    plan = ws.write_plan(approval=True)
    summary = ws.root / "apply.summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert ws.cli("apply", str(plan)).code == 5  # waiting for approval
    apply_summary = summary.read_text()
    ws.clock.advance(600)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert ws.cli("promote", "demo").code == 0
    for job in range(1, MAX_JOBS + 1):
        summary = ws.root / f"reconcile-{job}.summary.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        assert ws.cli("reconcile").code == 0
        if ws.run().phase.finished:
            return CiRun(ws, apply_summary, summary.read_text(), job)
        ws.clock.advance(30)
    raise AssertionError(f"not finished after {MAX_JOBS} reconcile jobs: {ws.run().message}")


def rolled_back(ws: Workspace) -> Workspace:
    """A candidate at 2 % errors against 1 %: inconclusive through the pilot, rolled back in
    the expansion (a run with several ticks, so every chart has a curve)."""
    assert ws.cli("apply", str(ws.write_plan(candidate_error=0.02))).code == 3
    return ws
