"""The parent name of a wave plan in `status`, `history`, `report` and `plan -o json` (issue #15),
end to end on the embedded default (SQLite, file routers, simulated traffic, fake clock):
examples/waves/plan.yaml's wave 2 fails, so wave 1 is rolled back as its on_failure says, wave 2
is back at its baseline and wave 3 never started — read with only the state store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.clock import FakeClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "waves" / "plan.yaml"
ONE, TWO, THREE = (
    "support-bot-canary-eastus",
    "support-bot-westeurope",
    "support-bot-swedencentral",
)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example applied once (wave 2 fails); the plan file removed afterwards."""
    root = tmp_path_factory.mktemp("waves")
    here = Path.cwd()
    try:
        import os

        os.chdir(root)
        shutil.copy(EXAMPLE, root / "plan.yaml")
        code = main(["apply", "plan.yaml", "--state", state(root)], clock=FakeClock())
        assert code == 3
        (root / "plan.yaml").unlink()  # from here on: the state store alone
    finally:
        os.chdir(here)
    return root


def state(root: Path) -> str:
    return f"sqlite:///{root / 'state.db'}"


def cli(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.chdir(root)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    capsys.readouterr()
    code = main([*args, "--state", state(root)], clock=FakeClock())
    return code, capsys.readouterr().out


@pytest.mark.slow  # three rollouts in virtual time
def test_status_of_the_parent_shows_each_wave_and_where_the_line_stopped(
    applied: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = cli(applied, capsys, monkeypatch, "status", "support-bot", "-o", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["schema"] == "rollout.waves/v1" and doc["name"] == "support-bot"
    rows = {r["wave"]: r for r in doc["waves"]}
    assert [r["rollout"] for r in doc["waves"]] == [ONE, TWO, THREE]
    # wave 1 as the plan says (on_failure: rollback), wave 2 at its baseline, wave 3 never started
    assert rows["canary-eastus"]["phase"] == "rolled_back"
    assert "on_failure: rollback" in rows["canary-eastus"]["message"]
    assert rows["westeurope"]["phase"] == "rolled_back" and rows["westeurope"]["candidate"] == 0
    assert rows["swedencentral"]["phase"] == "not started"
    assert rows["swedencentral"]["approval"] is True
    assert doc["stopped"]["wave"] == "westeurope"
    assert doc["stopped"]["never_started"] == ["swedencentral"]
    assert set(doc["rollouts"]) == {ONE, TWO}
    assert doc["rollouts"][TWO]["phase"] == "rolled_back"
    code, out = cli(applied, capsys, monkeypatch, "status", "support-bot")
    assert code == 0
    assert "wave 3 swedencentral never started because wave 2 westeurope rolled back" in out
    assert "not started" in out and ONE in out and TWO in out


@pytest.mark.slow
def test_history_of_the_parent_merges_the_waves_by_time(
    applied: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = cli(applied, capsys, monkeypatch, "history", "support-bot", "--limit", "0")
    assert code == 0, out
    assert "wave-stop" in out and "never started: swedencentral" in out
    code, out = cli(
        applied, capsys, monkeypatch, "history", "support-bot", "--limit", "0", "-o", "json"
    )
    events = json.loads(out)["events"]
    assert {e["rollout"] for e in events} == {ONE, TWO}
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    created = [e for e in events if e["kind"] == "wave"]
    assert [e["wave"] for e in created] == ["canary-eastus", "westeurope"]
    assert created[0]["data"]["parent"] == "support-bot"
    assert [w["wave"] for w in created[0]["data"]["waves"]] == [
        "canary-eastus",
        "westeurope",
        "swedencentral",
    ]

    # wave 1's way back after wave 2 failed is in the merged trail, not before wave 2's failure
    # (events of one time keep wave order: the store numbers events per rollout only)
    def at(wave: str, kind: str, phase: str | None = None) -> str:
        return next(
            e["at"]
            for e in events
            if (e["wave"], e["kind"], e["data"].get("phase")) == (wave, kind, phase)
        )

    assert at("canary-eastus", "phase", "completed") <= at("westeurope", "wave")
    assert at("canary-eastus", "phase", "rolled_back") >= at("westeurope", "phase", "rolled_back")
    assert at("westeurope", "wave-stop") >= at("westeurope", "phase", "rolled_back")


@pytest.mark.slow
def test_report_of_the_parent_has_the_line_and_each_wave(
    applied: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, md = cli(applied, capsys, monkeypatch, "report", "support-bot")
    assert code == 0, md
    assert md.startswith("## waves of `support-bot`")
    assert "| 3 | swedencentral | support-bot-swedencentral | not started |" in md
    assert "never started because wave 2 westeurope rolled back" in md
    assert f"### rollout `{ONE}`" in md and f"### rollout `{TWO}`" in md
    code, page = cli(applied, capsys, monkeypatch, "report", "support-bot", "--format", "html")
    assert code == 0 and page.count("<html") == 1 and page.count("<section>") == 2
    assert "<script" not in page
    code, out = cli(applied, capsys, monkeypatch, "report", "support-bot", "-o", "json")
    doc = json.loads(out)
    assert doc["stopped"]["index"] == 2 and set(doc["reports"]) == {ONE, TWO}


@pytest.mark.slow
def test_plan_json_carries_the_waves(
    applied: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLE, applied / "again.yaml")
    code, out = cli(applied, capsys, monkeypatch, "plan", "again.yaml", "-o", "json")
    assert code == 0, out
    waves = json.loads(out)["waves"]
    assert waves["parent"] == "support-bot"
    assert [r["phase"] for r in waves["waves"]] == ["rolled_back", "rolled_back", "not started"]
    assert waves["stopped"]["never_started"] == ["swedencentral"]


def test_an_unknown_name_is_still_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLE, tmp_path / "plan.yaml")
    from rollout.state import open_store

    open_store(state(tmp_path))  # an empty store: no wave line, no rollout
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = main(["status", "support-bot", "--state", state(tmp_path)], clock=FakeClock())
    assert code == 2 and "no rollout named 'support-bot'" in capsys.readouterr().err
