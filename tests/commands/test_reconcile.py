"""`rollout reconcile`: what is due, now, for every active rollout — then exit."""

from __future__ import annotations

import pytest

from rollout.records import Phase
from tests.commands.conftest import Workspace


def test_a_failing_candidate_waiting_at_an_approval_is_rolled_back_by_the_next_reconcile(
    ws: Workspace,
) -> None:
    plan = ws.write_plan(candidate_error=0.02, approval=True)  # 2x the baseline's errors
    first = ws.cli("apply", str(plan))
    assert first.code == 5  # the pilot's bake is too short to decide: it waits at the approval
    assert ws.run().phase == Phase.AWAITING_APPROVAL and ws.candidate_weight() == 5
    for _ in range(40):  # a scheduled job every 5 virtual minutes; nobody approves
        ws.clock.advance(300)
        res = ws.cli("reconcile")
        if res.code == 3:
            break
        assert res.code == 0 and "awaiting_approval" in res.out
    assert res.code == 3 and "demo: rolled_back" in res.out
    assert ws.run().phase == Phase.ROLLED_BACK and ws.candidate_weight() == 0


@pytest.mark.slow  # about a second: a bake reconciled piece by piece
def test_reconcile_advances_a_bake_a_piece_at_a_time(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    seen = []
    for _ in range(30):
        ws.clock.advance(30)
        res = ws.cli("reconcile", "-o", "json")
        assert res.code == 0
        seen.append(res.json()["rollouts"][0]["result"])
        if seen[-1] == "completed":
            break
    assert seen[-1] == "completed" and ws.candidate_weight() == 100
    assert "progressing" in seen  # it took several passes, each doing what was due


def test_nothing_to_reconcile_and_unknown_names(ws: Workspace) -> None:
    assert ws.cli("reconcile").code == 0
    assert not ws.db.exists()  # a read of nothing creates nothing
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    res = ws.cli("reconcile", "nope")
    assert res.code == 1 and "nope: unknown" in res.out
