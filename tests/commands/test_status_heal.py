"""Level-triggered terminal states: whoever looks at an aborted run heals a router that
disagrees."""

from __future__ import annotations

import json

from rollout.records import Phase
from tests.commands.conftest import Workspace


def _set_candidate(ws: Workspace, weight: int) -> None:
    path = ws.root / "routes.json"
    doc = json.loads(path.read_text())
    for v in doc["variants"]:
        v["weight"] = weight if v["name"] == "candidate" else 100 - weight
    path.write_text(json.dumps(doc))


def test_status_of_an_aborted_run_re_asserts_the_baseline_and_says_so(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    assert ws.cli("abort", "demo").code == 0
    _set_candidate(ws, 5)  # a stale writer, or a person, put the candidate back
    res = ws.cli("status", "demo")
    assert res.code == 0
    assert "router serves 5 % candidate; expected 0 %" in res.err
    assert ws.candidate_weight() == 0
    last = ws.store().history("demo", limit=1)[0]
    assert last.kind == "drift" and "re-asserted and verified" in last.message
    assert ws.cli("status", "demo").err == ""  # agreed now: nothing to say


def test_status_of_a_moving_run_shows_the_disagreement_without_acting(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    _set_candidate(ws, 0)
    res = ws.cli("status", "demo")
    assert "router serves 0 % candidate; expected 5 %" in res.err
    assert ws.candidate_weight() == 0  # the runner heals its own drift; a look does not race it
    assert ws.run().phase == Phase.PROGRESSING


def test_apply_on_an_aborted_run_re_asserts_the_baseline(ws: Workspace) -> None:
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    assert ws.cli("abort", "demo").code == 0
    _set_candidate(ws, 5)
    assert ws.cli("apply", str(plan)).code == 4  # still aborted ...
    assert ws.candidate_weight() == 0  # ... and the router agrees again
