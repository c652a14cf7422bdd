"""`rollout --help` stays light: no vendor SDK or heavy library is imported at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test starts a Python process

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("azure", "httpx", "jinja2", "numpy")

PROBE = """
import contextlib, io, json, sys
import rollout.cli
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = rollout.cli.main(["--help"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in __HEAVY__)
print(json.dumps({"code": code, "heavy": heavy, "help": buf.getvalue()}))
""".replace("__HEAVY__", repr(HEAVY))


def _probe(*extra: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = PROBE.replace('["--help"]', json.dumps([*extra, "--help"]))
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr
    out: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def test_help_imports_nothing_heavy() -> None:
    got = _probe()
    assert got["code"] == 0
    assert "validate" in str(got["help"]) and "plan" in str(got["help"])
    assert got["heavy"] == []


def test_subcommand_help_imports_nothing_heavy() -> None:
    got = _probe("plan")
    assert got["code"] == 0 and "--var" in str(got["help"])
    assert got["heavy"] == []


def test_the_probe_would_notice_a_heavy_import() -> None:
    # Guard against a probe that cannot fail: importing jinja2 first must show up.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", "import jinja2\n" + PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )
    assert "jinja2" in json.loads(res.stdout.strip().splitlines()[-1])["heavy"]
