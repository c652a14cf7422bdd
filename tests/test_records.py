"""Stored runs written by earlier releases must keep loading: the state store outlives upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rollout.records import Phase, Run, Weights
from rollout.state.sqlite import SQLiteStore

FIXTURE = Path(__file__).parent / "fixtures" / "stored_run_0.1.json"


def test_a_run_stored_by_0_1_loads_with_a_typed_plan() -> None:
    run = Run.model_validate_json(FIXTURE.read_text())
    assert run.plan.spec.analysis.interval == 5
    assert [g.name for g in run.plan.spec.gates] == ["error-rate", "log-latency"]
    assert run.desired == Weights.of(5) and run.phase == Phase.PROGRESSING


def test_a_stored_row_from_0_1_is_read_by_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    assert store.runs() == []  # creates the schema
    body = FIXTURE.read_text()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute(
            "INSERT INTO runs (name, attempt, revision, phase, plan_hash, updated_at, body) "
            "VALUES ('quickstart', 1, 3, 'progressing', 'x', '2026-12-01T00:00:00+00:00', ?)",
            (body,),
        )
    run = store.load("quickstart")
    assert run is not None and run.step_index == 3
    assert run.plan.spec.stages[0].name == "pilot"
