"""`rollout abort NAME` in process: the router first (restored and verified), then the record,
then the router once more; the exit code says which of them happened."""

from __future__ import annotations

from rollout.records import Phase
from tests.commands.conftest import Workspace


def _progressing(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    assert ws.candidate_weight() == 5


def test_abort_restores_the_baseline_and_records_who_and_why(ws: Workspace) -> None:
    _progressing(ws)
    res = ws.cli("abort", "demo", "--reason", "pager")
    assert res.code == 0, res.err
    assert res.out == "demo: aborted; router verified at 0% candidate / 100% baseline\n"
    assert ws.candidate_weight() == 0
    run = ws.run()
    assert run.phase == Phase.ABORTED and run.desired is not None and run.desired.candidate == 0
    events = ws.store().history("demo", limit=0)
    aborted = [e for e in events if e.kind == "phase" and "aborted by" in e.message]
    assert len(aborted) == 1 and "(pager)" in aborted[0].message
    assert aborted[0].at == ws.clock.now()  # the injected clock, not the wall clock
    assert aborted[0].data["verified"] is True and "restored and verified" in aborted[0].message
    assert run.verified is not None and run.verified.candidate == 0


def test_abort_is_idempotent(ws: Workspace) -> None:
    _progressing(ws)
    assert ws.cli("abort", "demo").code == 0
    (ws.root / "routes.json").unlink()  # someone broke the routes file since
    again = ws.cli("abort", "demo")
    assert again.code == 0 and ws.candidate_weight() == 0
    phases = [e for e in ws.store().history("demo", limit=0) if e.kind == "phase"]
    assert sum("aborted by" in e.message for e in phases) == 1  # recorded once


def test_abort_json(ws: Workspace) -> None:
    _progressing(ws)
    doc = ws.cli("abort", "demo", "-o", "json").json()
    assert doc == {
        "schema": "rollout.abort/v1",
        "name": "demo",
        "phase": "aborted",
        "weights": {"baseline": 100, "candidate": 0},
        "verified": True,
    }


def test_a_completed_rollout_cannot_be_aborted(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    res = ws.cli("abort", "demo")
    assert res.code == 2
    assert res.err.startswith("error: demo is completed: the candidate is the new baseline")
    assert ws.run().phase == Phase.COMPLETED and ws.candidate_weight() == 100


def test_an_unknown_name_without_a_store_names_the_path_and_creates_nothing(
    ws: Workspace,
) -> None:
    res = ws.cli("abort", "demo", state=False)  # the default store: .rollout/state.db here
    assert res.code == 2
    where = ws.root / ".rollout" / "state.db"
    assert res.err.startswith(f"error: no rollout named 'demo': no SQLite state store at {where}")
    assert "nothing was created" in res.err
    assert not (ws.root / ".rollout").exists()


def test_an_unknown_name_in_a_store_lists_the_known_ones_and_the_store(ws: Workspace) -> None:
    _progressing(ws)
    res = ws.cli("abort", "dmeo")
    assert res.code == 2
    assert f"no rollout named 'dmeo' in the SQLite store {ws.db}; known: demo" in res.err
    assert ws.candidate_weight() == 5  # nothing moved


def test_a_router_that_cannot_be_restored_is_loud_and_exit_1(ws: Workspace) -> None:
    _progressing(ws)
    routes = ws.root / "routes.json"
    routes.unlink()
    routes.mkdir()  # the file router cannot write its file any more
    res = ws.cli("abort", "demo")
    assert res.code == 1
    assert "ABORT INCOMPLETE for demo" in res.err and "rollout abort demo" in res.err
    assert ws.run().phase == Phase.ABORTED  # the abort itself is recorded
    last = ws.store().history("demo", limit=1)[0]
    assert last.kind == "phase" and "could NOT be restored" in last.message
    assert last.data["verified"] is False
    # The next look heals it: the router works again, abort re-asserts and verifies.
    routes.rmdir()
    again = ws.cli("abort", "demo")
    assert again.code == 0 and ws.candidate_weight() == 0
    assert ws.run().verified is not None and ws.run().verified.candidate == 0


def test_a_corrupt_store_with_plan_restores_the_baseline_and_says_it_is_unrecorded(
    ws: Workspace,
) -> None:
    plan = ws.write_plan()
    _progressing(ws)
    ws.db.write_bytes(b"this is not a database" * 100)
    bare = ws.cli("abort", "demo")
    assert bare.code == 1 and "--plan" in bare.err  # says how to do it without the store
    assert ws.candidate_weight() == 5
    res = ws.cli("abort", "demo", "--plan", str(plan))
    assert res.code == 7, res.err
    assert "ABORT NOT RECORDED for demo" in res.err and "traffic is at the baseline" in res.err
    assert ws.candidate_weight() == 0


def test_a_plan_for_another_rollout_is_refused(ws: Workspace) -> None:
    plan = ws.write_plan()
    _progressing(ws)
    res = ws.cli("abort", "other", "--plan", str(plan))
    assert res.code == 2 and "not 'other'" in res.err
    assert ws.candidate_weight() == 5
