"""`rollout apply`'s live progress off a terminal: the lines `rollout history` prints, as they
happen (one word per event kind, ISO time in whole seconds)."""

from __future__ import annotations

import re

from tests.commands.conftest import Workspace

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00  [a-z_]+ +\S")


def test_progress_lines_are_history_lines(ws: Workspace) -> None:
    res = ws.cli("apply", str(ws.write_plan()))
    assert res.code == 0
    progress = res.out.splitlines()[
        : res.out.splitlines().index(
            next(ln for ln in res.out.splitlines() if ln.startswith("demo (attempt 1)"))
        )
    ]
    assert progress and all(LINE.match(ln) for ln in progress), progress
    assert not any("  gate " in ln for ln in progress)  # verdicts are "verdict", like history
    history = set(ws.cli("history", "demo", "-n", "1000").out.splitlines())
    stored = [ln for ln in progress if " verdict " in ln]
    assert stored and all(ln in history for ln in stored)
