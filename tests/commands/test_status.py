"""`rollout status [NAME] [--watch]` in process, on a SQLite store and a FakeClock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rollout.records import Holder
from tests.commands.conftest import Workspace


def test_status_shows_phase_step_weights_verdicts_and_iso_seconds(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    ws.clock.advance(90)
    res = ws.cli("status", "demo")
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[0].startswith("demo (attempt 1): progressing · step 4/7 · stage expansion")
    assert "gate error-rate: " in res.out
    updated = ws.run().updated_at.isoformat(timespec="seconds")
    assert lines[-1] == f"  updated {updated} (1m30s ago)"  # whole seconds, the injected clock


def test_status_json(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    doc = ws.cli("status", "demo", "-o", "json").json()
    assert doc["schema"] == "rollout.status/v1"
    assert doc["phase"] == "progressing" and doc["weights"]["candidate"] == 5
    assert doc["step"] == 3 and doc["step_number"] == 4 and doc["steps"] == 7
    assert doc["holder"] is None  # nobody is applying it
    assert doc["updated_at"] == ws.run().updated_at.isoformat(timespec="seconds")


def test_status_names_who_is_applying(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    with ws.store().lease("demo", Holder(user="ana", host="ci-7", pid=4242), ttl=60):
        res = ws.cli("status", "demo")
    assert "  being applied by ana@ci-7 pid 4242" in res.out


def test_status_without_a_name_is_the_list(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    assert ws.cli("status").out == ws.cli("list").out


def test_status_of_an_unknown_name_creates_no_store(ws: Workspace) -> None:
    res = ws.cli("status", "demo")
    assert res.code == 2
    assert f"no SQLite state store at {ws.db}" in res.err
    assert not ws.db.exists()


@pytest.mark.parametrize(
    ("setup", "code", "says"),
    [
        ("complete", 0, "demo: completed (exit 0)"),
        ("roll_back", 3, "demo: rolled_back (exit 3)"),
        ("abort", 4, "demo: aborted (exit 4)"),
        ("approval", 5, "demo: waiting (awaiting_approval)"),
        ("until", 5, "demo: progressing but no apply is running"),
    ],
)
def test_watch_exits_with_the_outcome_code(ws: Workspace, setup: str, code: int, says: str) -> None:
    if setup == "complete":
        ws.cli("apply", str(ws.write_plan()))
    elif setup == "roll_back":
        ws.cli("apply", str(ws.write_plan(candidate_error=0.1)))
    elif setup == "approval":
        ws.cli("apply", str(ws.write_plan(approval=True)))
    else:
        ws.cli("apply", str(ws.write_plan()), "--until", "pilot")
        if setup == "abort":
            assert ws.cli("abort", "demo").code == 0
    res = ws.cli("status", "demo", "--watch")
    assert res.code == code
    assert res.out.splitlines()[-1].startswith(says)
    assert "set     " in res.out and "served  " in res.out


def test_watch_gives_up_after_the_timeout_with_exit_5(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    start = ws.clock.now()
    with ws.store().lease("demo", Holder(user="ana", host="ci-7", pid=4242), ttl=3600):
        res = ws.cli("status", "demo", "--watch", "--timeout", "10s")
    assert res.code == 5
    assert res.out.splitlines()[-1] == "demo: still progressing after --timeout (exit 5)"
    assert ws.clock.now() - start == timedelta(seconds=10)  # five looks, 2 s apart
    assert res.out.count("demo (attempt 1)") == 1  # unchanged: one block, not one per look


def test_watch_json_is_ndjson(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    res = ws.cli("status", "demo", "--watch", "-o", "json")
    assert res.code == 0
    docs = [json.loads(line) for line in res.out.splitlines()]
    assert len(docs) == 2
    assert docs[0]["schema"] == "rollout.watch/v1" and docs[0]["phase"] == "completed"
    assert docs[0]["served"] == {"baseline": 0, "candidate": 100}
    assert docs[1]["schema"] == "rollout.watch.outcome/v1" and docs[1]["exit_code"] == 0


def test_a_bad_timeout_is_a_usage_error(ws: Workspace) -> None:
    res = ws.cli("status", "demo", "--watch", "--timeout", "soon")
    assert res.code == 2
    assert res.err.startswith("error: Invalid value: --timeout 'soon'")
