from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.loading import load
from rollout.records import Phase, Run
from rollout.state import open_store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)

PLAN = (
    """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline: {model: gpt-4o, model_version: "2024-08-06", prompt: v1.md}
  candidate: {model: gpt-4.1, prompt: v2.md}
router: {type: file, path: .rollout/routes.json}
metrics: {type: simulated}
gates:
  - {name: error-rate, kind: proportion, events: 'e{variant="{{ variant }}"}',"""
    """ total: 't{variant="{{ variant }}"}', max_ratio: 1.25}
  - {name: latency, kind: value, query: 'p95{variant="{{ variant }}"}', max: 4}
stages:
  - {name: pilot, weight: 5, bake: 30m, gates: [latency]}
  - {name: expansion, weights: [25, 50], bake: 1h, approval: true}
  - {name: full, weight: 100, bake: 30m}
analysis: {interval: 1m}
"""
)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "v1.md").write_text("one\n")
    (tmp_path / "v2.md").write_text("two\n")
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return tmp_path


def test_table_shows_steps_total_time_hash_and_fingerprints(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "plan.yaml"]) == 0
    out = capsys.readouterr().out
    plan = load(work / "plan.yaml").plan
    for header in ("step", "stage", "weight", "duration", "gates / approval"):
        assert header in out
    rows = [ln for ln in out.splitlines() if re.match(r"\s*\d+ │", ln)]  # wrapped cells add lines
    assert len(rows) == len(plan.steps) == 11
    assert "set_weight" in rows[1] and "pilot" in rows[1] and "5%" in rows[1]
    assert (
        "analyze" in rows[2]
        and "30m every 1m" in rows[2]
        and "latency" in rows[2]
        and "error-rate" not in rows[2]
    )
    assert "approval" in rows[3] and "rollout promote" in rows[3] and "demo` (or --approve)" in out
    assert "promote" in rows[-1] and "100%" in rows[-1]
    assert "minimum total time: 3h" in out  # 30m + 1h + 1h + 30m
    assert f"plan hash: {plan.plan_hash}" in out
    assert plan.fingerprints["baseline"][:12] in out and plan.fingerprints["candidate"][:12] in out
    assert "state" not in out.split("plan hash")[1]  # no store: nothing said about one
    assert not (work / ".rollout").exists()  # and none was created


def test_json_schema(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "plan.yaml", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.plan/v1"
    assert doc["name"] == "demo" and len(doc["plan_hash"]) == 64
    assert doc["min_total_seconds"] == 3 * 3600
    assert [s["kind"] for s in doc["steps"]][:4] == [
        "preflight",
        "set_weight",
        "analyze",
        "approval",
    ]
    assert doc["steps"][2]["gates"] == ["latency"]
    assert doc["variants"]["baseline"]["model_version"] == "2024-08-06"
    assert len(doc["variants"]["candidate"]["fingerprint"]) == 64
    assert doc["state"] is None


def test_invalid_plan_exits_2(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "plan.yaml").write_text(PLAN.replace("weights: [25, 50]", "weights: [25, 5]"))
    assert main(["plan", "plan.yaml"]) == 2
    err = capsys.readouterr().err
    assert "plan.yaml:14:" in err and "stages[1].weights[1]" in err
    assert not (work / ".rollout").exists()


def _store_run(
    url: str, plan_file: Path, *, phase: Phase, step_index: int = 0, plan_hash: str | None = None
) -> None:
    plan = load(plan_file).plan
    run = Run(
        name=plan.name,
        plan_hash=plan_hash or plan.plan_hash,
        plan=plan,
        phase=phase,
        step_index=step_index,
        created_at=T0,
        updated_at=T0,
    )
    open_store(url).commit(run, [], expected_revision=0)


@pytest.mark.parametrize(
    ("phase", "same", "step", "action", "fragment"),
    [
        (
            Phase.PROGRESSING,
            True,
            4,
            "resume",
            "apply would resume attempt 1 (progressing) at step 5/11: set_weight 25",
        ),
        (Phase.COMPLETED, True, 0, "finished", "already completed: apply would say so and exit 0"),
        (Phase.ROLLED_BACK, True, 0, "finished", "`rollout retry demo` starts a new attempt"),
        (
            Phase.PROGRESSING,
            False,
            2,
            "new_attempt",
            "apply would start attempt 2; attempt 1 is still progressing",
        ),
        (Phase.ABORTED, False, 2, "new_attempt", "the plan changed since attempt 1"),
    ],
)
def test_says_what_apply_would_do_with_a_stored_run(
    work: Path,
    capsys: pytest.CaptureFixture[str],
    phase: Phase,
    same: bool,
    step: int,
    action: str,
    fragment: str,
) -> None:
    db = work / "state.db"
    url = f"sqlite:///{db}"
    _store_run(
        url, work / "plan.yaml", phase=phase, step_index=step, plan_hash=None if same else "0" * 64
    )
    assert main(["plan", "plan.yaml", "--state", url]) == 0
    out = capsys.readouterr().out
    assert fragment in out
    assert main(["plan", "plan.yaml", "--state", url, "-o", "json"]) == 0
    state = json.loads(capsys.readouterr().out)["state"]
    assert state["action"] == action and state["stored_attempt"] == 1


def test_no_run_of_this_name_and_env_var(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = work / "elsewhere.db"
    _store_run(f"sqlite:///{db}", work / "plan.yaml", phase=Phase.COMPLETED)
    (work / "other.yaml").write_text(PLAN.replace("name: demo", "name: other"))
    monkeypatch.setenv("ROLLOUT_STATE", f"sqlite:///{db}")
    assert main(["plan", "other.yaml"]) == 0
    assert "no run of this name yet: apply would start attempt 1" in capsys.readouterr().out


def test_default_store_is_read_when_present_and_never_created(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "plan.yaml", "--state", "sqlite:///missing/state.db"]) == 0
    assert not (work / "missing").exists()
    (work / ".rollout").mkdir()
    _store_run(
        "sqlite:///.rollout/state.db", work / "plan.yaml", phase=Phase.PROGRESSING, step_index=1
    )
    capsys.readouterr()
    assert main(["plan", "plan.yaml"]) == 0
    assert (
        "state (sqlite:///.rollout/state.db): same plan: apply would resume attempt 1"
        in capsys.readouterr().out
    )


def test_unreadable_store_warns_but_plan_still_works(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "junk.db").write_text("this is not a database")
    assert main(["plan", "plan.yaml", "--state", "sqlite:///junk.db"]) == 0
    out, err = capsys.readouterr()
    assert "plan hash:" in out and "could not read the state store" in err


def test_quickstart_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    assert main(["plan", str(ROOT / "examples" / "quickstart" / "plan.yaml")]) == 0
    assert "rollout plan: quickstart" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
