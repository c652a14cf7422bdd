"""The Claims conformance checks (rollout.testing.state.ClaimsConformance) on SQLite and
PostgreSQL, the two stores `rollout controller` schedules in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout.clock import FakeClock
from rollout.testing.state import ClaimsConformance


class TestClaims(ClaimsConformance):
    @pytest.fixture(
        params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]
    )
    def store(self, request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Any:
        if request.param == "sqlite":
            from rollout.state.sqlite import SQLiteStore

            return SQLiteStore(tmp_path / "state.db", now=clock.now)
        from rollout.state.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_url"), now=clock.now)
        store.keep_connections()  # as the controller uses it
        return store
