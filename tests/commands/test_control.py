"""`rollout pause|resume|promote NAME` in process: each writes an intent (who, when, why) that
the next `rollout apply` acts on first when no runner is alive."""

from __future__ import annotations

import pytest

from rollout.records import Phase
from tests.commands.conftest import Workspace


def _intents(ws: Workspace) -> list[str]:
    return [e.message for e in ws.store().history("demo", limit=0) if e.kind == "intent"]


@pytest.mark.parametrize(
    ("verb", "extra", "action", "word"),
    [
        ("pause", [], "pause", "pause"),
        ("resume", [], "resume", "resume"),
        ("promote", [], "promote", "promote"),
        ("promote", ["--full"], "promote_full", "promote to full"),
    ],
)
def test_each_verb_records_its_intent(
    ws: Workspace, verb: str, extra: list[str], action: str, word: str
) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    res = ws.cli(verb, "demo", *extra, "--reason", "on call")
    assert res.code == 0, res.err
    assert res.out.startswith(f"demo: {word} recorded; a running `rollout apply` acts on it")
    (message,) = _intents(ws)
    assert message.startswith(f"{word} requested by ") and message.endswith("(on call)")
    ev = next(e for e in ws.store().history("demo", limit=0) if e.kind == "intent")
    assert ev.data == {"action": action, "reason": "on call", "queued_behind": 0}
    assert ev.at == ws.clock.now()


def test_control_json(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    doc = ws.cli("pause", "demo", "-o", "json").json()
    assert doc["schema"] == "rollout.control/v1"
    assert doc["name"] == "demo" and doc["recorded"] is True
    assert doc["intent"]["action"] == "pause" and doc["intent"]["reason"] is None


def test_pause_then_apply_holds_with_exit_5_and_resume_continues(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    assert ws.cli("pause", "demo").code == 0
    assert ws.cli("apply", str(plan)).code == 5
    assert ws.run().phase == Phase.PAUSED and ws.candidate_weight() == 5
    assert ws.cli("resume", "demo").code == 0
    assert ws.cli("apply", str(plan)).code == 0
    assert ws.run().phase == Phase.COMPLETED and ws.candidate_weight() == 100


def test_promote_approves_the_waiting_step(ws: Workspace) -> None:
    plan = ws.write_plan(approval=True)
    assert ws.cli("apply", str(plan)).code == 5
    assert ws.cli("promote", "demo").code == 0
    assert ws.cli("apply", str(plan)).code == 0
    assert ws.run().phase == Phase.COMPLETED


def test_promote_full_goes_to_100_percent(ws: Workspace) -> None:
    plan = ws.write_plan(approval=True)
    assert ws.cli("apply", str(plan)).code == 5
    assert ws.cli("promote", "demo", "--full").code == 0
    assert ws.cli("apply", str(plan)).code == 0
    assert ws.run().phase == Phase.COMPLETED and ws.candidate_weight() == 100


@pytest.mark.parametrize("verb", ["pause", "resume", "promote"])
def test_a_finished_rollout_has_nothing_to_control(ws: Workspace, verb: str) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    res = ws.cli(verb, "demo")
    assert res.code == 2
    assert res.err.startswith(f"error: demo is completed: nothing to {verb}")
    assert _intents(ws) == []


def test_an_unknown_name_creates_no_store(ws: Workspace) -> None:
    res = ws.cli("pause", "demo")
    assert res.code == 2 and "no SQLite state store at" in res.err
    assert not ws.db.exists()
