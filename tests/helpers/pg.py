"""A real PostgreSQL server for the e2e suites that can be stopped and started again in place
(same data directory, same port): `pg = PgServer.launch()` ... `pg.down()`, `pg.up()`.

Built on tests/state/conftest.py's PgServer (initdb from PATH or /usr/lib/postgresql, run as an
unprivileged user when we are root); skipped (or failed with ROLLOUT_REQUIRE_POSTGRES=1) when no
server binaries are found.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.state import conftest as state_conftest


class RestartablePg(state_conftest.PgServer):
    def down(self) -> None:
        """Fast shutdown; the data directory stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def up(self) -> None:
        """Start again on the same port with the same data."""
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
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
                    "max_connections=60",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
                **self._as_user(),
            )
        if not self._wait_ready():
            raise RuntimeError(f"PostgreSQL did not restart:\n{self.log.read_text()[-2000:]}")


def launch() -> RestartablePg:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        state_conftest._unavailable("psycopg is not installed")
    postgres = state_conftest._find_bin("postgres")
    initdb = state_conftest._find_bin("initdb")
    if not postgres or not initdb:
        state_conftest._unavailable("PostgreSQL server binaries (postgres, initdb) not found")
    assert postgres and initdb
    ids = state_conftest._server_user()
    if os.geteuid() == 0 and ids is None:
        state_conftest._unavailable("running as root and no unprivileged user for the server")
    root = Path(tempfile.mkdtemp(prefix="rollout-pg-e2e-"))
    if ids is not None:
        os.chown(root, *ids)
    server = RestartablePg(root, postgres, initdb, ids)
    try:
        server.start()
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        server.stop()
        pytest.fail(f"could not start PostgreSQL: {exc}")
    return server
