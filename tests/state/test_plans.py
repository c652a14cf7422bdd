"""Plan snapshots stored once (schema 2, rollout.state.plans), on SQLite and PostgreSQL: a commit
writes the run's mutable part, a load joins the plan back, and a schema-1 database opens with
its runs intact."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.errors import StateError
from rollout.records import Event, Phase, Plan, Run, Weights
from rollout.state import plans
from rollout.testing import tiny_spec

T = datetime(2026, 11, 22, tzinfo=UTC)


def _run(name: str = "r", plan_hash: str = "h", source: str | None = None) -> Run:
    plan = Plan(
        name=name,
        plan_hash=plan_hash,
        steps=(),
        spec=tiny_spec(name),
        fingerprints={},
        source=source,
    )
    return Run(name=name, plan_hash=plan_hash, plan=plan, created_at=T, updated_at=T)


class Backend:
    """A store of one kind, plus raw SQL on its database (table names differ by backend)."""

    def __init__(self, kind: str, make: Callable[[], Any], sql: Callable[[str], list[Any]]):
        self.kind = kind
        self.make = make
        self._sql = sql

    def sql(self, statement: str) -> list[Any]:
        prefix = "rollout_" if self.kind == "postgres" else ""
        for table in ("runs", "plans"):
            statement = statement.replace("{" + table + "}", prefix + table)
        return self._sql(statement)


def _sqlite(tmp_path: Path) -> Backend:
    from rollout.state.sqlite import SQLiteStore

    path = tmp_path / "state.db"

    def sql(statement: str) -> list[Any]:
        with closing(sqlite3.connect(path)) as db, db:
            return db.execute(statement).fetchall()

    return Backend("sqlite", lambda: SQLiteStore(path), sql)


def _postgres(url: str) -> Backend:
    import psycopg

    from rollout.state.postgres import PostgresStore

    def sql(statement: str) -> list[Any]:
        with psycopg.connect(url) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    return Backend("postgres", lambda: PostgresStore(url), sql)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return _sqlite(tmp_path)
    return _postgres(request.getfixturevalue("pg_url"))


def test_the_plan_is_stored_once_and_commits_write_only_the_mutable_part(
    backend: Backend,
) -> None:
    store = backend.make()
    run = store.commit(_run(), [], expected_revision=0)
    for i in range(1, 4):
        update = {"step_index": i, "desired": Weights.of(5 * i)}
        run = store.commit(run.model_copy(update=update), [], expected_revision=run.revision)
    assert backend.sql("SELECT count(*) FROM {plans}") == [(1,)]
    ((body, key),) = backend.sql("SELECT body, plan_key FROM {runs}")
    doc = json.loads(body) if isinstance(body, str) else body
    assert "plan" not in doc and doc["step_index"] == 3
    assert key == plans.snapshot(run.plan)[0]
    again = backend.make().load("r")  # another process: the plan joined back
    assert again == run and again.plan == run.plan


def test_a_new_process_committing_the_same_plan_adds_no_plan_row(backend: Backend) -> None:
    first = backend.make().commit(_run(), [], expected_revision=0)
    other = backend.make()  # knows no plan objects yet
    fresh = first.model_copy(
        update={"plan": Plan.model_validate_json(first.plan.model_dump_json())}
    )
    other.commit(fresh, [], expected_revision=first.revision)
    assert backend.sql("SELECT count(*) FROM {plans}") == [(1,)]


def test_plans_are_keyed_by_content_not_by_plan_hash(backend: Backend) -> None:
    """benchmarks/fleet.py renames one compiled plan: one plan hash, different specs."""
    store = backend.make()
    store.commit(_run("a", plan_hash="same"), [], expected_revision=0)
    store.commit(_run("b", plan_hash="same"), [], expected_revision=0)
    store.commit(_run("c", plan_hash="same", source="c.yaml"), [], expected_revision=0)
    assert backend.sql("SELECT count(*) FROM {plans}") == [(3,)]
    loaded = {r.name: r.plan for r in backend.make().runs()}
    assert {n: p.spec.name for n, p in loaded.items()} == {"a": "a", "b": "b", "c": "c"}
    assert loaded["c"].source == "c.yaml" and loaded["a"].source is None


def test_a_rolled_back_commit_leaves_no_plan_row_and_is_retried_in_full(
    backend: Backend,
) -> None:
    store = backend.make()
    store.commit(_run(), [], expected_revision=0)
    other = _run(source="other.yaml")
    with pytest.raises(StateError):  # stale: attempt 1 already exists
        store.commit(other, [], expected_revision=0)
    assert backend.sql("SELECT count(*) FROM {plans}") == [(1,)]
    second = other.model_copy(update={"attempt": 2})
    store.commit(second, [], expected_revision=0)  # the plan is written now, not assumed
    assert backend.sql("SELECT count(*) FROM {plans}") == [(2,)]
    loaded = backend.make().load("r")
    assert loaded is not None and loaded.plan.source == "other.yaml"


def _schema_1(backend: Backend) -> None:
    """A database as rollout with schema 1 left it: one run, its plan inside the body."""
    if backend.kind == "sqlite":
        from rollout.state.sqlite import MIGRATIONS

        for statement in MIGRATIONS[1]:
            backend.sql(statement)
        backend.sql("PRAGMA user_version = 1")
    else:
        from rollout.state.postgres import MIGRATIONS as PG

        for statement in PG[1]:
            backend.sql(statement)
        backend.sql("CREATE TABLE rollout_schema (version integer NOT NULL)")
        backend.sql("INSERT INTO rollout_schema (version) VALUES (1)")
    old = _run().model_copy(
        update={"revision": 3, "phase": Phase.PROGRESSING, "desired": Weights.of(5)}
    )
    body = old.model_dump_json().replace("'", "''")
    backend.sql(
        "INSERT INTO {runs} (name, attempt, revision, phase, plan_hash, updated_at, body)"
        f" VALUES ('r', 1, 3, 'progressing', 'h', '2026-11-22T00:00:00+00:00', '{body}')"
    )


def test_a_schema_1_database_opens_and_its_runs_load_then_move_on_commit(
    backend: Backend,
) -> None:
    _schema_1(backend)
    store = backend.make()
    run = store.load("r")
    assert run is not None and run.revision == 3 and run.desired == Weights.of(5)
    assert run.plan.spec.name == "r"
    assert [r.name for r in store.runs()] == ["r"]
    if backend.kind == "sqlite":
        assert backend.sql("PRAGMA user_version") == [(2,)]
    else:
        assert backend.sql("SELECT version FROM rollout_schema") == [(2,)]
    assert backend.sql("SELECT count(*) FROM {plans}") == [(0,)]  # nothing rewritten on open
    ev = Event(kind="phase", at=T, message="on")
    store.commit(run.model_copy(update={"step_index": 1}), [ev], expected_revision=3)
    ((body, key),) = backend.sql("SELECT body, plan_key FROM {runs}")
    assert key is not None and "plan" not in (json.loads(body) if isinstance(body, str) else body)
    again = backend.make().load("r")
    assert again is not None and again.step_index == 1 and again.plan == run.plan


def test_a_run_row_whose_plan_is_missing_is_a_state_error(tmp_path: Path) -> None:
    backend = _sqlite(tmp_path)
    backend.make().commit(_run(), [], expected_revision=0)
    backend.sql("DELETE FROM plans")  # SQLite does not enforce the reference by default
    with pytest.raises(StateError, match=r"state\.db: run row references plan .* not stored"):
        backend.make().load("r")


def test_plan_keys_forget_plans_that_are_gone() -> None:
    keys = plans.PlanKeys()
    plan = _run().plan
    keys.remember(plan, "k")
    assert keys.key_of(plan) == "k"
    assert keys.key_of(Plan.model_validate_json(plan.model_dump_json())) is None  # equal, other
    assert keys.parsed("k", "not json") is plan  # alive: no parse
    del plan
    import gc

    gc.collect()
    assert keys._keys == {}
    with pytest.raises(ValueError):
        keys.parsed("k", "not json")  # gone: parsed again
