"""Router `file`: a routes JSON file the application reads (see rollout.client).

The file (schema "rollout.routes/v1")::

    {"schema": "rollout.routes/v1", "rollout": "support-bot", "revision": 3,
     "variants": [{"name": "baseline", "weight": 75, "target": "gpt4o-support",
                   "model": "gpt-4o", "model_version": "2024-08-06", "fingerprint": "ab12..."},
                  {"name": "candidate", "weight": 25, ...}]}

Writes are atomic (temp file in the same directory, fsync, os.replace, fsync of the directory):
a reader sees the old file or the new one, never half of one. `set_weights` with the weights
and variants the file already holds does not rewrite it (no revision bump, no mtime change), so
the runner's drift heals and repeated aborts do not make every app reload for nothing.
A missing file means "all baseline": that is what an app with no routes file serves.

A missing *directory* is a typo until the plan says otherwise: the router does not create it
(a typo'd `/nonexistent/dir/routes.json` would otherwise be written where no app reads, and
preflight would pass), and reading or writing there fails with the path and how to fix it.
`create_dirs: true` creates it; so does a directory inside a `.rollout/` (rollout's
own working directory, where the default state store lives, as in the examples).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rollout import faults, fencing
from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

SCHEMA = "rollout.routes/v1"
DEFAULT_MODE = 0o644  # the app often runs as another user than the one running `rollout`


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str  # relative to the plan file
    create_dirs: bool = False  # create the file's directory when it does not exist


class FileRouter:
    def __init__(
        self,
        path: Path,
        variants: dict[str, dict[str, Any]] | None = None,
        fingerprints: dict[str, str] | None = None,
        name: str = "",
        create_dirs: bool = False,
    ) -> None:
        self.path = path
        self.create_dirs = create_dirs
        self.variants = variants or {}
        self.fingerprints = fingerprints or {}
        self.name = name

    def _may_create(self) -> bool:
        if self.create_dirs:
            return True
        return any(p.name == ".rollout" for p in self.path.parents)

    def _check_dir(self) -> None:
        """A missing directory that will not be created: a located error, not "reachable"."""
        parent = self.path.parent
        if parent.is_dir() or self._may_create():
            return
        missing = parent
        while not missing.parent.is_dir() and missing.parent != missing:
            missing = missing.parent
        raise ProviderError(
            f"routes file {self.path}: directory {missing} does not exist (router.path; a "
            "typo?). Nothing was written; an app reading that path serves its baseline. Create "
            "the directory, or set `create_dirs: true` under router to have it created"
        )

    def _read(self) -> dict[str, Any] | None:
        """The parsed file, None when it does not exist; ProviderError when it cannot be used."""
        self._check_dir()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderError(f"routes file {self.path} is unreadable: {_why(exc)}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProviderError(
                f"routes file {self.path} is not valid JSON ({exc}); fix or delete it "
                "(a missing file means 100 % baseline)"
            ) from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ProviderError(
                f"routes file {self.path} is not a {SCHEMA} file (schema: {found!r})"
            )
        return data

    def get_weights(self) -> Weights:
        data = self._read()
        if data is None:
            return Weights.all_baseline()  # no file yet: the app serves the baseline
        try:
            w = {str(v["name"]): v["weight"] for v in data["variants"]}
            return Weights(baseline=w.get("baseline", 0), candidate=w.get("candidate", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"routes file {self.path} has unusable variants: {_why(exc)}"
            ) from None

    def document(self, weights: Weights, revision: int) -> dict[str, Any]:
        def variant(v: str) -> dict[str, Any]:
            meta = self.variants.get(v) or {}
            return {
                "name": v,
                "weight": getattr(weights, v),
                "target": meta.get("target") or v,
                "model": meta.get("model"),
                "model_version": meta.get("model_version"),
                "fingerprint": self.fingerprints.get(v),
            }

        return {
            "schema": SCHEMA,
            "rollout": self.name,
            "revision": revision,
            "variants": [variant(v) for v in VARIANTS],
        }

    def set_weights(self, weights: Weights) -> None:
        self._check_dir()
        try:
            old = self._read()
        except ProviderError:
            old = None  # a corrupt file is replaced by a good one: that is the way out of it
        revision = _revision(old) + 1
        doc = self.document(weights, revision)
        if old is not None and {**old, "revision": revision} == doc:
            return  # already there: keep the file (and its mtime) as it is
        self._write(doc)

    def _sweep(self, parent: Path) -> None:
        """Remove temp files left by a write that was killed between mkstemp and rename (older
        than a minute, so a concurrent writer's file in flight is left alone)."""
        import time

        for left in parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                if time.time() - left.stat().st_mtime > 60:
                    left.unlink()

    def _write(self, doc: dict[str, Any]) -> None:
        parent = self.path.parent
        tmp: str | None = None
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._sweep(parent)
            mode = _mode_of(self.path)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self.path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), mode)  # mkstemp makes 0600: the app could not read it
                json.dump(doc, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            faults.point("routes_tmp_written")
            fencing.check()  # the last moment a stale write can still be withheld
            os.replace(tmp, self.path)  # atomic: readers see the old file or the new one
            tmp = None
            _fsync_dir(parent)  # the rename itself survives a power cut
        except OSError as exc:
            raise ProviderError(f"cannot write routes file {self.path}: {_why(exc)}") from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _revision(doc: dict[str, Any] | None) -> int:
    try:
        return int((doc or {}).get("revision", 0))
    except (TypeError, ValueError):
        return 0


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return DEFAULT_MODE


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the replace is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    errors = getattr(exc, "errors", None)  # pydantic: the first problem, not the whole report
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc))
    return str(exc) or type(exc).__name__


def build(config: Config, ctx: BuildContext) -> FileRouter:
    p = Path(config.path).expanduser()
    return FileRouter(
        p if p.is_absolute() else ctx.plan_dir / p,
        ctx.variants,
        ctx.fingerprints,
        ctx.plan_name,
        create_dirs=config.create_dirs,
    )
