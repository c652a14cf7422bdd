"""`rollout retry NAME` in process."""

from __future__ import annotations

import pytest

from rollout.records import Phase
from tests.commands.conftest import Workspace


def test_retry_starts_a_new_attempt_that_apply_drives(ws: Workspace) -> None:
    plan = ws.write_plan(candidate_error=0.1)
    assert ws.cli("apply", str(plan)).code == 3
    res = ws.cli("retry", "demo", "--reason", "provider incident")
    assert res.code == 0, res.err
    assert res.out.startswith("demo: attempt 2 is ready (attempt 1 stays in the history)")
    assert f"rollout apply {plan}" in res.out
    run = ws.run()
    assert run.attempt == 2 and run.phase == Phase.PENDING and run.step_index == 0
    assert run.created_at == ws.clock.now()
    (ev,) = ws.store().history("demo")
    assert "with `rollout retry` (provider incident)" in ev.message
    assert ev.data["previous_attempt"] == 1
    plan.write_text(plan.read_text().replace("error_rate: 0.1}", "error_rate: 0.01}"))
    assert ws.cli("apply", str(plan)).code == 0  # a changed plan: attempt 3
    assert ws.run().phase == Phase.COMPLETED


def test_retry_after_an_abort(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    assert ws.cli("abort", "demo").code == 0
    doc = ws.cli("retry", "demo", "-o", "json").json()
    assert doc["schema"] == "rollout.retry/v1"
    assert doc["attempt"] == 2 and doc["previous_attempt"] == 1 and doc["phase"] == "pending"
    assert ws.cli("apply", str(ws.write_plan())).code == 0  # same plan: drives attempt 2
    assert ws.run().attempt == 2 and ws.candidate_weight() == 100


@pytest.mark.parametrize("until", [None, "pilot"])
def test_only_a_rolled_back_or_aborted_rollout_can_be_retried(
    ws: Workspace, until: str | None
) -> None:
    args = ["apply", str(ws.write_plan())] + (["--until", until] if until else [])
    assert ws.cli(*args).code == 0
    phase = ws.run().phase.value
    res = ws.cli("retry", "demo")
    assert res.code == 2
    assert res.err == (
        f"error: demo is {phase}: only a rolled-back or aborted rollout can be retried\n"
    )
    assert ws.run().attempt == 1


def test_retry_of_an_unknown_name_creates_no_store(ws: Workspace) -> None:
    assert ws.cli("retry", "demo").code == 2
    assert not ws.db.exists()
