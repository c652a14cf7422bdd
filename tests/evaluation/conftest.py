"""Fixtures for the evaluate stage: a workspace (tmp_path) holding the shipped example's dataset
and eval command (examples/evaluate/evals: the tests run the very files a user copies), a plan
that runs them before a simulated-traffic rollout, a SQLite store, and `cli(...)` on a
FakeClock (as tests/commands does)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from rollout.clock import FakeClock
from tests.commands.conftest import Workspace

FIXTURES = Path(__file__).resolve().parents[2] / "examples" / "evaluate" / "evals"

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: support-bot
variants:
  baseline:  {{model: gpt-4o, model_version: "2024-08-06", prompt: prompts/baseline.txt}}
  candidate: {{model: {candidate}, prompt: prompts/candidate.txt}}
router: {{type: file, path: routes.json}}
metrics:
  type: simulated
  seed: 7
  requests_per_second: 200
  baseline:  {{error_rate: 0.01}}
  candidate: {{error_rate: 0.01}}
evaluate:
  command: {command}
  dataset: {dataset}
  timeout: {timeout}
  env: {{EVAL_MODE: "{mode}", EVAL_SHAPE: "{shape}"}}
  gates:
    - {{name: quality, metric: score, max_decrease: 0.02}}
    - {{name: pass-rate, metric: passed, max_decrease: 0.1, required: false}}
gates:
  - name: error-rate
    kind: proportion
    events: errors{{variant="{{{{ variant }}}}"}}
    total:  requests{{variant="{{{{ variant }}}}"}}
    max_ratio: 1.25
stages:
  - {{name: pilot,     weight: 5,  bake: 2m}}
  - {{name: full,      weight: 100}}
analysis: {{interval: 30s, method: sequential, alpha: 0.05, on_inconclusive: proceed}}
"""


def plan_text(
    *,
    candidate: str = "gpt-4.1",
    mode: str = "",
    shape: str = "lines",
    timeout: str = "2m",
    dataset: str = "evals/support.jsonl",
    command: str | None = None,
) -> str:
    if command is None:
        command = f'["{sys.executable}", evals/score.py]'
    return PLAN.format(
        candidate=candidate,
        mode=mode,
        shape=shape,
        timeout=timeout,
        dataset=dataset,
        command=command,
    )


class EvalWorkspace(Workspace):
    def write_plan(self, name: str = "plan.yaml", **kw: Any) -> Path:
        path = self.root / name
        path.write_text(plan_text(**kw))
        return path


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> EvalWorkspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / "evals").mkdir()
    for f in ("support.jsonl", "score.py"):
        shutil.copy(FIXTURES / f, tmp_path / "evals" / f)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "baseline.txt").write_text("You are a support agent.\n")
    (tmp_path / "prompts" / "candidate.txt").write_text("You are a helpful support agent.\n")
    return EvalWorkspace(tmp_path, FakeClock(), capsys)
