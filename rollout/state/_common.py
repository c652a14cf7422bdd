"""What every state store shares: lease takeover rules, the lease handle, the LeaseHeld message."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from rollout.errors import StaleState
from rollout.records import Holder, Run

Now = Callable[[], datetime]

# How long a lease lives without renew(); the runner renews on every tick.
DEFAULT_TTL = 300.0


_URGENT: ContextVar[float | None] = ContextVar("rollout_store_patience", default=None)


@contextmanager
def urgent(seconds: float) -> Iterator[None]:
    """Wait at most `seconds` for a locked or unreachable store in this block: `abort` must not
    sit out a 30 s busy timeout before it reaches the router."""
    token = _URGENT.set(seconds)
    try:
        yield
    finally:
        _URGENT.reset(token)


def patience(default: float) -> float:
    limit = _URGENT.get()
    return default if limit is None else min(default, limit)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    # Naive datetimes are taken as UTC so comparisons never mix naive and aware values.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 checks without sending)."""
    if pid <= 0:
        return False  # 0 / negative would address a process group, never a single holder
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: it exists but belongs to someone else
    return True


def same_holder(a: Holder, b: Holder) -> bool:
    return (a.user, a.host, a.pid) == (b.user, b.host, b.pid)


def may_take_over(current: Holder, me: Holder, now: datetime, hostname: str) -> bool:
    """A lease can be taken if it expired, if it is ours, or if its holder died on this host."""
    if current.expires is None or as_utc(current.expires) <= as_utc(now):
        return True
    if same_holder(current, me):
        return True
    # A pid only means something on the host that recorded it.
    return current.host == hostname and not pid_alive(current.pid)


def held_message(name: str, current: Holder) -> str:
    expires = current.expires.isoformat(timespec="seconds") if current.expires else "unknown"
    return (
        f"{name} is being applied by {current} (lease expires {expires}); "
        "wait, or if that process is gone, retry after the expiry"
    )


def expiry(now: datetime, ttl: float) -> datetime:
    return as_utc(now) + timedelta(seconds=ttl)


class LeaseHandle:
    """What `lease()` yields: `renew()` pushes the expiry forward, or raises LeaseHeld if lost.

    `previous` is the holder this lease was taken over from (a runner that died, or whose lease
    expired), so the caller can put the takeover in the audit trail."""

    def __init__(self, renew: Callable[[], None], previous: Holder | None = None) -> None:
        self._renew = renew
        self.previous = previous

    def renew(self) -> None:
        self._renew()


Acquired = tuple[str, "Holder | None"]  # (token naming this holding, holder taken over)


@contextmanager
def hold(
    acquire: Callable[[], Acquired],
    renew: Callable[[str], None],
    release: Callable[[str], None],
) -> Iterator[LeaseHandle]:
    """Acquire -> yield a handle -> release; `acquire` returns a token that names this holding."""
    token, previous = acquire()
    try:
        yield LeaseHandle(lambda: renew(token), previous)
    finally:
        release(token)


def hostname() -> str:
    return socket.gethostname()


def check_revision(run: Run, cur: tuple[int, int] | None, expected_revision: int) -> None:
    """Raise StaleState unless (latest attempt, revision) allows this commit."""
    if expected_revision == 0:
        if cur is not None and cur[0] >= run.attempt:
            raise StaleState(
                f"{run.name}: cannot start attempt {run.attempt}, attempt {cur[0]} already exists; "
                "reload and retry"
            )
        return
    if cur is None or tuple(cur) != (run.attempt, expected_revision):
        held = "nothing" if cur is None else f"attempt {cur[0]} revision {cur[1]}"
        raise StaleState(
            f"{run.name}: expected attempt {run.attempt} revision {expected_revision}, "
            "but the store "
            f"holds {held} (another process changed it); reload and retry"
        )
