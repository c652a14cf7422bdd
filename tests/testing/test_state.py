"""The StateStore suite's plain runner passes the memory store and catches a store that does
not guard its revisions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rollout.records import Event, Run
from rollout.state._common import pid_alive
from rollout.state.memory import MemoryStore
from rollout.testing.state import CHECKS, check_state_store, unused_pid


def test_memory_store_passes() -> None:
    check_state_store(lambda clock: MemoryStore(now=clock.now))


def test_every_check_is_collected() -> None:
    assert len(CHECKS) >= 18
    assert all(c.__name__.startswith("check_") for c in CHECKS)


class LastWriterWins(MemoryStore):
    """Ignores expected_revision: two runners would overwrite each other."""

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        stored = self.load(run.name)
        return super().commit(run, events, expected_revision=stored.revision if stored else 0)


def test_a_store_without_optimistic_locking_fails() -> None:
    with pytest.raises(AssertionError):
        check_state_store(lambda clock: LastWriterWins(now=clock.now))


def test_unused_pid_names_no_process() -> None:
    pid = unused_pid()
    assert pid > 300 and not pid_alive(pid)
