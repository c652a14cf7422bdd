"""Fixtures for in-process command tests: a temporary directory with a fast plan, a SQLite store
in it, and `cli(...)`, which runs `rollout.cli.main` on a FakeClock and returns what it printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import main
from rollout.clock import FakeClock
from rollout.records import Run
from rollout.state import StateStore, open_store

# Like the quickstart, at virtual speed: simulated traffic, a routes file, a pilot, an approval
# before expansion, then full. `{candidate_error}` makes a bad candidate (rolled back).
PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline:  {{model: gpt-4o, model_version: "2024-08-06"}}
  candidate: {{model: gpt-4.1, model_version: "2025-04-14"}}
router: {{type: file, path: routes.json}}
metrics:
  type: simulated
  seed: 7
  requests_per_second: 200
  baseline:  {{error_rate: 0.01}}
  candidate: {{error_rate: {candidate_error}}}
gates:
  - name: error-rate
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total:  requests{{variant="{{{{ variant }}}}"}}
    max_ratio: 1.25
stages:
  - {{name: pilot,     weight: 5,  bake: 2m}}
  - {{name: expansion, weight: 50, bake: 2m{approval}}}
  - {{name: full,      weight: 100}}
analysis: {{interval: 30s, method: sequential, alpha: 0.05, on_inconclusive: proceed}}
"""


def plan_text(*, candidate_error: float = 0.01, approval: bool = False) -> str:
    return PLAN.format(
        candidate_error=candidate_error, approval=", approval: true" if approval else ""
    )


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Workspace:
    root: Path
    clock: FakeClock
    capsys: pytest.CaptureFixture[str]

    @property
    def state(self) -> str:
        return f"sqlite:///{self.root / 'state.db'}"

    @property
    def db(self) -> Path:
        return self.root / "state.db"

    def write_plan(self, name: str = "plan.yaml", **kw: Any) -> Path:
        path = self.root / name
        path.write_text(plan_text(**kw))
        return path

    def cli(self, *args: str, state: bool = True) -> Result:
        """`rollout ARGS --state <tmp store>` in process; stdout and stderr captured."""
        self.capsys.readouterr()
        argv = [*args, "--state", self.state] if state else list(args)
        code = main(argv, clock=self.clock)
        cap = self.capsys.readouterr()
        return Result(code, cap.out, cap.err)

    def store(self) -> StateStore:
        return open_store(self.state)

    def run(self, name: str = "demo") -> Run:
        r = self.store().load(name)
        assert r is not None
        return r

    def candidate_weight(self) -> int:
        doc = json.loads((self.root / "routes.json").read_text())
        weights: dict[str, int] = {v["name"]: v["weight"] for v in doc["variants"]}
        return weights["candidate"]


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return Workspace(tmp_path, FakeClock(), capsys)
