"""Fault points for the crash harness: `ROLLOUT_FAULTS=name[:n],...` makes the process SIGKILL
itself the n-th time (default 1st) it reaches a named point. Unset (always, outside the fault
tests), `point()` is one dict lookup.

The points are the boundaries where a crash could leave traffic and state disagreeing: see
tests/e2e/test_faults.py for the list and what each resume must converge to.
"""

from __future__ import annotations

import os
import signal

_plan: dict[str, int] | None = None
_hits: dict[str, int] = {}


def _load() -> dict[str, int]:
    out: dict[str, int] = {}
    for part in os.environ.get("ROLLOUT_FAULTS", "").split(","):
        if part.strip():
            name, _, n = part.strip().partition(":")
            out[name] = int(n or 1)
    return out


def point(name: str) -> None:
    global _plan
    if _plan is None:
        _plan = _load()
    if not _plan or name not in _plan:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == _plan[name]:
        os.kill(os.getpid(), signal.SIGKILL)
