"""The StateStore conformance suite: every backend (memory, sqlite, postgres, a plugin's) must
pass it, because the runner, abort and the control verbs rely on exactly these rules.

A plugin's tests subclass `StateStoreConformance` and give it one fixture, `store`, built with
the suite's `clock` fixture (a FakeClock, so leases expire without waiting):

    from rollout.testing.state import StateStoreConformance

    class TestMyStore(StateStoreConformance):
        @pytest.fixture
        def store(self, clock, tmp_path):
            return MyStore(tmp_path / "db", now=clock.now)

Outside pytest, `check_state_store(make_store)` runs every check, each on a fresh store made by
`make_store(clock)`, and raises AssertionError on the first that does not hold. Beyond the
Protocol the suite uses `holder(name)` (who holds the lease), which `rollout status` reads.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rollout.clock import FakeClock
from rollout.errors import LeaseHeld, StaleState
from rollout.records import Event, Holder, Intent, Phase, Plan, Run, Step, Weights
from rollout.testing._check import fixture, raises
from rollout.testing.fakes import tiny_spec

T0 = datetime(2026, 11, 22, 10, 1, 2, 123456, tzinfo=UTC)


def make_plan(name: str = "quickstart", plan_hash: str = "h1") -> Plan:
    return Plan(
        name=name,
        plan_hash=plan_hash,
        steps=(
            Step(kind="preflight"),
            Step(kind="set_weight", stage="pilot", weight=5),
            Step(
                kind="analyze",
                stage="pilot",
                weight=5,
                duration=1800,
                interval=60,
                gates=("error-rate", "p95-latency"),
                min_requests=200,
            ),
            Step(kind="approval", stage="expansion"),
            Step(kind="promote"),
        ),
        spec=tiny_spec(name),
        fingerprints={"baseline": "a" * 64, "candidate": "b" * 64},
        source="plans/quickstart.yaml",
    )


def make_run(name: str = "quickstart", attempt: int = 1, **kw: Any) -> Run:
    base: dict[str, Any] = dict(
        name=name,
        attempt=attempt,
        plan_hash="h1",
        plan=make_plan(name),
        created_at=T0,
        updated_at=T0,
    )
    return Run(**{**base, **kw})


def ev(kind: str, message: str, **data: Any) -> Event:
    return Event(kind=kind, at=T0, message=message, actor="alice@ci-7", data=data)


def holder(user: str = "alice", host: str = "ci-7", pid: int = 4242) -> Holder:
    return Holder(user=user, host=host, pid=pid)


def unused_pid() -> int:
    """A pid that names no process now (counting down from the top of the pid range, where the
    kernel hands pids out last), found without starting a process."""
    pid_max = Path("/proc/sys/kernel/pid_max")
    top = int(pid_max.read_text()) if pid_max.exists() else 99_999
    for pid in range(top - 1, 300, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:  # it exists, owned by someone else
            continue
    raise AssertionError("no free pid found")


def start(store: Any, name: str = "quickstart", attempt: int = 1) -> Run:
    return store.commit(
        make_run(name, attempt), [ev("phase", f"attempt {attempt} started")], expected_revision=0
    )


# -- runs -------------------------------------------------------------------------------------


def check_round_trip_keeps_every_field(store: Any, clock: FakeClock) -> None:
    cet = timezone(timedelta(hours=1))
    run = make_run(
        phase=Phase.AWAITING_APPROVAL,
        step_index=3,
        step_started_at=datetime(2026, 11, 22, 11, 0, 0, 1, tzinfo=cet),
        desired=Weights.of(5),
        intent=Intent(action="promote", actor="bob@laptop", at=T0, reason="looks good: ünïcode"),
        gates={"error-rate": {"n": [10, 20], "llr": -0.5, "nested": {"x": None}}},
        verdicts={"error-rate": {"verdict": "pass", "value": 0.01}},
        last_tick_at=T0 + timedelta(minutes=5),
        extensions=2,
        approved=("expansion",),
        exposure={"pilot": 1234.5},
        message="waiting for approval",
        updated_at=T0 + timedelta(hours=1),
    )
    stored = store.commit(run, [], expected_revision=0)
    assert stored.revision == 1
    loaded = store.load("quickstart")
    assert loaded == stored
    assert loaded.plan == make_plan()
    assert loaded.step_started_at == run.step_started_at  # the same instant, tz-aware
    assert loaded.intent is not None and loaded.intent.at.tzinfo is not None
    assert loaded.model_dump() == run.model_copy(update={"revision": 1}).model_dump()


def check_load_unknown_is_none(store: Any, clock: FakeClock) -> None:
    assert store.load("nope") is None
    assert store.history("nope") == []
    assert store.runs() == []


def check_revision_increments(store: Any, clock: FakeClock) -> None:
    r1 = start(store)
    r2 = store.commit(r1.model_copy(update={"step_index": 1}), [], expected_revision=1)
    r3 = store.commit(r2.model_copy(update={"step_index": 2}), [], expected_revision=2)
    assert (r1.revision, r2.revision, r3.revision) == (1, 2, 3)
    loaded = store.load("quickstart")
    assert (loaded.revision, loaded.step_index) == (3, 2)


def check_stale_commit_raises_and_writes_nothing(store: Any, clock: FakeClock) -> None:
    r1 = start(store)
    store.commit(r1.model_copy(update={"step_index": 1}), [ev("step", "one")], expected_revision=1)
    with raises(StaleState, match="revision"):
        store.commit(
            r1.model_copy(update={"step_index": 9}), [ev("step", "lost")], expected_revision=1
        )
    assert store.load("quickstart").step_index == 1
    assert [e.message for e in store.history("quickstart")] == ["attempt 1 started", "one"]


def check_commit_with_nothing_stored_needs_revision_zero(store: Any, clock: FakeClock) -> None:
    with raises(StaleState):
        store.commit(make_run(), [], expected_revision=3)
    assert store.load("quickstart") is None


def check_new_attempt_with_revision_zero(store: Any, clock: FakeClock) -> None:
    start(store)
    with raises(StaleState, match="attempt"):
        start(store, attempt=1)  # the same attempt again: someone else started it first
    r2 = start(store, attempt=2)
    assert (r2.attempt, r2.revision) == (2, 1)
    assert store.load("quickstart").attempt == 2
    with raises(StaleState):
        start(store, attempt=2)
    with raises(StaleState):  # the old attempt can no longer be written
        store.commit(make_run(attempt=1), [], expected_revision=1)


def check_runs_lists_latest_attempts(store: Any, clock: FakeClock) -> None:
    start(store, "b-rollout")
    start(store, "a-rollout")
    start(store, "a-rollout", attempt=2)
    runs = store.runs()
    assert [(r.name, r.attempt) for r in runs] == [("a-rollout", 2), ("b-rollout", 1)]


# -- history ----------------------------------------------------------------------------------


def check_history_order_seq_and_limit(store: Any, clock: FakeClock) -> None:
    run = start(store)
    for i in range(3):
        run = store.commit(
            run,
            [ev("verdict", f"tick {i}", i=i), ev("weights", f"w {i}")],
            expected_revision=run.revision,
        )
    hist = store.history("quickstart")
    assert [e.message for e in hist] == [
        "attempt 1 started",
        "tick 0",
        "w 0",
        "tick 1",
        "w 1",
        "tick 2",
        "w 2",
    ]
    seqs = [e.seq for e in hist]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {e.attempt for e in hist} == {1}
    assert hist[1].data == {"i": 0} and hist[1].actor == "alice@ci-7" and hist[1].at == T0
    assert [e.message for e in store.history("quickstart", limit=2)] == ["tick 2", "w 2"]


def check_history_latest_attempt_unless_all(store: Any, clock: FakeClock) -> None:
    start(store)
    store.commit(make_run(attempt=1), [ev("phase", "rolled back")], expected_revision=1)
    start(store, attempt=2)
    assert [e.message for e in store.history("quickstart")] == ["attempt 2 started"]
    every = store.history("quickstart", all_attempts=True)
    assert [(e.attempt, e.message) for e in every] == [
        (1, "attempt 1 started"),
        (1, "rolled back"),
        (2, "attempt 2 started"),
    ]
    assert [e.message for e in store.history("quickstart", limit=1, all_attempts=True)] == [
        "attempt 2 started"
    ]


def check_large_event_data_survives(store: Any, clock: FakeClock) -> None:
    data = {
        "samples": [i / 7 for i in range(20_000)],
        "text": "ü" * 50_000,
        "deep": {"a": [{"b": 1}]},
    }
    run = start(store)
    store.commit(run, [ev("verdict", "big", **data)], expected_revision=1)
    assert store.history("quickstart", limit=1)[0].data == data


# -- leases -----------------------------------------------------------------------------------


def check_lease_excludes_a_second_holder(store: Any, clock: FakeClock) -> None:
    with store.lease("quickstart", holder(), ttl=60):
        with (
            raises(LeaseHeld) as info,
            store.lease("quickstart", holder("bob", "laptop", 1)),
        ):
            pass
        msg = str(info.value)
        assert "alice@ci-7 pid 4242" in msg and "since 2026-01-01T00:00:00" in msg
        assert "expires 2026-01-01T00:01:00" in msg
        current = store.holder("quickstart")
        assert (current.user, current.pid, current.expires) == (
            "alice",
            4242,
            clock.now() + timedelta(seconds=60),
        )
        # Another rollout is independent.
        with store.lease("other", holder("bob", "laptop", 1), ttl=60):
            pass
    with store.lease("quickstart", holder("bob", "laptop", 1), ttl=60):  # released on exit
        pass


def check_lease_released_when_the_body_raises(store: Any, clock: FakeClock) -> None:
    with raises(RuntimeError), store.lease("quickstart", holder(), ttl=60):
        raise RuntimeError("boom")
    with store.lease("quickstart", holder("bob", "laptop", 1), ttl=60):
        pass


def check_lease_taken_over_after_expiry(store: Any, clock: FakeClock) -> None:
    first = store.lease("quickstart", holder(), ttl=60)
    a = first.__enter__()
    clock.advance(59)
    with raises(LeaseHeld):
        store.lease("quickstart", holder("bob", "laptop", 1), ttl=60).__enter__()
    clock.advance(2)
    with store.lease("quickstart", holder("bob", "laptop", 1), ttl=60):
        with raises(LeaseHeld, match=r"lost the lease.*bob@laptop"):
            a.renew()
        first.__exit__(None, None, None)  # the old holder's exit must not free bob's lease
        with raises(LeaseHeld, match="bob@laptop"):
            store.lease("quickstart", holder("carol", "ci-9", 2), ttl=60).__enter__()


def check_renew_extends_expiry(store: Any, clock: FakeClock) -> None:
    with store.lease("quickstart", holder(), ttl=60) as lease:
        clock.advance(50)
        lease.renew()
        clock.advance(50)  # 100 s after acquiring, 50 s after renewing: still held
        with raises(LeaseHeld):
            store.lease("quickstart", holder("bob", "laptop", 1), ttl=60).__enter__()
        clock.advance(11)
        with store.lease("quickstart", holder("bob", "laptop", 1), ttl=60):
            pass


def check_lease_of_a_dead_process_on_this_host_is_taken_over(store: Any, clock: FakeClock) -> None:
    dead_pid = unused_pid()  # like a process killed with -9 that left its lease behind
    host = socket.gethostname()
    ghost = store.lease("quickstart", holder("ghost", host, dead_pid), ttl=3600)
    ghost.__enter__()  # never exited, like a process killed with -9 (keep a reference: GC releases)
    with (
        store.lease("quickstart", holder("bob", host, os.getpid()), ttl=60),
        raises(LeaseHeld, match=f"bob@{host} pid {os.getpid()}"),
    ):
        store.lease("quickstart", holder("carol", "elsewhere", 1), ttl=60).__enter__()


def check_lease_of_a_live_process_on_this_host_is_kept(store: Any, clock: FakeClock) -> None:
    host = socket.gethostname()
    with (
        store.lease("quickstart", holder("alice", host, os.getppid()), ttl=60),
        raises(LeaseHeld, match=f"alice@{host} pid {os.getppid()}"),
    ):
        store.lease("quickstart", holder("bob", host, os.getpid()), ttl=60).__enter__()


def check_dead_pid_on_another_host_is_not_taken_over(store: Any, clock: FakeClock) -> None:
    # Whether that pid lives can only be known on its own host: wait for the expiry instead.
    held = store.lease("quickstart", holder("alice", "another-host", 2**22 + 1), ttl=60)
    held.__enter__()
    with raises(LeaseHeld):
        store.lease(
            "quickstart", holder("bob", socket.gethostname(), os.getpid()), ttl=60
        ).__enter__()


def check_same_holder_may_retake_its_lease(store: Any, clock: FakeClock) -> None:
    with store.lease("quickstart", holder(), ttl=60), store.lease("quickstart", holder(), ttl=60):
        pass


CHECKS: tuple[Callable[[Any, FakeClock], None], ...] = tuple(
    f for name, f in sorted(globals().items()) if name.startswith("check_") and callable(f)
)


def check_state_store(make_store: Callable[[FakeClock], Any]) -> None:
    """Every check, each on a fresh store around a fresh FakeClock."""
    for check in CHECKS:
        clock = FakeClock()
        check(make_store(clock), clock)


class StateStoreConformance:
    """Subclass in a test module and provide the `store` fixture, in the class or a conftest.py
    (see the module docstring); pytest's own "fixture 'store' not found" says when it is missing."""

    @fixture
    def clock(self) -> FakeClock:
        return FakeClock()


def _as_test(check: Callable[[Any, FakeClock], None]) -> Callable[..., None]:
    def test(self: StateStoreConformance, store: Any, clock: FakeClock) -> None:
        check(store, clock)

    test.__name__ = test.__qualname__ = "test_" + check.__name__.removeprefix("check_")
    test.__doc__ = check.__doc__
    return test


for _check in CHECKS:
    setattr(
        StateStoreConformance, "test_" + _check.__name__.removeprefix("check_"), _as_test(_check)
    )


# -- claims (rollout.state.Claims: what `rollout controller` replicas share) ------------------
# Optional for a backend: a store with `sync`, `claim_due` and `reschedule` must pass these.
# `ClaimsConformance` / `check_claims(make_store)` work as the suite above does.


def _names(claims: list[Any]) -> list[str]:
    return sorted(c.name for c in claims)


def claims_check_new_active_runs_are_due_and_claimed_once(store: Any, clock: FakeClock) -> None:
    start(store, "a")
    start(store, "b")
    done = start(store, "c")
    store.commit(done.model_copy(update={"phase": Phase.COMPLETED}), [], expected_revision=1)
    store.sync(T0)
    first = store.claim_due("r1", T0, limit=10, ttl=60)
    assert _names(first) == ["a", "b"], "finished runs are never scheduled"
    assert all(c.previous is None and c.due == T0 for c in first)
    assert store.claim_due("r2", T0, limit=10, ttl=60) == [], "a live claim is skipped"


def claims_check_limit_is_kept(store: Any, clock: FakeClock) -> None:
    for n in ("a", "b", "c"):
        start(store, n)
    store.sync(T0)
    assert len(store.claim_due("r1", T0, limit=2, ttl=60)) == 2
    assert len(store.claim_due("r2", T0, limit=2, ttl=60)) == 1


def claims_check_an_expired_claim_is_taken_over_and_named(store: Any, clock: FakeClock) -> None:
    start(store, "a")
    store.sync(T0)
    assert _names(store.claim_due("r1", T0, limit=5, ttl=60)) == ["a"]
    assert store.claim_due("r2", T0 + timedelta(seconds=59), limit=5, ttl=60) == []
    late = store.claim_due("r2", T0 + timedelta(seconds=60), limit=5, ttl=60)
    assert _names(late) == ["a"] and late[0].previous == "r1"
    # the old owner's reschedule is ignored: it lost the claim
    store.reschedule("a", "r1", T0 + timedelta(hours=1), (1, 1))
    assert store.claim_due("r3", T0 + timedelta(seconds=61), limit=5, ttl=60) == []


def claims_check_reschedule_sets_the_next_due_time(store: Any, clock: FakeClock) -> None:
    run = start(store, "a")
    store.sync(T0)
    store.claim_due("r1", T0, limit=5, ttl=60)
    later = T0 + timedelta(seconds=30)
    store.reschedule("a", "r1", later, (run.attempt, run.revision))
    store.sync(T0 + timedelta(seconds=1))  # nothing changed: the due time stands
    assert store.claim_due("r1", T0 + timedelta(seconds=29), limit=5, ttl=60) == []
    again = store.claim_due("r2", later, limit=5, ttl=60)
    assert _names(again) == ["a"] and again[0].due == later and again[0].previous is None
    store.reschedule("a", "r2", None, (run.attempt, run.revision))  # finished: off the schedule
    assert store.claim_due("r1", later + timedelta(days=1), limit=5, ttl=60) == []


def claims_check_another_writer_makes_a_rollout_due_at_once(store: Any, clock: FakeClock) -> None:
    run = start(store, "a")
    store.sync(T0)
    store.claim_due("r1", T0, limit=5, ttl=60)
    store.reschedule("a", "r1", T0 + timedelta(hours=1), (run.attempt, run.revision))
    paused = run.model_copy(update={"phase": Phase.PAUSED})
    store.commit(paused, [ev("intent", "pause")], expected_revision=run.revision)  # a verb
    now = T0 + timedelta(seconds=5)
    store.sync(now)
    due = store.claim_due("r1", now, limit=5, ttl=60)
    assert _names(due) == ["a"] and due[0].due == now


CLAIMS_CHECKS: tuple[Callable[[Any, FakeClock], None], ...] = tuple(
    f for name, f in sorted(globals().items()) if name.startswith("claims_check_") and callable(f)
)


def check_claims(make_store: Callable[[FakeClock], Any]) -> None:
    """Every claims check, each on a fresh store around a fresh FakeClock."""
    for check in CLAIMS_CHECKS:
        clock = FakeClock()
        check(make_store(clock), clock)


class ClaimsConformance:
    """As StateStoreConformance, for a store that also implements rollout.state.Claims."""

    @fixture
    def clock(self) -> FakeClock:
        return FakeClock()


def _as_claims_test(check: Callable[[Any, FakeClock], None]) -> Callable[..., None]:
    def test(self: ClaimsConformance, store: Any, clock: FakeClock) -> None:
        check(store, clock)

    test.__name__ = test.__qualname__ = "test_" + check.__name__.removeprefix("claims_check_")
    test.__doc__ = check.__doc__
    return test


for _check in CLAIMS_CHECKS:
    setattr(
        ClaimsConformance,
        "test_claims_" + _check.__name__.removeprefix("claims_check_"),
        _as_claims_test(_check),
    )
