"""The fault harness: SIGKILL `rollout apply` at a named point, resume, and converge.

Each case runs `rollout apply` as a real process on a fast plan (simulated metrics, a routes
file, SQLite state, 1 s bakes, an approval given with --approve) with ROLLOUT_FAULTS=point:n, so
the process SIGKILLs itself the n-th time it reaches `point` (rollout.faults). Then a plain
`rollout apply` resumes it until it exits. The end must be the uninterrupted run's:

* the same routes file, byte for byte as JSON (weights, variants and the file's revision, which
  counts writes that changed it: a repeated or backward shift would bump it);
* the same event sequence (kind, candidate weight, verdict status, phase, stage), apart from the
  crash's own events (`takeover`, `interrupted`, and the `drift` that re-applies an interrupted
  shift) and timestamps;
* no shift repeated or backward, in the history and in the routes file as a watcher polling it
  every 10 ms saw it;
* the dead runner named in exactly one `takeover` event.

The uninterrupted baseline runs once, through tests/helpers/fault_trace.py, which counts how
often each point is reached, so every case is checked to kill at a point that is really reached.
Points counted per commit (sqlite_mid_commit, committed) and per router write are deterministic;
observe/commit/act also run in the runner's idle loops, so only their first occurrences are used.

The cases run four at a time (the processes mostly sleep through bakes); each one is still its
own test. Nothing here is timed: waits are deadlines on conditions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import procs

pytestmark = pytest.mark.slow

NAME = "faults"
PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: faults
variants:
  baseline:  {model: gpt-4o}
  candidate: {model: gpt-4.1}
router:  {type: file, path: routes.json}
metrics: {type: simulated, seed: 3, requests_per_second: 1000}
gates:
  - name: errors
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total: requests{variant="{{ variant }}"}
    max: 0.9
stages:
  - {name: pilot, weight: 5, bake: 1s}
  - {name: expansion, weights: [25, 50], bake: 1s, approval: true}
  - {name: full, weight: 100, bake: 1s}
analysis: {interval: 1s, method: threshold}
"""

# (point, occurrence, the boundary it stands for). Steps: 1 preflight, 2 set 5 %, 3 analyze,
# 4 approval, 5 set 25 %, 6 analyze, 7 set 50 %, 8 analyze, 9 set 100 %, 10 analyze, 11 promote.
# Commits of an uninterrupted run, in order: created, approved ahead, preflight, 5 % (+ its
# verification), pilot verdict, approval, 25 % (+), verdict, 50 % (+), verdict, 100 % (+),
# verdict, completed: 17 SQLite transactions, 15 of them by the runner.
CASES: list[tuple[str, int, str]] = [
    ("sqlite_mid_commit", 1, "mid-transaction: the run's creation"),
    ("sqlite_mid_commit", 2, "mid-transaction: --approve recorded ahead"),
    ("observe", 1, "before the first look (preflight not run)"),
    ("commit", 1, "preflight decided, not recorded"),
    ("sqlite_mid_commit", 3, "mid-transaction: preflight"),
    ("committed", 1, "step boundary preflight -> set 5 %"),
    ("commit", 2, "5 % decided, not recorded"),
    ("sqlite_mid_commit", 4, "mid-transaction: 5 % shift"),
    ("committed", 2, "between commit and router write: 5 %"),
    ("act", 2, "between commit and act: 5 %"),
    ("router_write", 1, "just before the router write: 5 %"),
    ("routes_tmp_written", 1, "mid router write: 5 % temp file written, not renamed"),
    ("router_written", 1, "router written, not verified: 5 %"),
    ("sqlite_mid_commit", 5, "mid-transaction: recording 5 % verified"),
    ("committed", 4, "step boundary pilot analysis -> approval"),
    ("committed", 5, "step boundary approval -> set 25 %"),
    ("committed", 6, "between commit and router write: 25 %"),
    ("routes_tmp_written", 2, "mid router write: 25 %"),
    ("router_written", 2, "router written, not verified: 25 %"),
    ("committed", 8, "step boundary 25 % analysis -> set 50 %"),
    ("committed", 9, "between commit and router write: 50 %"),
    ("router_write", 3, "just before the router write: 50 %"),
    ("routes_tmp_written", 3, "mid router write: 50 %"),
    ("sqlite_mid_commit", 12, "mid-transaction: recording 50 % verified"),
    ("committed", 12, "between commit and router write: 100 %"),
    ("routes_tmp_written", 4, "mid router write: 100 %"),
    ("router_written", 4, "router written, not verified: 100 %"),
    ("committed", 14, "step boundary full analysis -> promote"),
    ("sqlite_mid_commit", 17, "mid-transaction: completion"),
    ("committed", 15, "completion recorded, before the runner leaves"),
]
IDS = [f"{p}:{n}" for p, n, _ in CASES]
CRASH_KINDS = {"takeover", "interrupted"}


def _normal(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The sequence compared across runs: no timestamps, numbers or crash events."""
    out = []
    for e in events:
        if e["kind"] in CRASH_KINDS:
            continue
        if e["kind"] == "drift" and "interrupted shift" in e["message"]:
            continue  # the resume re-applying a shift the crash cut off
        d = e["data"]
        w = d.get("weights")
        out.append(
            (
                e["kind"],
                w.get("candidate") if isinstance(w, dict) else None,
                d.get("status"),
                d.get("phase"),
                d.get("stage"),
            )
        )
    return out


def _shifts(events: list[dict[str, Any]]) -> list[int]:
    return [
        e["data"]["weights"]["candidate"]
        for e in events
        if e["kind"] == "weights" and isinstance(e["data"].get("weights"), dict)
    ]


class Watcher:
    """Polls the routes file every 10 ms and keeps each change of the candidate weight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)
        self._t.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            w = procs.candidate(self.path)
            if w is not None and (not self.seen or self.seen[-1] != w):
                self.seen.append(w)
            time.sleep(0.01)

    def stop(self) -> list[int]:
        self._stop.set()
        self._t.join(timeout=5)
        w = procs.candidate(self.path)
        if w is not None and (not self.seen or self.seen[-1] != w):
            self.seen.append(w)
        return self.seen


@dataclass
class Outcome:
    workdir: Path
    faulted: Any = None
    resumes: list[Any] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[str, Any] | None = None
    seen: list[int] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    error: str | None = None


def _workdir(root: Path, tag: str) -> tuple[Path, str]:
    d = root / tag.replace(":", "-")
    d.mkdir()
    (d / "plan.yaml").write_text(PLAN)
    return d, f"sqlite:///{d / 'state.db'}"


def _run_case(root: Path, point: str, n: int) -> Outcome:
    d, state = _workdir(root, f"{point}:{n}")
    o = Outcome(d)
    try:
        watcher = Watcher(d / "routes.json")
        try:
            o.faulted = procs.run(
                d, "apply", "plan.yaml", "--approve", state=state, ROLLOUT_FAULTS=f"{point}:{n}"
            )
            for _ in range(3):  # resume until it exits with an outcome (one resume suffices)
                r = procs.run(d, "apply", "plan.yaml", "--approve", state=state)
                o.resumes.append(r)
                if r.returncode != 1:
                    break
        finally:
            o.seen = watcher.stop()
        o.events = procs.history(d, NAME, state)
        o.routes = procs.routes(d / "routes.json")
        o.leftovers = sorted(p.name for p in d.glob(".routes.json.*.tmp"))
    except Exception as exc:  # reported by the case's own test
        o.error = f"{type(exc).__name__}: {exc}"
    return o


@dataclass
class Baseline:
    events: list[dict[str, Any]]
    routes: dict[str, Any]
    reached: Counter[str]
    code: int
    out: str


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def baseline(root: Path) -> Baseline:
    d, state = _workdir(root, "uninterrupted")
    trace = d / "trace.txt"
    r = procs.run(
        d,
        "apply",
        "plan.yaml",
        "--approve",
        state=state,
        module="tests.helpers.fault_trace",
        ROLLOUT_FAULT_TRACE=str(trace),
    )
    doc = procs.routes(d / "routes.json")
    assert doc is not None, r.stdout + r.stderr
    reached = Counter(trace.read_text().split())
    return Baseline(procs.history(d, NAME, state), doc, reached, r.returncode, r.stdout + r.stderr)


@pytest.fixture(scope="module")
def outcomes(root: Path, baseline: Baseline, request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """Every selected case, run four at a time."""
    wanted = []
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if (
            spec is not None
            and "case" in spec.params
            and getattr(item, "module", None) is request.module
        ):
            wanted.append(spec.params["case"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {f"{p}:{n}": pool.submit(_run_case, root, p, n) for p, n, _ in wanted}
        return {k: f.result() for k, f in futures.items()}


def test_the_uninterrupted_run_completes_with_one_shift_per_weight(baseline: Baseline) -> None:
    assert baseline.code == 0, baseline.out
    assert _shifts(baseline.events) == [5, 25, 50, 100]
    assert baseline.routes["revision"] == 4  # one write per shift
    assert baseline.events[-1]["data"].get("phase") == "completed"
    # the points the cases kill at are all reached, the per-commit ones a fixed number of times
    assert baseline.reached["sqlite_mid_commit"] == 17
    assert baseline.reached["committed"] == 15
    assert {baseline.reached[p] for p in ("router_write", "routes_tmp_written")} == {4}
    assert len(set(CASES)) >= 20


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> tuple[str, int, str]:
    c: tuple[str, int, str] = request.param
    return c


def test_killed_at_a_point_resume_converges_to_the_uninterrupted_run(
    case: tuple[str, int, str], baseline: Baseline, outcomes: dict[str, Outcome]
) -> None:
    point, n, what = case
    assert n <= baseline.reached[point], f"{point}:{n} is never reached ({what})"
    o = outcomes[f"{point}:{n}"]
    assert o.error is None, o.error
    f = o.faulted
    assert f.returncode == -9, f"expected SIGKILL at {point}:{n}; got {f.returncode}\n{f.stderr}"
    last = o.resumes[-1]
    assert len(o.resumes) == 1 and last.returncode == 0, last.stdout + last.stderr

    assert o.routes == baseline.routes  # weights, variants and the count of writes
    assert _normal(o.events) == _normal(baseline.events)
    shifts = _shifts(o.events)
    assert shifts == sorted(set(shifts)) == [5, 25, 50, 100]  # none repeated, none backward
    assert o.seen == sorted(set(o.seen)), f"the routes file went {o.seen}"
    takeovers = [e for e in o.events if e["kind"] == "takeover"]
    assert len(takeovers) == 1, [e["message"] for e in o.events]
    assert f"pid {f.pid}" in takeovers[0]["message"]


def test_a_killed_write_leaves_its_temp_file_and_the_next_write_sweeps_it(
    root: Path, outcomes: dict[str, Outcome]
) -> None:
    """Killed between the temp file and the rename: the file the app reads is never half
    written; the temp file is swept by a later write once it is old enough not to be a
    concurrent writer's (60 s: backdated here rather than waited for)."""
    import os

    from rollout.records import Weights
    from rollout.routers.file import FileRouter

    o = outcomes.get("routes_tmp_written:1") or _run_case(root, "routes_tmp_written", 1)
    assert o.error is None, o.error
    assert len(o.leftovers) == 1, o.leftovers  # the resume's writes came within the minute
    left = o.workdir / o.leftovers[0]
    assert json.loads(left.read_text())["variants"][1]["weight"] == 5  # the write it cut off
    old = time.time() - 120
    os.utime(left, (old, old))
    FileRouter(o.workdir / "routes.json", name=NAME).set_weights(Weights.of(0))
    assert not left.exists()
    assert procs.candidate(o.workdir / "routes.json") == 0
