"""Runs the StateStore conformance suite (rollout.testing.state) against every backend: the
`store` fixture of conftest.py is parametrized over memory, sqlite and postgres."""

from __future__ import annotations

from rollout.testing.state import StateStoreConformance


class TestStateStores(StateStoreConformance):
    pass
