from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollout.cli import main
from tests.helpers.plans import BASE, with_line

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with the prompts; the cwd for the test."""
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "v1.md").write_text("one\n")
    (tmp_path / "prompts" / "v2.md").write_text("two\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return tmp_path


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BAD = {  # class -> (line, old, new), expected "file:line:col: field"
    "malformed yaml": ((15, "type: simulated", "type: [simulated"), "plan.yaml:16:6: "),
    "wrong type": ((24, "weight: 5", "weight: five"), "plan.yaml:24:13: stages[0].weight: "),
    "out of range": (
        (24, "weight: 5", "weight: 101"),
        "plan.yaml:24:13: stages[0].weight: must be > 0 and <= 100",
    ),
    "decreasing": (
        (27, "[25, 50]", "[25, 20]"),
        "plan.yaml:27:19: stages[1].weights[1]: weights must rise across the plan: 20 follows 25",
    ),
    "duplicate stage": (
        (30, "name: full", "name: pilot"),
        "plan.yaml:30:11: stages[2].name: duplicate stage name 'pilot'",
    ),
    "unknown gate": (
        (29, "[error-rate]", "[latency]"),
        "plan.yaml:29:13: stages[1].gates[0]: unknown gate 'latency'",
    ),
    "missing prompt": (
        (7, "prompts/v1.md", "prompts/gone.md"),
        "plan.yaml:7:13: variants.baseline.prompt: prompt file not found",
    ),
    "unknown key": (
        (28, "bake: 1m", "bakee: 1m"),
        "plan.yaml:28:5: stages[1].bakee: unknown key 'bakee' (did you mean 'bake'?)",
    ),
    "undefined variable": (
        (6, "model: gpt-4o", "model: {{ baseline_model }}"),
        "plan.yaml:6:12: variants.baseline.model: undefined template variable 'baseline_model'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_plans_exit_2_with_line_and_field_and_write_nothing(
    work: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    (n, old, new), expected = BAD[case]
    (work / "plan.yaml").write_text(with_line(n, old, new))
    before = tree(work)
    assert main(["validate", "plan.yaml"]) == 2
    out, err = capsys.readouterr()
    assert expected in out
    assert "Traceback" not in out + err
    assert not (work / ".rollout").exists()
    assert tree(work) == before


def test_good_plan_prints_one_ok_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "plan.yaml").write_text(BASE)
    assert main(["validate", "plan.yaml"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ok  plan.yaml (10 steps, hash ") and lines[0].endswith(")")
    assert not (work / ".rollout").exists()


def test_many_files_one_line_each_and_exit_2_if_any_bad(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "a.yaml").write_text(BASE)
    (work / "b.yaml").write_text(with_line(24, "weight: 5", "weight: 0"))
    (work / "c.yaml").write_text(BASE.replace("name: demo", "name: other"))
    assert main(["validate", "a.yaml", "b.yaml", "c.yaml"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok  a.yaml (")
    assert lines[1].startswith("b.yaml:24:13: stages[0].weight: ")
    assert lines[2].startswith("ok  c.yaml (")
    assert lines[3] == "2 of 3 plans valid"


def test_json_output(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "a.yaml").write_text(BASE)
    (work / "b.yaml").write_text(with_line(27, "[25, 50]", "[25, 200]"))
    assert main(["validate", "a.yaml", "b.yaml", "--output", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.validate/v1" and doc["valid"] is False
    good, bad = doc["files"]
    assert good["valid"] and len(good["plan_hash"]) == 64 and good["steps"] == 10
    [p] = bad["problems"]
    assert (p["line"], p["column"], p["field"]) == (27, 19, "stages[1].weights[1]")


def test_vars_and_var_files_reach_the_template(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "plan.yaml").write_text(with_line(3, "name: demo", "name: {{ app }}-{{ team }}"))
    (work / "vars.yaml").write_text("team: ml\n")
    assert main(["validate", "plan.yaml", "--var", "app=bot", "--var-file", "vars.yaml"]) == 0
    assert main(["validate", "plan.yaml", "--var", "nonsense"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("ok  plan.yaml")
    assert "'nonsense' is not k=v" in err


def test_examples_quickstart_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples" / "quickstart" / "plan.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok  ")


@pytest.mark.slow  # starts a process
def test_real_process_exit_codes_and_no_traceback(work: Path) -> None:
    (work / "bad.yaml").write_text(with_line(26, "name: expansion", "name: pilot"))
    (work / "good.yaml").write_text(BASE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ROLLOUT_STATE", None)
    script = ROOT / ".venv" / "bin" / "rollout"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rollout"]
    bad = subprocess.run(
        [*cmd, "validate", "bad.yaml"], capture_output=True, text=True, env=env, timeout=60
    )
    assert bad.returncode == 2
    assert "bad.yaml:26:11: stages[1].name: duplicate stage name 'pilot'" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "rollout", "validate", "good.yaml"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert good.returncode == 0 and good.stdout.startswith("ok  good.yaml (10 steps, hash ")
    assert not (work / ".rollout").exists()
