"""The markdown report and the GitHub step summary, compared with stored expected files.

The runs are driven through the CLI on a FakeClock (tests/report/conftest.py), so the output is
the same byte for byte wherever it runs. When a change to the report (or to the numbers behind
it) is intended, regenerate the files and review the diff:

    ROLLOUT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/report/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.commands.conftest import Workspace
from tests.report.conftest import ci_sequence, rolled_back

EXPECTED = Path(__file__).parent / "expected"
UPDATE = os.environ.get("ROLLOUT_UPDATE_GOLDEN") == "1"


def matches_golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run with ROLLOUT_UPDATE_GOLDEN=1 to write it"
    want = path.read_text(encoding="utf-8")
    if text != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True), text.splitlines(keepends=True), name, "got"
            )
        )
        pytest.fail(f"{name} differs (ROLLOUT_UPDATE_GOLDEN=1 rewrites it if intended):\n{diff}")


@pytest.mark.slow  # over a second: a whole CI sequence of rollouts
def test_step_summaries_of_the_ci_sequence(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ci = ci_sequence(ws, monkeypatch)
    assert ci.apply_summary.startswith("### rollout `demo` — awaiting_approval")
    assert ci.last_summary.startswith("### rollout `demo` — completed")
    assert "```mermaid\n---\nconfig:" in ci.last_summary and "\nxychart-beta\n" in ci.last_summary
    matches_golden("apply-awaiting-approval.summary.md", ci.apply_summary)
    matches_golden("reconcile-completed.summary.md", ci.last_summary)


@pytest.mark.slow  # over a second: a whole CI sequence of rollouts
def test_markdown_report_of_a_completed_rollout(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ci_sequence(ws, monkeypatch)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    res = ws.cli("report", "demo", "--format", "md")
    assert res.code == 0
    assert "| approval | alice@ci-runner |" not in res.out  # the column order is time, who, kind
    assert "| alice@ci-runner | intent |" in res.out  # who promoted, in the timeline
    matches_golden("completed.report.md", res.out)


def test_markdown_report_of_a_rolled_back_rollout(ws: Workspace) -> None:
    res = rolled_back(ws).cli("report", "demo", "--format", "md")
    assert res.code == 0
    assert res.out.count("```mermaid") == 3  # weights, the gate's values, its evidence
    matches_golden("rolled-back.report.md", res.out)
