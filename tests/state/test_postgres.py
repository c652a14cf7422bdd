"""PostgreSQL specifics, on a real server (conftest.py starts one): schema version, errors that
never show a password, real processes racing and a killed lease holder."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import pytest

from rollout.errors import LeaseHeld, StateError
from rollout.records import Holder
from rollout.state import open_store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_open_store_and_schema_version(pg_url: str) -> None:
    import psycopg

    from rollout.state.postgres import SCHEMA_VERSION, PostgresStore

    store = open_store(pg_url)
    assert isinstance(getattr(store, "inner", store), PostgresStore)  # behind the masking wrapper
    assert store.load("x") is None
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM rollout_schema").fetchall() == [(SCHEMA_VERSION,)]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'rollout_%'"
            )
        }
    assert tables == {
        "rollout_schema",
        "rollout_runs",
        "rollout_plans",
        "rollout_events",
        "rollout_leases",
    }
    open_store(pg_url).runs()  # a second client: migration is a no-op
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM rollout_schema").fetchone() == (1,)


def test_refuses_a_newer_schema(pg_url: str) -> None:
    import psycopg

    open_store(pg_url).load("x")
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE rollout_schema SET version = 99")
    with pytest.raises(StateError, match=r"schema version 99.*upgrade rollout"):
        open_store(pg_url).load("x")


def test_unreachable_server_is_a_state_error_without_the_password() -> None:
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = open_store(f"postgresql://u:hunter2secret@127.0.0.1:{port}/db")
    with pytest.raises(StateError) as info:
        store.load("x")
    msg = str(info.value)
    assert "hunter2secret" not in msg and f"127.0.0.1:{port}" in msg and "reachable" in msg


def test_processes_racing_to_commit(pg_url: str, race: Callable[..., Any]) -> None:
    race(open_store(pg_url), pg_url, workers=3, count=15)


def test_processes_creating_the_schema_at_once(pg_url: str, race: Callable[..., Any]) -> None:
    race(open_store(pg_url), pg_url, workers=4, count=5, precreate=False)


def test_lease_of_a_killed_process_is_taken_over(
    pg_url: str, holding: Callable[[str, str], Any]
) -> None:
    store = open_store(pg_url)
    proc = holding(pg_url, "quickstart")
    me = Holder(user="me", host=socket.gethostname(), pid=os.getpid())
    try:
        with pytest.raises(LeaseHeld, match=f"pid {proc.pid} since"), store.lease("quickstart", me):
            pass
    finally:
        proc.kill()  # like kill -9: no chance to release
        proc.wait()
    with store.lease("quickstart", me, ttl=60):
        assert store.holder("quickstart").pid == os.getpid()  # type: ignore[attr-defined]


def test_a_host_whose_clock_runs_ahead_cannot_take_a_live_holders_lease(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expiry is judged by the server's now(): this host's clock, 60 s ahead of the holder's
    30 s lease, would call it expired if the client's time were used."""
    from datetime import timedelta

    from rollout.state import _common

    holder = open_store(pg_url)
    alice = Holder(user="alice", host="ci-7", pid=4242)
    bob = Holder(user="bob", host="laptop", pid=1)
    with holder.lease("ahead", alice, ttl=30):
        real = _common.utcnow
        monkeypatch.setattr(_common, "utcnow", lambda: real() + timedelta(seconds=60))
        ahead = open_store(pg_url)
        with pytest.raises(LeaseHeld, match="alice@ci-7 pid 4242"), ahead.lease("ahead", bob):
            pass
        assert holder.holder("ahead").user == "alice"  # type: ignore[attr-defined]
