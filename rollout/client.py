"""The app side of router `file`: pick a variant per request from the routes file.

    from rollout.client import Routes

    routes = Routes(".rollout/routes/support-bot.json")
    choice = routes.choose(user_id)      # sticky per key; routes.choose() for no key
    client.chat.completions.create(model=choice.target, ...)
    log.info("variant=%s", choice.variant)  # label metrics with it: the gates compare variants

Sticky hashing (the contract, so an app in another language can do the same):

    digest = sha256(f"{rollout}\\n{key}".encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10000            # 0 .. 9999
    variant = "candidate" if bucket < candidate_weight * 100 else "baseline"

A key's bucket never changes while the rollout does, so a key on the candidate at 5 % (bucket
< 500) stays on it at 25, 50 and 100 %; weights only ever grow during a rollout, so nobody
flips back and forth. The rollout name salts the hash: the pilot users of two rollouts differ.

Reloads: `choose` looks at the file's stat (mtime, size, inode) at most every `check_interval`
seconds and re-reads it when that changed. A missing, unreadable or half-written file keeps
the last good routes (and is looked at again next interval); with no file ever seen, every
request goes to the baseline. Only the standard library: apps import this.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "rollout.routes/v1"
BUCKETS = 10_000  # 0.01 % resolution; a weight of w percent is w * 100 buckets
_FIRST_8 = struct.Struct(">Q").unpack_from  # the same as int.from_bytes(d[:8], "big"), faster
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class Choice:
    variant: str  # "baseline" or "candidate": label metrics with it
    target: str  # what to call (deployment, model name, backend)
    model: str | None = None
    model_version: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class _Table:
    rollout: str
    revision: int
    candidate_buckets: int  # candidate weight * 100
    baseline: Choice
    candidate: Choice

    @property
    def weights(self) -> dict[str, int]:
        c = self.candidate_buckets // 100
        return {"baseline": 100 - c, "candidate": c}


def bucket(rollout: str, key: str) -> int:
    """The key's bucket in [0, 10000): stable across processes, machines and Python versions."""
    return int(_FIRST_8(_sha256(f"{rollout}\n{key}".encode()).digest())[0] % BUCKETS)


def parse(data: Any) -> _Table:
    """A routes document -> a table; ValueError when it is not a usable rollout.routes/v1 file."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} document")
    by_name: dict[str, dict[str, Any]] = {}
    for v in data.get("variants") or ():
        if isinstance(v, dict) and isinstance(v.get("name"), str):
            by_name[v["name"]] = v
    if set(by_name) != {"baseline", "candidate"}:
        raise ValueError("variants must be exactly baseline and candidate")
    weights: dict[str, int] = {}
    for n, v in by_name.items():
        w = v.get("weight")
        if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 100:
            raise ValueError(f"weight of {n} must be a whole percent, got {w!r}")
        weights[n] = w
    if weights["baseline"] + weights["candidate"] != 100:
        raise ValueError(f"weights must sum to 100, got {weights}")
    rev = data.get("revision", 0)
    return _Table(
        rollout=str(data.get("rollout") or ""),
        revision=rev if isinstance(rev, int) else 0,
        candidate_buckets=weights["candidate"] * 100,
        baseline=_choice("baseline", by_name["baseline"]),
        candidate=_choice("candidate", by_name["candidate"]),
    )


def _choice(name: str, v: dict[str, Any]) -> Choice:
    def opt(k: str) -> str | None:
        x = v.get(k)
        return None if x is None else str(x)

    return Choice(
        variant=name,
        target=opt("target") or name,
        model=opt("model"),
        model_version=opt("model_version"),
        fingerprint=opt("fingerprint"),
    )


class Routes:
    """Variant choice from a routes file written by `rollout` (router `file`). Thread-safe.

    rollout: salt for the hash (default: the name in the file); check_interval: seconds between
    stats of the file; clock/rand: injectable time.monotonic / random.random; baseline_target:
    what to call while no routes file has ever been read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rollout: str | None = None,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        baseline_target: str = "baseline",
    ) -> None:
        self.path = Path(path)
        self._fspath = os.fspath(self.path)  # os.stat on a str skips Path's conversion per check
        self.check_interval = check_interval
        self._clock = clock
        self._rand = rand
        self._lock = (
            threading.Lock()
        )  # one reader of the file at a time; choose() never waits on it
        # Until a file is seen: everyone on the baseline, hashed under the given rollout name.
        base = Choice(variant="baseline", target=baseline_target)
        self._table = _Table(
            rollout or "", 0, 0, base, Choice(variant="candidate", target="candidate")
        )
        self._salt = rollout
        self._sig: tuple[int, int, int] | None = None
        self._next_check = float("-inf")
        self.last_error: str | None = None  # why the last reload was refused (for the app's logs)
        self.reload()

    # -- the hot path -------------------------------------------------------------------------
    def choose(self, key: str | None = None) -> Choice:
        """The variant for `key` (sticky), or a weighted random one when key is None."""
        if self._clock() >= self._next_check:
            self.reload()
        t = self._table
        if t.candidate_buckets == 0:
            return t.baseline
        if key is None:
            b = int(self._rand() * BUCKETS)
        else:
            b = bucket(self._salt if self._salt is not None else t.rollout, key)
        return t.candidate if b < t.candidate_buckets else t.baseline

    # -- what the app may want to log or show ---------------------------------------------------
    @property
    def weights(self) -> dict[str, int]:
        return self._table.weights

    @property
    def revision(self) -> int:
        return self._table.revision

    @property
    def rollout(self) -> str:
        return self._table.rollout

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the file if it changed (or `force`). True when new routes were taken."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is reading it right now; use the current table
        try:
            self._next_check = self._clock() + self.check_interval
            try:
                st = os.stat(self._fspath)
            except OSError:
                return False  # missing: keep the last good routes
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            if sig == self._sig and not force:
                return False
            try:
                with open(self._fspath, "rb") as f:
                    table = parse(json.loads(f.read()))
            except (OSError, ValueError) as exc:
                # Half written or corrupt: keep the last good routes; the stat is not recorded,
                # so the next check reads it again.
                self.last_error = f"{self.path}: {exc}"
                return False
            self._table, self._sig, self.last_error = table, sig, None
            return True
        finally:
            self._lock.release()
