"""Read-only verbs as real processes: a closed pipe is not an error, and `status --watch` exits
with the outcome's code. The store is prepared in process (FakeClock), then read by `rollout`
subprocesses. These wait on processes with generous timeouts and never assert speed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollout.records import Holder
from tests.commands.conftest import Workspace

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def env(ws: Workspace) -> dict[str, str]:
    return {**os.environ, "ROLLOUT_STATE": ws.state, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}


def rollout(ws: Workspace, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rollout", *args],
        cwd=ws.root,
        env=env(ws),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def completed(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan())).code == 0


@pytest.mark.parametrize(
    "args",
    [["status", "demo"], ["history", "demo"], ["plan", "plan.yaml"], ["list"], ["report", "demo"]],
)
def test_a_closed_pipe_exits_0_quietly(ws: Workspace, args: list[str]) -> None:
    completed(ws)
    p = rollout(ws, *args)
    assert p.stdout is not None
    p.stdout.close()  # no reader from the start: the first write meets a closed pipe
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert err == ""  # no "bug in rollout", no "Exception ignored ... BrokenPipeError"


@pytest.mark.parametrize("args", ["status demo", "history demo", "plan plan.yaml"])
def test_head_in_a_shell_pipeline(ws: Workspace, args: str) -> None:
    completed(ws)
    cmd = f"set -o pipefail; {sys.executable} -m rollout {args} | head -1"
    res = subprocess.run(
        ["bash", "-c", cmd], cwd=ws.root, env=env(ws), capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 1 and res.stderr == ""


@pytest.mark.parametrize(
    ("setup", "code"),
    [("complete", 0), ("roll_back", 3), ("abort", 4), ("approval", 5), ("held", 5)],
)
def test_watch_timeout_exits_with_the_outcome_code(ws: Workspace, setup: str, code: int) -> None:
    if setup == "complete":
        completed(ws)
    elif setup == "roll_back":
        assert ws.cli("apply", str(ws.write_plan(candidate_error=0.1))).code == 3
    elif setup == "approval":
        assert ws.cli("apply", str(ws.write_plan(approval=True))).code == 5
    else:
        assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
        if setup == "abort":
            assert ws.cli("abort", "demo").code == 0
    me = Holder(user="test", host=os.uname().nodename, pid=os.getpid())
    with ws.store().lease("demo", me, ttl=600):  # "held": an apply is alive but not moving
        p = rollout(ws, "status", "demo", "--watch", "--timeout", "3s")
        out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert f"(exit {code})" in out.splitlines()[-1]


def test_watch_on_a_terminal_redraws_in_place(ws: Workspace) -> None:
    assert ws.cli("apply", str(ws.write_plan()), "--until", "pilot").code == 0
    me = Holder(user="test", host=os.uname().nodename, pid=os.getpid())
    with ws.store().lease("demo", me, ttl=600):
        leader, follower = pty.openpty()
        p = subprocess.Popen(
            [sys.executable, "-m", "rollout", "status", "demo", "-w", "--timeout", "5s"],
            cwd=ws.root,
            env={**env(ws), "TERM": "xterm"},
            stdin=follower,
            stdout=follower,
            stderr=follower,
        )
        os.close(follower)
        screen = b""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            elif p.poll() is not None:
                break
        p.wait(timeout=60)
        os.close(leader)
    assert p.returncode == 5
    text = screen.decode(errors="replace")
    assert text.count("demo (attempt 1)") >= 2  # more than one look...
    assert "\x1b[1A\x1b[2K" in text  # ...each drawn over the last (cursor up, erase line)
    assert "step 4/7" in text and "still progressing after --timeout" in text
