"""SQLite specifics: URLs, schema version and migration, WAL, errors, real concurrent processes."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.clock import FakeClock
from rollout.errors import LeaseHeld, StateError
from rollout.records import Event, Holder, Plan, Run
from rollout.state import open_store
from rollout.state.sqlite import SCHEMA_VERSION, SQLiteStore, open_url
from rollout.testing import tiny_spec

T = datetime(2026, 11, 22, tzinfo=UTC)


def _run(name: str = "r") -> Run:
    plan = Plan(name=name, plan_hash="h", steps=(), spec=tiny_spec(name), fingerprints={})
    return Run(name=name, plan_hash="h", plan=plan, created_at=T, updated_at=T)


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_default_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    store = open_store()
    assert isinstance(store.inner, SQLiteStore)  # behind the redacting wrapper
    store.commit(_run(), [], expected_revision=0)
    assert (tmp_path / ".rollout" / "state.db").is_file()  # parent directory created


def test_absolute_url_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "deep" / "dir" / "s.db"
    store = open_url(f"sqlite:///{target}")  # sqlite:////abs/path.db
    assert store.path == target
    monkeypatch.setenv("ROLLOUT_STATE", f"sqlite:///{target}")
    env_store = open_store()
    assert isinstance(env_store.inner, SQLiteStore) and env_store.path == target


def test_bad_url_is_a_state_error() -> None:
    with pytest.raises(StateError, match="bad SQLite URL"):
        open_url("sqlite://host/x.db")


def test_schema_version_wal_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).load("x")
    with closing(_raw(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "events", "leases"} <= tables


def test_migrates_an_empty_database_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _raw(path).close()  # an existing file at user_version 0
    SQLiteStore(path).commit(_run(), [Event(kind="phase", at=T, message="x")], expected_revision=0)
    again = SQLiteStore(path)  # a new process: migration is a no-op, data intact
    assert again.load("r") is not None and len(again.history("r")) == 1


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with closing(_raw(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match=r"schema version 99.*upgrade rollout"):
        SQLiteStore(path).load("x")


def test_events_are_append_only_in_the_database(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).commit(_run(), [Event(kind="phase", at=T, message="x")], expected_revision=0)
    with closing(_raw(path)) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE events SET message = 'forged'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM events")


def test_not_a_database_is_a_state_error_with_path_and_hint(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError) as info:
        SQLiteStore(path).load("x")
    assert str(path) in str(info.value) and "--state" in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_unusable_directory_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match=r"file/s\.db"):
        SQLiteStore(tmp_path / "file" / "s.db").load("x")


def test_busy_database_is_a_state_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    store.load("x")
    with closing(sqlite3.connect(path, isolation_level=None)) as blocker:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        with pytest.raises(StateError, match="locked"):
            store.commit(_run(), [], expected_revision=0)
        blocker.execute("ROLLBACK")
    assert store.load("r") is None  # nothing half-written


@pytest.mark.slow
def test_processes_racing_to_commit(
    tmp_path: Path, race: Callable[..., list[dict[str, Any]]]
) -> None:
    path = tmp_path / "s.db"
    race(SQLiteStore(path), f"sqlite:///{path}", workers=3, count=20)


@pytest.mark.slow
def test_processes_creating_the_database_at_once(tmp_path: Path, race: Callable[..., Any]) -> None:
    # No store touched the file before the workers start: they race to create and migrate it.
    path = tmp_path / "fresh" / "s.db"
    race(SQLiteStore(path), f"sqlite:///{path}", workers=4, count=5, precreate=False)
    with closing(_raw(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_lease_of_a_killed_process_is_taken_over(
    tmp_path: Path, holding: Callable[[str, str], Any]
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    proc = holding(f"sqlite:///{path}", "quickstart")
    me = Holder(user="me", host=socket.gethostname(), pid=os.getpid())
    try:
        with pytest.raises(LeaseHeld, match=f"pid {proc.pid} since"), store.lease("quickstart", me):
            pass
    finally:
        proc.kill()  # like kill -9: no chance to release
        proc.wait()
    with store.lease("quickstart", me, ttl=60):
        assert store.holder("quickstart").pid == os.getpid()


class _Flaky:
    """A connection whose first BEGIN meets SQLite's transient "locking protocol" error."""

    def __init__(self, db: sqlite3.Connection, fail: list[int]) -> None:
        self.db, self.fail = db, fail

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("BEGIN") and self.fail[0] > 0:
            self.fail[0] -= 1
            raise sqlite3.OperationalError("locking protocol")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


@pytest.mark.parametrize("failures, survives", [(3, True), (10**9, False)])
def test_a_locking_protocol_error_on_the_way_in_is_retried_like_a_busy_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failures: int, survives: bool
) -> None:
    # A process SIGSTOPped while it holds the WAL index lock makes others' BEGIN fail with
    # SQLITE_PROTOCOL; nothing was done yet, so the store waits it out within its patience.
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "s.db", busy_timeout_ms=200, clock=clock)
    store.commit(_run(), [], expected_revision=0)
    real = store._connect
    fail = [failures]
    monkeypatch.setattr(store, "_connect", lambda: _Flaky(real(), fail))
    if survives:
        assert store.load("r") is not None
        assert fail == [0]
        assert len(clock.slept) == 3  # it waited, on the injected clock, between the tries
    else:
        with pytest.raises(StateError, match="locking protocol"):
            store.load("r")
