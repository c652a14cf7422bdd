"""`rollout list` in process."""

from __future__ import annotations

import pytest

from tests.commands.conftest import Workspace


def test_no_store_means_no_rollouts_and_nothing_is_created(ws: Workspace) -> None:
    res = ws.cli("list")
    assert res.code == 0
    assert res.out == "no rollouts yet (rollout apply PLAN starts one)\n"
    assert not ws.db.exists()
    doc = ws.cli("list", "-o", "json").json()
    assert doc == {"schema": "rollout.list/v1", "rollouts": []}


@pytest.mark.slow  # about a second: several rollouts
def test_one_row_per_rollout(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0
    bad = ws.root / "bad.yaml"
    bad.write_text(ws.write_plan(candidate_error=0.1).read_text().replace("demo", "bad", 1))
    assert ws.cli("apply", str(bad)).code == 3
    lines = ws.cli("list").out.splitlines()
    assert lines[0].split() == ["NAME", "ATTEMPT", "PHASE", "STEP", "STAGE", "CANDIDATE", "UPDATED"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert set(rows) == {"demo", "bad"}
    assert rows["demo"][2:4] == ["completed", "7/7"] and rows["demo"][5] == "100%"
    assert rows["bad"][2] == "rolled_back" and rows["bad"][5] == "0%"
    assert rows["demo"][6] == ws.run().updated_at.isoformat(timespec="seconds")


def test_list_json(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    doc = ws.cli("list", "-o", "json").json()
    (r,) = doc["rollouts"]
    assert r["name"] == "demo" and r["phase"] == "progressing" and r["stage"] == "expansion"
