"""Bad `evaluate:` input is a located plan error (file:line:col: field: message), exit 2, with
nothing created; a good one shows as the first step of `rollout plan`, offline at 0 %."""

from __future__ import annotations

import pytest

from tests.evaluation.conftest import EvalWorkspace


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_plan_shows_the_evaluation_as_step_one_offline_at_zero_percent(ws: EvalWorkspace) -> None:
    res = ws.cli("plan", str(ws.write_plan()))
    assert res.code == 0, res.err
    row = next(ln for ln in res.out.splitlines() if ln.startswith("1 "))
    assert "evaluate" in row and "0%" in row and "offline, 0 % traffic" in row
    doc = ws.cli("plan", str(ws.root / "plan.yaml"), "-o", "json").json()
    assert doc["steps"][0]["kind"] == "evaluate" and doc["steps"][0]["weight"] == 0
    assert doc["steps"][1]["kind"] == "preflight"


def test_a_missing_dataset_is_located_and_nothing_is_created(ws: EvalWorkspace) -> None:
    plan = ws.write_plan(dataset="evals/nope.jsonl")
    res = ws.cli("apply", str(plan))
    assert res.code == 2
    line = line_of(plan.read_text(), "dataset:")
    assert f"plan.yaml:{line}:" in res.err and "evaluate.dataset: dataset not found" in res.err
    assert not ws.db.exists() and not (ws.root / "routes.json").exists()


def test_a_dataset_outside_the_plan_folder_is_refused(ws: EvalWorkspace) -> None:
    res = ws.cli("validate", str(ws.write_plan(dataset="/etc/hostname")), state=False)
    said = res.out + res.err  # validate reports on stdout
    assert res.code == 2 and "evaluate.dataset: dataset /etc/hostname is outside" in said


@pytest.mark.parametrize(
    ("command", "field", "said"),
    [
        ("[no-such-eval-tool-xyz, run]", "evaluate.command[0]", "is not on PATH"),
        ("[./evals/missing.sh]", "evaluate.command[0]", "is not an executable file"),
        ("[]", "evaluate.command", "at least 1"),
    ],
)
def test_a_bad_command_is_located(ws: EvalWorkspace, command: str, field: str, said: str) -> None:
    plan = ws.write_plan(command=command)
    res = ws.cli("apply", str(plan))
    assert res.code == 2, res.err
    line = line_of(plan.read_text(), "command:")
    assert f"plan.yaml:{line}:" in res.err and f"{field}: " in res.err and said in res.err
    assert not ws.db.exists()


@pytest.mark.parametrize(
    ("gate", "said"),
    [
        ("{name: quality}", "exactly one of max_decrease, max_increase or min_increase"),
        ("{name: quality, max_decrease: 0.1, max_increase: 0.1}", "exactly one of"),
        ("{name: quality, max_decrease: -0.1}", "greater than or equal to 0"),
        ("{name: quality, metric: 'a b', max_decrease: 0.1}", "should match pattern"),
    ],
)
def test_bad_evaluate_gates_are_located(ws: EvalWorkspace, gate: str, said: str) -> None:
    plan = ws.write_plan()
    text = plan.read_text().replace(
        "- {name: quality, metric: score, max_decrease: 0.02}", f"- {gate}"
    )
    plan.write_text(text)
    res = ws.cli("validate", str(plan), state=False)
    got = res.out + res.err
    assert res.code == 2
    assert f"plan.yaml:{line_of(text, gate)}:" in got and "evaluate.gates[0]" in got
    assert said in got


def test_a_literal_secret_in_the_eval_env_is_refused(ws: EvalWorkspace) -> None:
    plan = ws.write_plan()
    plan.write_text(plan.read_text().replace('EVAL_MODE: ""', 'OPENAI_API_KEY: "sk-abc123"'))
    res = ws.cli("validate", str(plan), state=False)
    assert res.code == 2 and "evaluate.env.OPENAI_API_KEY" in res.out + res.err
    assert "sk-abc123" not in res.err + res.out


def test_a_plan_without_evaluate_hashes_as_before(ws: EvalWorkspace) -> None:
    """Adding the section to the language must not change the hash of existing plans (a stored
    run would otherwise see its own plan as changed)."""
    from rollout.loading import load

    plan = ws.write_plan()
    text = plan.read_text()
    start = text.index("evaluate:")
    end = text.index("gates:\n  - name: error-rate")
    plan.write_text(text[:start] + text[end:])
    loaded = load(plan, env={})
    dumped = loaded.spec.model_dump(mode="json", by_alias=True)
    assert "evaluate" not in dumped
    assert loaded.plan.steps[0].kind == "preflight"


def test_simulate_does_not_need_the_eval_tool(ws: EvalWorkspace) -> None:
    """simulate never runs the offline step (it says so), so the program need not exist here."""
    plan = ws.write_plan(command="[no-such-eval-tool-xyz]")
    assert ws.cli("validate", str(plan), state=False).code == 2
    res = ws.cli("simulate", str(plan), "--runs", "2", state=False)
    assert res.code == 0, res.out + res.err
    assert "completed 2" in res.out
