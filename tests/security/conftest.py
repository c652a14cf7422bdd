"""The real PostgreSQL server of the state tests, for the secrets test's PostgreSQL dump."""

from __future__ import annotations

from tests.state.conftest import pg_server, pg_url  # noqa: F401 - fixtures, used by name
