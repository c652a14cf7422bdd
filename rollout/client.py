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

The bucket label of a key, for gates with `bucket_by` (label its metrics with it, e.g. an
attribute `bucket`; the gate then judges users, the unit the router assigns): the next 8 bytes
of the same digest, so it is independent of the routing bucket,

    label = str(int.from_bytes(digest[8:16], "big") % 64)           # "0" .. "63"

A key's bucket never changes while the rollout does, so a key on the candidate at 5 % (bucket
< 500) stays on it at 25, 50 and 100 %; weights only ever grow during a rollout, so nobody
flips back and forth. The rollout name salts the hash: the pilot users of two rollouts differ.

Reloads: `choose` looks at the file's stat (mtime, size, inode) at most every `check_interval`
seconds and re-reads it when that changed.

What the app gets when the file is not usable (the contract; `last_error` says why, for logs):

* **missing** (never written, or deleted): every request goes to the **baseline** — the same
  reading as the `file` router's get_weights, which reads a missing file as 100 % baseline, so
  the tool and the app agree on what is served. The baseline target of the last good routes is
  kept (a deleted file does not make the app call a placeholder name).
* **unusable** (unreadable, half written, not JSON, not rollout.routes/v1, larger than
  `max_bytes` (1 MiB), nested deeper than MAX_DEPTH): the **last good routes** are kept and the
  file is looked at again next interval; the router reports such a file as an error.

`choose()` never raises: whatever happens while reloading is caught and put in `last_error`.
Only the standard library: apps import this.

Telemetry, one line per model call, labelled the way the built-in LLM signals read it
(rollout.llm.catalog; `metrics: {type: prometheus}` scraping the app):

    from rollout.client import Telemetry    # (rollout.llm.telemetry)
    telemetry = Telemetry()                 # OpenTelemetry if opentelemetry-api is installed,
                                            # else prometheus_client (backend= to choose)
    telemetry.record(choice.variant, model="gpt-4.1", latency_s=1.2, ttft_s=0.3,
                     input_tokens=812, output_tokens=240, status=200)
    telemetry.record(choice.variant, latency_s=0.1, status=429)           # throttled
    telemetry.record(choice.variant, latency_s=0.2, content_filtered=True)
    telemetry.score(choice.variant, 0.82)  # a judge's score (0-1);  .feedback(variant, down=True)

As OpenTelemetry GenAI metrics (semantic conventions): `gen_ai.client.operation.duration` (s),
`gen_ai.client.token.usage` by `gen_ai.token.type`, `gen_ai.server.time_to_first_token` (s),
with `error.type` = the status code ("429", "500"), `content_filter`, or an exception's class on
failures; plus `gen_ai.evaluation.score` and the `gen_ai.user.feedback` counter. Each carries
the attribute `variant`. The SDK's Prometheus exporter exposes them as
`gen_ai_client_operation_duration_seconds_*`, `gen_ai_client_token_usage_*`, ...; the
prometheus_client backend registers the same names and labels.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "rollout.routes/v1"
MAX_BYTES = 1024 * 1024  # a routes file is a few hundred bytes; a larger one is not read
MAX_DEPTH = 16  # rollout writes depth 3
BUCKETS = 10_000  # 0.01 % resolution; a weight of w percent is w * 100 buckets
LABEL_BUCKETS = 64  # values of the bucket label: enough buckets for a variance, few series
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


def bucket_label(rollout: str, key: str, buckets: int = LABEL_BUCKETS) -> str:
    """The key's bucket label ("0" .. "63") for `bucket_by` gates: bytes 8-16 of the routing
    digest, independent of the routing bucket (bytes 0-8), so each label holds users of both
    variants in the weight's proportion and a user's requests stay under one label."""
    digest = _sha256(f"{rollout}\n{key}".encode()).digest()
    return str(_FIRST_8(digest, 8)[0] % buckets)


_KEEP = b'"\\[]{}'
_DROP = bytes(c for c in range(256) if c not in _KEEP)


def loads(raw: bytes) -> Any:
    """JSON with a nesting cap; ValueError (never RecursionError) for what cannot be used.

    The depth is measured before parsing on the bytes that matter for it (quotes, backslashes,
    brackets; everything else dropped in C), so a file of 100,000 `[` costs microseconds.
    """
    depth = 0
    in_string = escaped = False
    for ch in raw.translate(None, _DROP):
        if in_string:
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:  # quote
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        elif ch in (0x5D, 0x7D):
            depth -= 1
    try:
        return json.loads(raw)
    except RecursionError:  # not reachable past the scan; kept so that nothing else escapes
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


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
    what to call while no routes file has ever been read; max_bytes: the largest file read.
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
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.path = Path(path)
        self._fspath = os.fspath(self.path)  # os.stat on a str skips Path's conversion per check
        self.check_interval = check_interval
        self.max_bytes = max_bytes
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
        """The variant for `key` (sticky), or a weighted random one when key is None.

        Never raises: a failure anywhere (the file, the clock, the key) serves the current
        table's choice, or the baseline, and is recorded in `last_error`.
        """
        t = self._table
        try:
            if self._clock() >= self._next_check:
                self.reload()
                t = self._table
            if t.candidate_buckets == 0:
                return t.baseline
            if key is None:
                b = int(self._rand() * BUCKETS)
            else:
                b = bucket(self._salt if self._salt is not None else t.rollout, str(key))
            return t.candidate if b < t.candidate_buckets else t.baseline
        except Exception as exc:  # the app must never pay for a routing problem
            self.last_error = f"choose: {type(exc).__name__}: {exc}"
            return t.baseline

    def bucket_label(self, key: str) -> str:
        """`key`'s bucket label for metrics (the module's bucket_label, salted like choose)."""
        return bucket_label(self._salt if self._salt is not None else self._table.rollout, key)

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
            return self._reload(force)
        except Exception as exc:  # never into the app: keep what we have, say why
            self.last_error = f"{self.path}: {type(exc).__name__}: {exc}"
            return False
        finally:
            self._lock.release()

    def _reload(self, force: bool) -> bool:
        self._next_check = self._clock() + self.check_interval
        try:
            st = os.stat(self._fspath)
        except FileNotFoundError:
            return self._missing()
        except OSError as exc:
            self.last_error = f"{self.path}: cannot stat: {exc.strerror or exc}"
            return False
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self._sig and not force:
            return False
        try:
            if not stat.S_ISREG(st.st_mode):  # a FIFO would block the app in open()
                raise ValueError("not a regular file")
            if st.st_size > self.max_bytes:
                raise ValueError(
                    f"{st.st_size:,} bytes; routes files are at most {self.max_bytes:,}"
                )
            fd = os.open(self._fspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                raw = f.read(self.max_bytes + 1)
            if len(raw) > self.max_bytes:
                raise ValueError(f"larger than {self.max_bytes:,} bytes")
            table = parse(loads(raw))
        except (OSError, ValueError) as exc:
            # Half written or corrupt: keep the last good routes; the stat is not recorded,
            # so the next check reads it again.
            self.last_error = f"{self.path}: {exc}"
            return False
        self._table, self._sig, self.last_error = table, sig, None
        return True

    def _missing(self) -> bool:
        """No file: everyone on the baseline (as the router reads it), under the last good
        baseline target; True when that changed what is served."""
        self.last_error = f"{self.path}: missing; serving the baseline"
        t = self._table
        if t.candidate_buckets == 0:
            return False
        self._table = _Table(t.rollout, t.revision, 0, t.baseline, t.candidate)
        self._sig = None  # a file written again is read again
        return True


def __getattr__(name: str) -> Any:
    """`Telemetry` and `error_type` live in rollout.llm.telemetry (loaded on first use, so that
    an app that only routes imports nothing past the standard library)."""
    if name in ("Telemetry", "error_type", "SECONDS_BUCKETS", "TOKEN_BUCKETS", "SCORE_BUCKETS"):
        import importlib

        return getattr(importlib.import_module("rollout.llm.telemetry"), name)
    raise AttributeError(f"module 'rollout.client' has no attribute {name!r}")
