"""Waves (issue #15) on the embedded default — SQLite, file routers, simulated traffic — in
virtual time through `rollout.cli.main`: examples/waves/plan.yaml's second wave fails, so the
third never starts, the second is back at its baseline and the first does what the plan says;
every step of it is in `history`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.clock import FakeClock
from rollout.records import Phase
from rollout.state import open_store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "waves" / "plan.yaml"


class Ws:
    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.capsys, self.clock = root, capsys, FakeClock()
        self.state = f"sqlite:///{root / 'state.db'}"

    def cli(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main([*args, "--state", self.state], clock=self.clock)
        return code, self.capsys.readouterr().out

    def plan(self, text: str | None = None) -> Path:
        p = self.root / "plan.yaml"
        if text is None:
            shutil.copy(EXAMPLE, p)
        else:
            p.write_text(text)
        return p

    def candidate(self, region: str) -> int | None:
        f = self.root / ".rollout" / f"routes-{region}.json"
        if not f.exists():
            return None
        doc = json.loads(f.read_text())
        return int({v["name"]: v["weight"] for v in doc["variants"]}["candidate"])

    def kinds(self, name: str) -> list[str]:
        return [e.kind for e in open_store(self.state).history(name, limit=0)]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Ws:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return Ws(tmp_path, capsys)


@pytest.mark.slow  # over a second: rollouts wave by wave
def test_wave_two_fails_wave_three_never_starts_wave_one_rolls_back(ws: Ws) -> None:
    code, out = ws.cli("apply", str(ws.plan()))
    assert code == 3, out
    st = open_store(ws.state)
    one = st.load("support-bot-canary-eastus")
    two = st.load("support-bot-westeurope")
    assert one is not None and two is not None
    # wave 1 completed first (100 %), then was rolled back as its on_failure says
    assert one.phase == Phase.ROLLED_BACK and ws.candidate("eastus") == 0
    trail1 = st.history(one.name, limit=0)
    phases1 = [e.data.get("phase") for e in trail1 if e.kind == "phase"]
    assert phases1 == ["completed", "rolled_back"]
    assert "wave" in ws.kinds(one.name)
    # wave 2 was created only after wave 1 completed, and failed back to its baseline
    assert two.created_at >= next(e.at for e in trail1 if e.data.get("phase") == "completed")
    assert two.phase == Phase.ROLLED_BACK and ws.candidate("westeurope") == 0
    stop = [e for e in st.history(two.name, limit=0) if e.kind == "wave-stop"]
    assert len(stop) == 1 and stop[0].data["never_started"] == ["swedencentral"]
    # wave 3 never started: no rollout, its router never touched
    assert st.load("support-bot-swedencentral") is None and ws.candidate("swedencentral") is None
    assert "not started" in out and "support-bot-westeurope" in out
    # history shows it by name, like any rollout
    code, hist = ws.cli("history", "support-bot-westeurope")
    assert code == 0 and "the line stops" in hist
    code, hist1 = ws.cli("history", "support-bot-canary-eastus")
    assert code == 0 and "on_failure: rollback" in hist1
    # and the report's audit trail
    code, report = ws.cli("report", "support-bot-westeurope")
    assert code == 0 and "never started: swedencentral" in report
    # a re-run changes nothing: the line stays stopped, nothing rolled back twice
    code, _ = ws.cli("apply", str(ws.plan()))
    assert code == 3 and st.load("support-bot-swedencentral") is None
    assert [e.data.get("phase") for e in st.history(one.name, limit=0) if e.kind == "phase"] == [
        "completed",
        "rolled_back",
    ]


@pytest.mark.slow  # over a second: rollouts wave by wave
def test_hold_keeps_earlier_waves_on_the_candidate_and_says_so(ws: Ws) -> None:
    text = EXAMPLE.read_text().replace("on_failure: rollback", "on_failure: hold")
    code, out = ws.cli("apply", str(ws.plan(text)), "-o", "json")
    assert code == 3
    doc = json.loads(out[out.index('{\n  "schema": "rollout.waves/v1"') :])
    assert [w["phase"] for w in doc["waves"]] == ["completed", "rolled_back", "not started"]
    assert ws.candidate("eastus") == 100 and ws.candidate("westeurope") == 0
    assert "wave-hold" in ws.kinds("support-bot-canary-eastus")


@pytest.mark.slow  # over a second: rollouts wave by wave
def test_an_approval_wave_waits_before_its_first_stage(ws: Ws) -> None:
    healthy = EXAMPLE.read_text().replace("error_rate: 0.05", "error_rate: 0.01")
    code, _ = ws.cli("apply", str(ws.plan(healthy)))
    assert code == 5  # waves 1 and 2 completed; wave 3 waits for a person, nothing moved yet
    st = open_store(ws.state)
    three = st.load("support-bot-swedencentral")
    assert three is not None and three.phase == Phase.AWAITING_APPROVAL
    assert ws.candidate("swedencentral") in (None, 0)
    assert ws.candidate("eastus") == 100 and ws.candidate("westeurope") == 100
    code, _ = ws.cli("apply", str(ws.plan(healthy)), "--approve")
    assert code == 0 and ws.candidate("swedencentral") == 100


def test_duplicate_wave_names_are_a_located_error_and_nothing_changes(ws: Ws) -> None:
    text = EXAMPLE.read_text().replace("name: swedencentral", "name: westeurope")
    ws.capsys.readouterr()
    code = main(["apply", str(ws.plan(text)), "--state", ws.state], clock=ws.clock)
    err = ws.capsys.readouterr().err
    assert code == 2 and "duplicate wave name 'westeurope'" in err and "waves" in err
    assert not (ws.root / "state.db").exists() and not (ws.root / ".rollout").exists()
