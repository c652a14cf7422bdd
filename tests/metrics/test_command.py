"""Metrics source `command`: runs an eval per (variant, window), reads fields of its JSON."""

from __future__ import annotations

import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rollout import registry
from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.metrics.command import CommandSource, Config, parse_query
from rollout.registry import BuildContext

END = datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
W1 = Window(END - timedelta(seconds=60), END)
W2 = Window(END, END + timedelta(seconds=60))
VARIANTS = {
    "baseline": {"model": "gpt-4o", "model_version": "2024-08-06", "target": "gpt4o-support"},
    "candidate": {"model": "gpt-4.1", "model_version": None, "target": "gpt41-support"},
}

# An eval that logs its runs, echoes its environment and scores the candidate lower.
EVAL = """
import json, os, sys
with open("runs.log", "a") as f:
    f.write(os.environ["ROLLOUT_VARIANT"] + "\\n")
print("evaluating...", file=sys.stderr)
print("some log line on stdout")
cand = os.environ["ROLLOUT_VARIANT"] == "candidate"
print(json.dumps({
    "score": 3.5 if cand else 4.25, "n": 120, "events": 6 if cand else 3, "total": 120,
    "none": None, "zero": 0, "label": "x", "flag": True,
    "nested": {"accuracy": 0.75}, "odd-name": 2,
    "env": {k: v for k, v in os.environ.items() if k.startswith(("ROLLOUT_", "EVAL_"))},
    "cwd": os.getcwd(),
}))
"""


def make(tmp_path: Path, script: str = EVAL, **config: Any) -> CommandSource:
    (tmp_path / "eval.py").write_text(textwrap.dedent(script))
    cfg = Config.model_validate({"command": [sys.executable, "eval.py"], **config})
    return CommandSource(cfg, cwd=tmp_path, variants=VARIANTS, plan_name="support-bot")


def runs(tmp_path: Path) -> list[str]:
    p = tmp_path / "runs.log"
    return p.read_text().split() if p.exists() else []


@pytest.mark.slow  # starts a process
def test_reads_fields_per_variant(tmp_path: Path) -> None:
    src = make(tmp_path)
    assert src.query("candidate.score", W1) == 3.5
    assert src.query("baseline.score", W1) == 4.25
    assert src.query("candidate.nested.accuracy", W1) == 0.75
    assert src.query('candidate["odd-name"]', W1) == 2.0


@pytest.mark.slow  # starts a process
def test_expressions_serve_proportion_mean_and_value_gates(tmp_path: Path) -> None:
    src = make(tmp_path)
    assert src.query("candidate.events", W1) / src.query("candidate.total", W1) == 0.05
    assert src.query("candidate.score * candidate.n", W1) == 420.0
    assert src.query("(candidate.n - 20) / 4 + -1 + candidate.score ** 2", W1) == pytest.approx(
        25 - 1 + 12.25
    )


@pytest.mark.slow  # starts a process
def test_one_run_per_variant_and_window(tmp_path: Path) -> None:
    src = make(tmp_path)
    for q in ("events", "total", "score", "n"):
        src.query(f"candidate.{q}", W1)
        src.query(f"baseline.{q}", W1)
    assert sorted(runs(tmp_path)) == ["baseline", "candidate"]
    src.query("candidate.n", W2)
    assert runs(tmp_path).count("candidate") == 2
    assert src.runs == 3


@pytest.mark.slow  # starts a process
def test_environment_and_working_directory(tmp_path: Path) -> None:
    # The eval turns what it sees into numbers, so each fact is one query.
    echo = """
    import json, os
    e = os.environ
    print(json.dumps({
        "variant_is_candidate": int(e["ROLLOUT_VARIANT"] == "candidate"),
        "target_ok": int(e["ROLLOUT_TARGET"] == "gpt41-support"),
        "model_ok": int(e["ROLLOUT_MODEL"] == "gpt-4.1"),
        "version_empty": int(e["ROLLOUT_MODEL_VERSION"] == ""),
        "start_ok": int(e["ROLLOUT_WINDOW_START"] == "2026-01-01T12:00:00+00:00"),
        "end_ok": int(e["ROLLOUT_WINDOW_END"] == "2026-01-01T12:01:00+00:00"),
        "seconds": int(e["ROLLOUT_WINDOW_SECONDS"]),
        "query_ok": int(e["ROLLOUT_QUERY"] == "candidate.target_ok"),
        "plan_ok": int(e["ROLLOUT_PLAN"] == "support-bot"),
        "extra_env": int(e["EVAL_SAMPLES"]),
        "cwd_ok": int(os.path.exists("eval.py")),
    }))
    """
    src = make(tmp_path, echo, env={"EVAL_SAMPLES": "200"})
    assert src.query("candidate.target_ok", W1) == 1
    for field in (
        "variant_is_candidate",
        "model_ok",
        "version_empty",
        "start_ok",
        "end_ok",
        "query_ok",
        "plan_ok",
        "cwd_ok",
    ):
        assert src.query(f"candidate.{field}", W1) == 1, field
    assert src.query("candidate.seconds", W1) == 60
    assert src.query("candidate.extra_env", W1) == 200
    assert src.query("baseline.variant_is_candidate", W1) == 0


@pytest.mark.slow  # starts a process
def test_shell_string_command(tmp_path: Path) -> None:
    cfg = Config(
        command='echo "{\\"score\\": $EVAL_X, \\"variant\\": \\"$ROLLOUT_VARIANT\\"}"',
        env={"EVAL_X": "4.5"},
    )
    src = CommandSource(cfg, cwd=tmp_path, variants=VARIANTS)
    assert src.query("candidate.score", W1) == 4.5


@pytest.mark.slow  # starts a process
def test_nonzero_exit_is_an_error_never_a_pass_and_is_not_rerun_per_role(tmp_path: Path) -> None:
    script = """
    import json, sys
    open("runs.log", "a").write("x\\n")
    print(json.dumps({"score": 5.0, "n": 100}))
    print("Traceback: model endpoint returned 500", file=sys.stderr)
    sys.exit(3)
    """
    src = make(tmp_path, script)
    with pytest.raises(ProviderError) as e:
        src.query("candidate.score", W1)
    assert "exited with code 3" in str(e.value) and "endpoint returned 500" in str(e.value)
    with pytest.raises(ProviderError):
        src.query("candidate.n", W1)
    assert runs(tmp_path) == ["x"]


@pytest.mark.slow  # starts a process
def test_timeout_stops_the_command_tree(tmp_path: Path) -> None:
    # A shell whose child sleeps: the whole process group must go, not just the shell.
    cmd = "sleep 120 & echo $! > child.pid; wait; echo '{\"n\": 1}'"
    src = CommandSource(Config(command=cmd, timeout=1), cwd=tmp_path, variants=VARIANTS)
    with pytest.raises(ProviderError, match="longer than 1s"):
        src.query("candidate.n", W1)
    assert not _alive(int((tmp_path / "child.pid").read_text()))


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its reaper).

    Polls briefly for the kill to land.
    """
    import time

    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow  # starts a process
@pytest.mark.parametrize(
    "stdout", ["not json at all", "", "[1, 2, 3]", '"just a string"', '{"score": 4.2']
)
def test_output_that_is_not_a_json_object_is_an_error(tmp_path: Path, stdout: str) -> None:
    src = make(tmp_path, f"print({stdout!r})")
    with pytest.raises(ProviderError, match="JSON object"):
        src.query("candidate.score", W1)


@pytest.mark.slow  # starts a process
def test_missing_program_is_an_error(tmp_path: Path) -> None:
    src = CommandSource(
        Config(command=["no-such-eval-program-xyz"]), cwd=tmp_path, variants=VARIANTS
    )
    with pytest.raises(ProviderError, match="cannot run"):
        src.query("candidate.n", W1)
    with pytest.raises(ProviderError, match="not on PATH"):
        src.check()


@pytest.mark.slow  # starts a process
def test_null_nan_and_division_by_zero_are_no_data(tmp_path: Path) -> None:
    src = make(tmp_path)
    with pytest.raises(NoData):
        src.query("candidate.none", W1)
    with pytest.raises(NoData):
        src.query("candidate.events / candidate.zero", W1)
    nan = make(tmp_path, "print('{\"score\": NaN}')")
    with pytest.raises(NoData):
        nan.query("candidate.score", W2)


@pytest.mark.slow  # starts a process
@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("candidate.missing", "no field 'missing'.*it has: "),
        ("candidate.nested.missing", "no field 'nested.missing'"),
        ("candidate.label", "not a number"),
        ("candidate.flag", "not a number"),
        ("candidate.nested", "not a number"),
    ],
)
def test_bad_fields_are_errors(tmp_path: Path, query: str, match: str) -> None:
    with pytest.raises(ProviderError, match=match):
        make(tmp_path).query(query, W1)


@pytest.mark.slow  # starts a process
@pytest.mark.parametrize(
    "query",
    [
        "score",  # no variant: which run?
        "candidate.score / baseline.score",  # two variants in one query
        "__import__('os').system('echo hi')",
        "candidate.score if 1 else 0",
        "candidate",
        "candidate.score +",
        "candidate.n * 'x'",
    ],
)
def test_queries_outside_the_grammar_are_rejected(tmp_path: Path, query: str) -> None:
    src = make(tmp_path)
    with pytest.raises(ProviderError):
        src.query(query, W1)
    assert runs(tmp_path) in ([], ["candidate"])  # a rejected query never runs anything else


def test_parse_query_names_the_variant() -> None:
    assert parse_query("baseline.a * baseline.b")[1] == "baseline"


def test_check_finds_programs_and_directories(tmp_path: Path) -> None:
    make(tmp_path).check()  # sys.executable is an absolute, executable path
    (tmp_path / "run-eval.sh").write_text("#!/bin/sh\necho '{}'\n")
    with pytest.raises(ProviderError, match="not an executable"):
        CommandSource(Config(command=["./run-eval.sh"]), cwd=tmp_path, variants=VARIANTS).check()
    (tmp_path / "run-eval.sh").chmod(0o755)
    CommandSource(Config(command=["./run-eval.sh"]), cwd=tmp_path, variants=VARIANTS).check()
    with pytest.raises(ProviderError, match="does not exist"):
        CommandSource(Config(command="true"), cwd=tmp_path / "nope", variants=VARIANTS).check()


def test_config() -> None:
    assert Config.model_validate({"command": "x", "timeout": "10m"}).timeout == 600
    for bad in (
        {"command": []},
        {"command": "x", "timeout": 0},
        {"command": "x", "shell": True},
        {},
    ):
        with pytest.raises(ValidationError):
            Config.model_validate(bad)


@pytest.mark.slow  # starts a process
def test_built_through_the_registry_runs_in_the_plan_dir(tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "score.py").write_text(
        'import json, os\nprint(json.dumps({"n": len(os.listdir("."))}))\n'
    )
    ctx = BuildContext(plan_dir=tmp_path, variants=VARIANTS, plan_name="p")
    src = registry.build(
        "metrics", {"type": "command", "command": [sys.executable, "evals/score.py"]}, ctx
    )
    assert src.query("candidate.n", W1) == 1.0  # cwd is the plan dir: it holds just `evals`
    src2 = registry.build(
        "metrics", {"type": "command", "command": [sys.executable, "score.py"], "cwd": "evals"}, ctx
    )
    assert src2.query("candidate.n", W1) == 1.0
