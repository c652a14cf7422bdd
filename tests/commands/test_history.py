"""`rollout history NAME` in process."""

from __future__ import annotations

import re

from tests.commands.conftest import Workspace

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"  # ISO 8601 in whole seconds


def test_history_is_the_audit_trail_oldest_first(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    res = ws.cli("history", "demo")
    assert res.code == 0
    lines = res.out.splitlines()
    assert all(re.match(STAMP + "  ", ln) for ln in lines)
    assert "created" in lines[0] and "rollout demo created" in lines[0]
    assert "completed" in lines[-1]
    assert any(" verdict " in ln and "error-rate" in ln for ln in lines)


def test_limit_keeps_the_newest(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    every = ws.cli("history", "demo", "--limit", "1000").out.splitlines()
    last3 = ws.cli("history", "demo", "-n", "3").out.splitlines()
    assert len(every) > 3 and last3 == every[-3:]


def test_all_attempts_are_numbered(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan(candidate_error=0.1))).code == 3
    assert ws.cli("retry", "demo").code == 0
    lines = ws.cli("history", "demo", "--all", "-n", "1000").out.splitlines()
    assert lines[0].startswith("#1 ") and lines[-1].startswith("#2 ")
    latest = ws.cli("history", "demo").out.splitlines()
    assert len(latest) == 1 and "attempt 2 started" in latest[0]


def test_history_json(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    doc = ws.cli("history", "demo", "-o", "json").json()
    assert doc["schema"] == "rollout.history/v1" and doc["name"] == "demo"
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[0] == "created" and "weights" in kinds


def test_an_unknown_name_is_exit_2(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    res = ws.cli("history", "nope")
    assert res.code == 2 and res.err.startswith("error: no rollout named 'nope' in the SQLite")
