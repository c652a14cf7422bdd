"""Issue #15: two `rollout controller` replicas against one real PostgreSQL drive 200 rollouts;
one replica is SIGKILLed midway (between a router write and its verification, the worst point).
Every rollout reaches its outcome exactly once: one terminal phase in its history, each step's
shift recorded once, its routes file at the outcome's weights, and the takeover in the audit
trail. Plans are fast (seconds) and waited on with generous timeouts; nothing is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rollout.compile import compile_plan
from rollout.records import Event
from rollout.runner import new_run
from rollout.spec import PlanSpec
from tests.e2e.conftest import REPO, env
from tests.helpers.pg import launch

pytestmark = pytest.mark.slow

N = 200
BAD = {f"r{i:03d}" for i in range(0, N, 10)}  # every tenth candidate fails its gate


def spec(name: str, routes: Path, *, bad: bool) -> dict[str, Any]:
    return {
        "apiVersion": "rollout/v1",
        "kind": "Plan",
        "name": name,
        "variants": {"baseline": {"model": "gpt-4o"}, "candidate": {"model": "gpt-4.1"}},
        "router": {"type": "file", "path": str(routes / f"{name}.json")},
        "metrics": {
            "type": "simulated",
            "seed": int(name[1:]) + 1,
            "requests_per_second": 4000,
            "baseline": {"error_rate": 0.01},
            "candidate": {"error_rate": 0.3 if bad else 0.01},
        },
        "gates": [
            {
                "name": "error-rate",
                "kind": "proportion",
                "events": 'errors{variant="{{ variant }}"}',
                "total": 'requests{variant="{{ variant }}"}',
                "max_ratio": 1.5,
            }
        ],
        "stages": [
            {"name": "pilot", "weight": 5, "bake": "3s"},
            {"name": "expansion", "weight": 50, "bake": "3s"},
            {"name": "full", "weight": 100},
        ],
        "analysis": {
            "interval": "1s",
            "method": "sequential",
            "alpha": 0.05,
            "on_inconclusive": "proceed",
        },
    }


def replica(url: str, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "rollout", "controller", "--state", url, "--exit-when-done"]
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*cmd, "-o", "json"],
            cwd=REPO,
            env={**env(), **extra_env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def candidate(routes: Path, name: str) -> int:
    doc = json.loads((routes / f"{name}.json").read_text())
    return int({v["name"]: v["weight"] for v in doc["variants"]}["candidate"])


def shifts(events: list[Event]) -> list[int]:
    return [
        int(e.data["weights"]["candidate"])
        for e in events
        if e.kind == "weights" and isinstance(e.data.get("weights"), dict)
    ]


def test_two_replicas_one_killed_every_rollout_reaches_its_outcome_once(tmp_path: Path) -> None:
    from rollout.state.postgres import PostgresStore

    pg = launch()
    try:
        url = pg.create_db()
        routes = tmp_path / "routes"
        routes.mkdir()
        st = PostgresStore(url)
        st.keep_connections()
        from rollout.clock import SystemClock

        now = SystemClock().now()
        for i in range(N):
            name = f"r{i:03d}"
            plan = compile_plan(PlanSpec.model_validate(spec(name, routes, bad=name in BAD)))
            created = Event(kind="created", at=now, message=f"rollout {name} created")
            st.commit(new_run(plan, now), [created], expected_revision=0)

        # A dies at its 150th router write, after the write and before it is verified.
        a = replica(url, tmp_path / "a.log", ROLLOUT_FAULTS="router_written:150")
        b = replica(url, tmp_path / "b.log")
        assert a.wait(timeout=900) == -9, (tmp_path / "a.log").read_text()[-3000:]
        assert b.wait(timeout=900) == 0, (tmp_path / "b.log").read_text()[-3000:]

        a_looks = [
            json.loads(x) for x in (tmp_path / "a.log").read_text().splitlines() if x[:1] == "{"
        ]
        assert len(a_looks) > 50  # A did a share of the work before it died: killed midway
        outcomes = Counter()
        takeovers = []
        for i in range(N):
            name = f"r{i:03d}"
            run = st.load(name)
            assert run is not None
            trail = st.history(name, limit=0)
            ends = [
                e
                for e in trail
                if e.kind == "phase"
                and e.data.get("phase") in ("completed", "rolled_back", "aborted")
            ]
            assert len(ends) == 1, (name, [e.message for e in ends])  # its outcome, once
            outcomes[run.phase.value] += 1
            up = [w for w in shifts(trail) if w > 0]
            assert len(up) == len(set(up)), (name, shifts(trail))  # no double shift
            if run.phase.value == "completed":
                assert up == [5, 50, 100] and candidate(routes, name) == 100
            else:
                assert run.phase.value == "rolled_back" and candidate(routes, name) == 0, name
                assert up == [5, 50][: len(up)]
            takeovers += [e for e in trail if e.kind == "takeover"]
        assert sum(outcomes.values()) == N and outcomes["completed"] >= N // 2, outcomes
        for name in BAD:  # a 30x error rate never reaches 100 %
            assert st.load(name).phase.value == "rolled_back", name  # type: ignore[union-attr]
        # The takeover is in the audit trail: the lease A died holding (its pid), and A's
        # claimed-but-unlooked batch picked up by B once the claims expired.
        assert any(str(a.pid) in e.message for e in takeovers), [e.message for e in takeovers]
    finally:
        pg.stop()


def test_sigterm_finishes_the_look_in_hand_releases_and_exits_0(tmp_path: Path) -> None:
    """A real `rollout controller` process on SQLite: SIGTERM after its first looks; it exits 0
    on its own, says why, and leaves no lease and no claim behind."""
    import signal
    import sqlite3
    import time

    from rollout.state.sqlite import SQLiteStore

    routes = tmp_path / "routes"
    routes.mkdir()
    db = tmp_path / "state.db"
    st = SQLiteStore(db)
    from rollout.clock import SystemClock

    now = SystemClock().now()
    for i in range(20):
        s = spec(f"r{i:03d}", routes, bad=False)
        s["stages"][0]["bake"] = "1h"  # every rollout stays active: only the signal ends it
        plan = compile_plan(PlanSpec.model_validate(s))
        st.commit(new_run(plan, now), [], expected_revision=0)
    log = tmp_path / "ctl.log"
    proc = replica(f"sqlite:///{db}", log)
    end = time.monotonic() + 300  # a hang guard, not an assertion about speed
    while time.monotonic() < end and log.read_text().count('"schema"') < 5:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == 0, log.read_text()[-2000:]
    assert "stopped by a signal" in log.read_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
        held = conn.execute("SELECT COUNT(*) FROM due WHERE owner IS NOT NULL").fetchone()[0]
        assert held == 0  # what it had claimed and not looked at was given back
