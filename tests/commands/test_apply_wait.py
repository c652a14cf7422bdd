"""`apply --wait` at an approval keeps judging the candidate that already takes traffic."""

from __future__ import annotations

from rollout.records import Phase
from tests.commands.conftest import Workspace


def test_a_failing_candidate_waiting_with_wait_is_rolled_back_before_anyone_approves(
    ws: Workspace,
) -> None:
    plan = ws.write_plan(candidate_error=0.02, approval=True)  # 2x: the pilot is too short
    res = ws.cli("apply", str(plan), "--wait")
    assert res.code == 3, res.err
    assert ws.run().phase == Phase.ROLLED_BACK and ws.candidate_weight() == 0
    events = ws.cli("history", "demo", "-o", "json", "--limit", "0").json()["events"]
    phases = [e["data"].get("phase") for e in events if e["kind"] == "phase"]
    # it waited at the approval, nobody approved, and a verdict taken while waiting rolled back
    assert phases == ["awaiting_approval", "rolling_back", "rolled_back"]
    waited = next(i for i, e in enumerate(events) if e["data"].get("phase") == "awaiting_approval")
    fail = next(i for i, e in enumerate(events) if e["data"].get("status") == "fail")
    assert waited < fail
    assert not [e for e in events if e["kind"] == "intent"]
