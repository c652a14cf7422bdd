"""Fixtures for the state-store conformance suite: one `store` per backend, a fake clock, and a
real PostgreSQL server started on loopback for the session (skipped if no binaries are found).

Set ROLLOUT_REQUIRE_POSTGRES=1 (CI does) to turn a missing PostgreSQL into a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.clock import FakeClock
from rollout.testing import tiny_spec


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian/Ubuntu keep the server binaries out of PATH, one directory per major version.
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as; None: run as ourselves. PostgreSQL refuses to run as
    root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid
    useradd = shutil.which("useradd")
    if useradd:
        subprocess.run(
            [useradd, "--system", "--no-create-home", "rollout-pg"],
            check=False,
            capture_output=True,
        )
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam("rollout-pg")
            return pw.pw_uid, pw.pw_gid
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, root: Path, postgres: str, initdb: str, ids: tuple[int, int] | None) -> None:
        self.root, self.postgres, self.initdb, self.ids = root, postgres, initdb, ids
        self.data = root / "data"
        self.log = root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def _as_user(self) -> dict[str, Any]:
        if self.ids is None:
            return {}
        return {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}

    def start(self) -> None:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                "rollout",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
            env=env,
            **self._as_user(),
        )
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            self._spawn(env)
            if self._wait_ready():
                return
        raise RuntimeError(f"PostgreSQL did not start; log:\n{self.log.read_text()[-3000:]}")

    def _spawn(self, env: dict[str, str]) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.postgres,
                    "-D",
                    str(self.data),
                    "-k",
                    str(self.root),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=60",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
                **self._as_user(),
            )

    def down(self) -> None:
        """Fast shutdown (SIGINT); the data directory stays, so `up()` can start it again."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def up(self) -> None:
        """Start again on the same port with the same data (an outage ends)."""
        self._spawn({**os.environ, "LC_ALL": "C", "LANG": "C"})
        if not self._wait_ready():
            raise RuntimeError(f"PostgreSQL did not restart:\n{self.log.read_text()[-2000:]}")

    def _wait_ready(self, deadline_s: float = 60.0) -> bool:
        import psycopg

        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def url(self, db: str) -> str:
        return f"postgresql://rollout@127.0.0.1:{self.port}/{db}"

    def create_db(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("ROLLOUT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"ROLLOUT_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def launch(prefix: str = "rollout-pg-") -> PgServer:
    """A fresh server on a free loopback port; skipped (failed under ROLLOUT_REQUIRE_POSTGRES=1)
    when psycopg or the server binaries are missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'rollout-llm[postgres]')")
    postgres, initdb = _find_bin("postgres"), _find_bin("initdb")
    if not postgres or not initdb:
        _unavailable(
            "PostgreSQL server binaries (postgres, initdb) not found on PATH or in "
            "/usr/lib/postgresql/*/bin; install Debian's `postgresql` package to run these tests"
        )
    assert postgres and initdb
    ids = _server_user()
    if os.geteuid() == 0 and ids is None:
        _unavailable("running as root and no unprivileged user (postgres, nobody) for the server")
    # Not under pytest's tmp_path: that tree is private to us, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if ids is not None:
        os.chown(root, *ids)
    server = PgServer(root, postgres, initdb, ids)
    try:
        server.start()
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        server.stop()
        detail = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"could not start PostgreSQL: {exc} {detail.decode(errors='replace')}")
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = launch()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.create_db()


def _memory(clock: FakeClock, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from rollout.state.memory import MemoryStore

    return MemoryStore(now=clock.now)


def _sqlite(clock: FakeClock, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from rollout.state.sqlite import SQLiteStore

    return SQLiteStore(tmp_path / "state" / "state.db", now=clock.now)


def _postgres(clock: FakeClock, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from rollout.state.postgres import PostgresStore

    return PostgresStore(request.getfixturevalue("pg_url"), now=clock.now)


BACKENDS: dict[str, Callable[[FakeClock, pytest.FixtureRequest, Path], Any]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow]),
    ]
)
def store(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Any:
    return BACKENDS[request.param](clock, request, tmp_path)


# -- real processes against one store (sqlite, postgres) --------------------------------------

WORKER = Path(__file__).with_name("_worker.py")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def concurrent_commits(url: str, workers: int, count: int) -> list[dict[str, Any]]:
    """Start `workers` processes, release them together, each makes `count` commits."""
    procs = [_spawn(url, "commit", "race", str(count)) for _ in range(workers)]
    for p in procs:  # all imported and connected before any commits: maximal contention
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


def holding_process(url: str, name: str) -> subprocess.Popen[str]:
    """A process that holds `name`'s lease until killed."""
    p = _spawn(url, "hold", name)
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if line != "held":
        p.kill()
        raise AssertionError(f"holder did not start: {line} {p.communicate()[1]}")
    return p


def check_race(
    store: Any, url: str, workers: int = 3, count: int = 20, precreate: bool = True
) -> list[dict[str, Any]]:
    """Processes race to commit: exactly one wins per revision and no event is lost.

    precreate=False: the store is first touched by the racing workers (creation, migration and
    the first commit are raced too); do not use `store` before calling.
    """
    from rollout.records import Event, Plan, Run

    first = 0
    if precreate:
        t = datetime(2026, 11, 22, tzinfo=UTC)
        plan = Plan(name="race", plan_hash="h", steps=(), spec=tiny_spec("race"), fingerprints={})
        store.commit(
            Run(name="race", plan_hash="h", plan=plan, created_at=t, updated_at=t),
            [Event(kind="phase", at=t, message="start")],
            expected_revision=0,
        )
        first = 1
    results = concurrent_commits(url, workers, count)
    total = workers * count
    wanted = list(range(first, first + total))  # the revision each winning commit started from
    run = store.load("race")
    assert run is not None and run.revision == first + total
    events = store.history("race", limit=0)
    assert [e.seq for e in events] == list(range(1, first + total + 1))  # gap-free, in order
    raced = events[first:]
    assert sorted(e.data["base"] for e in raced) == wanted  # one winner per revision
    assert sorted(b for r in results for b in r["wins"]) == wanted  # each claimed win is stored
    for r in results:  # under the pid of the process that claimed it
        assert {e.data["base"] for e in raced if e.data["pid"] == r["pid"]} == set(r["wins"])
    return results


@pytest.fixture
def race() -> Callable[..., list[dict[str, Any]]]:
    return check_race


@pytest.fixture
def holding() -> Callable[[str, str], subprocess.Popen[str]]:
    return holding_process
