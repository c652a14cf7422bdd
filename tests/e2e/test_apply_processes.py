"""`apply`, `abort` and friends as real processes sharing a SQLite state store and a routes file.

These wait on real processes with generous timeouts; they never assert how fast anything is.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: proc-demo
variants:
  baseline:  {{model: gpt-4o}}
  candidate: {{model: gpt-4.1}}
router:  {{type: file, path: routes.json}}
metrics: {{type: simulated, seed: 3, requests_per_second: 50}}
gates:
  - name: errors
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total: requests{{variant="{{{{ variant }}}}"}}
    max: 0.9
stages:
  - {{name: pilot, weight: 5, bake: {bake}}}
  - {{name: full, weight: 100}}
analysis: {{interval: 1s, method: threshold}}
"""


def write_plan(tmp: Path, bake: str) -> Path:
    p = tmp / "plan.yaml"
    p.write_text(PLAN.format(bake=bake))
    return p


def rollout(tmp: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "ROLLOUT_STATE": f"sqlite:///{tmp / 'state.db'}", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rollout", *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def run_cli(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    p = rollout(tmp, *args)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def candidate_weight(tmp: Path) -> int | None:
    try:
        doc = json.loads((tmp / "routes.json").read_text())
    except (OSError, ValueError):
        return None
    return {v["name"]: v["weight"] for v in doc["variants"]}["candidate"]


def wait_for(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def history(tmp: Path) -> list[dict]:
    r = run_cli(tmp, "history", "proc-demo", "--limit", "0", "--output", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["events"]


def test_abort_from_a_second_process_stops_apply_and_restores_the_baseline(tmp_path):
    plan = write_plan(tmp_path, "120s")
    apply = rollout(tmp_path, "apply", str(plan))
    try:
        wait_for(lambda: candidate_weight(tmp_path) == 5)
        r = run_cli(tmp_path, "abort", "proc-demo", "--reason", "paged")
        assert r.returncode == 0, r.stderr
        assert candidate_weight(tmp_path) == 0  # abort restored it itself, before apply noticed
        out, err = apply.communicate(timeout=60)
    finally:
        apply.kill()
    assert apply.returncode == 4, err
    assert candidate_weight(tmp_path) == 0
    assert "aborted" in out
    aborts = [
        e for e in history(tmp_path) if e["kind"] == "phase" and e["data"].get("phase") == "aborted"
    ]
    assert aborts and aborts[0]["data"]["reason"] == "paged" and aborts[0]["actor"]


def test_abort_with_no_runner_alive_restores_the_baseline(tmp_path):
    plan = write_plan(tmp_path, "120s")
    apply = rollout(tmp_path, "apply", str(plan))
    wait_for(lambda: candidate_weight(tmp_path) == 5)
    apply.send_signal(signal.SIGKILL)
    apply.wait(timeout=30)
    assert candidate_weight(tmp_path) == 5
    r = run_cli(tmp_path, "abort", "proc-demo")
    assert r.returncode == 0, r.stderr
    assert candidate_weight(tmp_path) == 0
    again = run_cli(tmp_path, "abort", "proc-demo")  # idempotent: re-verifies, still fine
    assert again.returncode == 0 and candidate_weight(tmp_path) == 0
    st = json.loads(run_cli(tmp_path, "status", "proc-demo", "-o", "json").stdout)
    assert st["phase"] == "aborted" and st["weights"]["candidate"] == 0


def test_kill_9_mid_bake_then_apply_resumes_at_the_same_step(tmp_path):
    plan = write_plan(tmp_path, "6s")
    first = rollout(tmp_path, "apply", str(plan))
    wait_for(lambda: candidate_weight(tmp_path) == 5)
    wait_for(lambda: any(e["kind"] == "verdict" for e in history(tmp_path)))  # mid-bake
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    r = run_cli(tmp_path, "apply", str(plan), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming proc-demo" in r.stdout
    assert candidate_weight(tmp_path) == 100
    shifts = [
        e["data"]["weights"]["candidate"]
        for e in history(tmp_path)
        if e["kind"] == "weights" and "weights" in e["data"]
    ]
    assert shifts == [5, 100]  # the pilot shift was not repeated


def test_a_second_concurrent_apply_is_locked_out_naming_the_holder(tmp_path):
    plan = write_plan(tmp_path, "120s")
    first = rollout(tmp_path, "apply", str(plan))
    try:
        wait_for(lambda: candidate_weight(tmp_path) == 5)
        second = run_cli(tmp_path, "apply", str(plan))
        assert second.returncode == 6, second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert candidate_weight(tmp_path) == 5  # the second process moved nothing
    finally:
        run_cli(tmp_path, "abort", "proc-demo")
        first.communicate(timeout=60)
    assert first.returncode == 4


def test_a_bad_plan_exits_2_and_writes_nothing(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text(textwrap.dedent(PLAN.format(bake="10s")).replace("weight: 5,", "weight: 500,"))
    r = run_cli(tmp_path, "apply", str(p))
    assert r.returncode == 2
    assert "plan.yaml:" in r.stderr and "stages[0].weight" in r.stderr
    assert not (tmp_path / "state.db").exists() and not (tmp_path / "routes.json").exists()


def test_ctrl_c_leaves_traffic_as_recorded_and_says_how_to_resume(tmp_path):
    plan = write_plan(tmp_path, "120s")
    apply = rollout(tmp_path, "apply", str(plan))
    wait_for(lambda: candidate_weight(tmp_path) == 5)
    apply.send_signal(signal.SIGINT)
    _out, err = apply.communicate(timeout=60)
    assert apply.returncode == 130
    assert "resume" in err
    assert candidate_weight(tmp_path) == 5  # left as recorded
    st = json.loads(run_cli(tmp_path, "status", "proc-demo", "-o", "json").stdout)
    assert st["phase"] == "progressing" and st["weights"]["candidate"] == 5
    # and the lease was released: a new apply takes over at once and resumes (then we abort it)
    log = tmp_path / "again.log"
    env = {
        **os.environ,
        "ROLLOUT_STATE": f"sqlite:///{tmp_path / 'state.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("w") as f:
        again = subprocess.Popen(
            [sys.executable, "-m", "rollout", "apply", str(plan)],
            cwd=tmp_path,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "resuming proc-demo" in log.read_text())
        finally:
            run_cli(tmp_path, "abort", "proc-demo")
            again.wait(timeout=60)
    assert again.returncode == 4, log.read_text()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_release_the_lease_and_record_the_interruption(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    plan = write_plan(tmp_path, "120s")
    apply = rollout(tmp_path, "apply", str(plan))
    wait_for(lambda: candidate_weight(tmp_path) == 5)
    apply.send_signal(sig)
    _out, err = apply.communicate(timeout=60)
    assert apply.returncode == code, err
    assert candidate_weight(tmp_path) == 5  # traffic left as recorded, resumable
    interrupted = [e for e in history(tmp_path) if e["kind"] == "interrupted"]
    assert len(interrupted) == 1 and sig.name in interrupted[0]["message"]
    # the lease was released: status names no holder, and nothing is left in the lease table
    st = json.loads(run_cli(tmp_path, "status", "proc-demo", "-o", "json").stdout)
    assert st["holder"] is None and st["phase"] == "progressing"
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
