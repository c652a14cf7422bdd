"""A real PostgreSQL server for the e2e suites that can be stopped and started again in place
(same data directory, same port): `pg = launch()` ... `pg.down()`, `pg.up()`.

It is tests/state/conftest.py's PgServer and launch (initdb from PATH or /usr/lib/postgresql, run
as an unprivileged user when we are root); skipped (or failed with ROLLOUT_REQUIRE_POSTGRES=1)
when no server binaries are found.
"""

from __future__ import annotations

from tests.state.conftest import PgServer
from tests.state.conftest import launch as _launch


def launch() -> PgServer:
    return _launch(prefix="rollout-pg-e2e-")
