"""The hostile-plan corpus (tests/security/corpus.py) is refused: exit 2, a located message,
nothing under `.rollout/` written, the routes file untouched.

In-process first (fast: `load()` raises SpecError only, with the file, line and column), then
through the real CLI in subprocesses — `rollout validate` and `rollout apply` — under a memory
limit (RLIMIT_AS) and a CPU limit (RLIMIT_CPU), with a generous timeout: a case that hangs or
exhausts memory fails instead of taking the machine with it. The timeout is a safety net, not a
speed claim (docs/reliability.md has the measured times).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from rollout.errors import SpecError
from rollout.loading import load
from tests.security.corpus import CASES, prepare

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 1536 * 1024 * 1024  # address space: the interpreter, pydantic, jinja2, numpy
CPU_SECONDS = 20
TIMEOUT_S = 60  # generous: two shared cores; each case takes about a second (interpreter start)


@pytest.mark.parametrize("case", sorted(CASES))
def test_load_refuses_with_a_located_problem(tmp_path: Path, case: str) -> None:
    c = CASES[case]
    plan = prepare(tmp_path, c)
    var_files = [c.args[1]] if c.args[:1] == ("--var-file",) else []
    with pytest.raises(SpecError) as info:
        load(plan, env=c.env, var_files=var_files)
    text = str(info.value)
    assert c.fragment in text, text
    for p in info.value.problems:
        assert p.message
        if c.line:
            assert p.line is not None and p.column is not None, p
    assert not (tmp_path / ".rollout").exists()


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def _env(extra: dict[str, str]) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
    e["PYTHONPATH"] = str(REPO)
    e["OPENBLAS_NUM_THREADS"] = "1"  # each BLAS thread reserves address space
    return {**e, **extra}


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["validate", "apply"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_refuses_under_limits(tmp_path: Path, case: str, verb: str) -> None:
    c = CASES[case]
    plan = prepare(tmp_path, c)
    routes = tmp_path / "routes" / "app.json"
    before = (routes.read_bytes(), routes.stat().st_mtime_ns)
    proc = subprocess.run(
        [sys.executable, "-m", "rollout", verb, str(plan), *c.args],
        cwd=tmp_path,
        env=_env(c.env),
        preexec_fn=_limits,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-2000:]
    located = rf"{re.escape(str(plan))}:\d+:\d+: " if c.line else rf"{re.escape(str(plan))}|/dev/"
    assert re.search(located, out), out[-2000:]
    assert c.fragment in out, out[-2000:]
    assert "bug in rollout" not in out
    assert not (tmp_path / ".rollout").exists(), "nothing is written: no state, no crash log"
    assert (routes.read_bytes(), routes.stat().st_mtime_ns) == before, "no traffic moved"
