"""`rollout` as real processes for the fault, race and store-fault suites (tests/e2e).

Every process gets this checkout on PYTHONPATH and no ROLLOUT_* variable from the caller except
the ones passed in; nothing here times anything: waits are generous deadlines on conditions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def env(state: str | None = None, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    e["PYTHONUNBUFFERED"] = "1"
    e.pop("GITHUB_STEP_SUMMARY", None)
    if state is not None:
        e["ROLLOUT_STATE"] = state
    e.update(extra)
    return e


def start(
    cwd: Path, *args: str, state: str | None = None, module: str = "rollout", **extra: str
) -> subprocess.Popen[str]:
    """`python -m rollout ARGS` (or another module) in `cwd`, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env(state, **extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Done(subprocess.CompletedProcess[str]):
    """A finished process, with its pid (the audit trail names a dead runner by it)."""

    def __init__(self, p: subprocess.Popen[str], out: str, err: str) -> None:
        super().__init__(p.args, p.returncode, out, err)
        self.pid = p.pid


def run(
    cwd: Path,
    *args: str,
    state: str | None = None,
    timeout: float = 120,
    module: str = "rollout",
    **extra: str,
) -> Done:
    p = start(cwd, *args, state=state, module=module, **extra)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        msg = f"rollout {' '.join(args)} did not exit in {timeout}s:\n{out}\n{err}"
        raise AssertionError(msg) from None
    return Done(p, out, err)


def history(cwd: Path, name: str, state: str) -> list[dict[str, Any]]:
    r = run(cwd, "history", name, "--limit", "0", "-o", "json", state=state)
    assert r.returncode == 0, r.stderr
    events: list[dict[str, Any]] = json.loads(r.stdout)["events"]
    return events


def status(cwd: Path, name: str, state: str) -> dict[str, Any]:
    r = run(cwd, "status", name, "-o", "json", state=state)
    assert r.returncode in (0, 3, 4, 5), r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def routes(path: Path) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc


def candidate(path: Path) -> int | None:
    """The candidate weight the routes file holds (None: no file yet, or mid-replace)."""
    doc = routes(path)
    if doc is None:
        return None
    return {v["name"]: v["weight"] for v in doc["variants"]}["candidate"]


def wait_for(cond: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")
