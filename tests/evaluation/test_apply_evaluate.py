"""`rollout apply` with an `evaluate:` section, end to end in process: the shipped dataset
(examples/evaluate/evals/support.jsonl, 40 items) and a real eval command (score.py, run as
a subprocess per variant) before a simulated-traffic rollout, on a FakeClock.

The must-show of issue #12: a worse candidate is stopped before any traffic moves."""

from __future__ import annotations

import json

import pytest

from rollout.records import Phase
from rollout.routers.file import SCHEMA
from tests.evaluation.conftest import EvalWorkspace

pytestmark = pytest.mark.slow  # starts processes (the eval command), a few per test


def routes_at_baseline(ws: EvalWorkspace) -> bytes:
    """A routes file as an app would have it before the rollout: all traffic on the baseline."""
    doc = {
        "schema": SCHEMA,
        "revision": 1,
        "variants": [{"name": "baseline", "weight": 100}, {"name": "candidate", "weight": 0}],
    }
    data = json.dumps(doc, indent=2).encode()
    (ws.root / "routes.json").write_bytes(data)
    return data


def history(ws: EvalWorkspace) -> list[dict[str, object]]:
    res = ws.cli("history", "support-bot", "-o", "json")
    assert res.code == 0, res.err
    events: list[dict[str, object]] = res.json()["events"]
    return events


def test_a_worse_candidate_is_stopped_before_any_traffic_moves(ws: EvalWorkspace) -> None:
    before = routes_at_baseline(ws)
    plan = ws.write_plan(candidate="gpt-4o-mini")  # scores ~0.15 lower on every item
    res = ws.cli("apply", str(plan))
    assert res.code == 3, res.err
    assert (ws.root / "routes.json").read_bytes() == before  # the router was never written
    run = ws.run("support-bot")
    assert run.phase == Phase.ROLLED_BACK
    assert run.step_index == 0 and run.desired is None and run.verified is None
    assert "no traffic was moved" in run.message
    v = run.verdicts["evaluate:quality"]
    assert v["status"] == "fail"
    ev = v["evidence"]
    assert ev["n"] == 40 and ev["n_expected"] == 40
    assert ev["mean_difference"] < -0.1 and ev["upper_bound"] < -0.02
    assert ev["margin"] == {"max_decrease": 0.02} and ev["alpha"] == 0.05
    assert ev["method"] == "paired t, plus-two"
    # history says why, with the paired numbers; no weights event at all
    events = history(ws)
    assert not [e for e in events if e["kind"] == "weights"]
    quality = [e for e in events if e["kind"] == "evaluate" and e["data"].get("gate") == "quality"]
    assert len(quality) == 1 and "40 paired items" in str(quality[0]["message"])
    assert quality[0]["data"]["evidence"]["upper_bound"] == ev["upper_bound"]
    assert "evaluate:quality: fail" in res.out
    # status says it too, and looking does not touch the router either
    status = ws.cli("status", "support-bot")
    assert "gate evaluate:quality: fail" in status.out
    assert (ws.root / "routes.json").read_bytes() == before


def test_a_worse_candidate_leaves_no_routes_file_behind(ws: EvalWorkspace) -> None:
    res = ws.cli("apply", str(ws.write_plan(candidate="gpt-4o-mini")))
    assert res.code == 3
    assert not (ws.root / "routes.json").exists()
    again = ws.cli("apply", str(ws.root / "plan.yaml"))
    assert again.code == 3 and "already rolled_back" in again.out  # a re-run stays red
    assert not (ws.root / "routes.json").exists()


def test_an_equal_candidate_passes_and_proceeds_to_the_pilot(ws: EvalWorkspace) -> None:
    log = ws.root / "runs.log"
    plan = ws.write_plan(candidate="gpt-4.1")  # same skill: only a small per-item wobble
    text = plan.read_text().replace(
        'EVAL_SHAPE: "lines"', f'EVAL_SHAPE: "lines", EVAL_LOG: "{log}"'
    )
    plan.write_text(text)
    res = ws.cli("apply", str(plan), "--until", "pilot")
    assert res.code == 0, res.err + res.out
    assert ws.candidate_weight() == 5  # the pilot ran
    run = ws.run("support-bot")
    v = run.verdicts["evaluate:quality"]
    assert v["status"] == "pass"
    assert v["evidence"]["lower_bound"] >= -0.02
    assert run.verdicts["error-rate"]["status"] in ("pass", "inconclusive")
    kinds = [e["kind"] for e in history(ws)]
    assert kinds.index("evaluate") < kinds.index("weights")  # evaluated before the first shift
    assert log.read_text().split() == ["baseline", "candidate"]
    # resumed: the passed evaluation is not run again; the rollout completes
    res = ws.cli("apply", str(plan))
    assert res.code == 0, res.err
    assert ws.candidate_weight() == 100
    assert log.read_text().split() == ["baseline", "candidate"]


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        (
            "exit",
            "exited with code 1: evaluating candidate (gpt-4.1) | judge endpoint returned 500",
        ),
        ("badjson", "not valid JSON"),
        ("nan", "not a finite number"),
        ("empty", "no per-item scores found"),
    ],
)
def test_a_failing_eval_command_never_passes(ws: EvalWorkspace, mode: str, said: str) -> None:
    before = routes_at_baseline(ws)
    res = ws.cli("apply", str(ws.write_plan(mode=mode)))
    assert res.code == 5, res.out  # paused (analysis.on_no_data: pause), nothing moved
    assert (ws.root / "routes.json").read_bytes() == before
    run = ws.run("support-bot")
    assert run.phase == Phase.PAUSED and run.step_index == 0 and run.desired is None
    assert said in run.message and "rollout resume support-bot" in run.message
    assert not any(k.startswith("evaluate:") for k in run.verdicts)


def test_a_timed_out_eval_command_is_stopped_and_never_passes(ws: EvalWorkspace) -> None:
    res = ws.cli("apply", str(ws.write_plan(mode="sleep", timeout="1s")))
    assert res.code == 5
    run = ws.run("support-bot")
    assert "ran longer than 1s and was stopped" in run.message
    assert not (ws.root / "routes.json").exists()


def test_on_no_data_rollback_ends_a_failed_evaluation_with_exit_3(ws: EvalWorkspace) -> None:
    plan = ws.write_plan(mode="exit")
    plan.write_text(plan.read_text().replace("on_inconclusive: proceed", "on_no_data: rollback"))
    res = ws.cli("apply", str(plan))
    assert res.code == 3
    run = ws.run("support-bot")
    assert run.phase == Phase.ROLLED_BACK and run.desired is None
    assert "exited with code 1" in run.message
    assert not (ws.root / "routes.json").exists()


def test_too_many_missing_items_is_inconclusive_and_stops(ws: EvalWorkspace) -> None:
    res = ws.cli("apply", str(ws.write_plan(mode="missing")))  # candidate skips 11 hard items
    assert res.code == 3
    v = ws.run("support-bot").verdicts["evaluate:quality"]
    assert v["status"] == "inconclusive"
    missing = v["evidence"]["missing"]
    assert missing["baseline"] == 0 and missing["candidate"] > 2
    assert missing["candidate_ids"] and "not judged" in v["summary"]
    assert not (ws.root / "routes.json").exists()


@pytest.mark.parametrize("shape", ["items", "scores"])
def test_the_other_output_shapes_are_read_alike(ws: EvalWorkspace, shape: str) -> None:
    res = ws.cli("apply", str(ws.write_plan(candidate="gpt-4o-mini", shape=shape)))
    assert res.code == 3
    assert ws.run("support-bot").verdicts["evaluate:quality"]["evidence"]["n"] == 40


def test_the_command_gets_the_variant_not_the_callers_secrets_in_messages(
    ws: EvalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef0123456789")
    script = ws.root / "evals" / "leak.py"
    script.write_text(
        "import os, sys\n"
        "print('key=' + os.environ['OPENAI_API_KEY'], file=sys.stderr)\n"
        "print(os.environ['ROLLOUT_VARIANT'], os.environ['ROLLOUT_MODEL'], file=sys.stderr)\n"
        "sys.exit(2)\n"
    )
    import sys

    res = ws.cli("apply", str(ws.write_plan(command=f'["{sys.executable}", evals/leak.py]')))
    assert res.code == 5
    run = ws.run("support-bot")
    assert "baseline gpt-4o" in run.message  # what the command saw, from its stderr tail
    assert "sk-test-0123456789abcdef" not in run.message + res.out + res.err


def test_resume_after_a_failed_eval_command_runs_the_evaluation_again(ws: EvalWorkspace) -> None:
    outage = ws.root / "judge-down"
    outage.write_text("")
    plan = ws.write_plan()
    text = plan.read_text().replace('EVAL_MODE: ""', f'EVAL_FAIL_FILE: "{outage}"')
    plan.write_text(text)
    assert ws.cli("apply", str(plan)).code == 5
    assert ws.run("support-bot").phase == Phase.PAUSED
    assert ws.cli("apply", str(plan)).code == 5  # still paused: apply does not rerun it alone
    outage.unlink()  # the judge is back
    assert ws.cli("resume", "support-bot").code == 0
    res = ws.cli("apply", str(plan), "--until", "pilot")
    assert res.code == 0, res.out + res.err
    run = ws.run("support-bot")
    assert run.verdicts["evaluate:quality"]["status"] == "pass" and ws.candidate_weight() == 5


def test_abort_with_the_plan_file_does_not_need_the_eval_tool(ws: EvalWorkspace) -> None:
    """An emergency abort from a machine without the eval program or its dataset still works:
    it never runs the evaluation."""
    plan = ws.write_plan()
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    assert ws.candidate_weight() == 5
    (ws.root / "evals" / "support.jsonl").unlink()
    plan.write_text(plan.read_text().replace(str(__import__("sys").executable), "no-such-tool"))
    assert ws.cli("validate", str(plan), state=False).code == 2  # still a plan error elsewhere
    res = ws.cli("abort", "support-bot", "--plan", str(plan))
    assert res.code == 0, res.out + res.err
    assert ws.candidate_weight() == 0


def test_the_verdicts_are_dated_when_the_scores_are_known(
    ws: EvalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each variant's eval takes ten (virtual) minutes: the verdicts are not back-dated to the
    look that started it."""
    from rollout.evaluation import command

    real = command.run_one

    def slow(*args: object, **kw: object) -> object:
        got = real(*args, **kw)  # type: ignore[arg-type]
        ws.clock.advance(600)
        return got

    monkeypatch.setattr(command, "run_one", slow)
    assert ws.cli("apply", str(ws.write_plan(candidate="gpt-4o-mini"))).code == 3
    events = history(ws)
    created = next(e for e in events if e["kind"] == "created")
    verdict = next(e for e in events if e["kind"] == "evaluate")
    from datetime import datetime

    gap = datetime.fromisoformat(str(verdict["at"])) - datetime.fromisoformat(str(created["at"]))
    assert gap.total_seconds() >= 1200


def test_adding_an_evaluation_mid_rollout_is_refused_in_place(ws: EvalWorkspace) -> None:
    """It runs before any traffic: added while the candidate serves 5 %, it would be skipped."""
    plan = ws.write_plan()
    text = plan.read_text()
    without = text[: text.index("evaluate:")] + text[text.index("gates:\n  - name: error") :]
    plan.write_text(without)
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    plan.write_text(text)
    res = ws.cli("apply", str(plan))
    assert res.code == 2
    assert "the evaluation was added" in res.err and "apply --restart" in res.err
    assert ws.candidate_weight() == 5 and ws.run("support-bot").attempt == 1
