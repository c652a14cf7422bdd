from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli import main
from rollout.commands.init import starter_text
from rollout.loading import load


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return tmp_path


def test_init_writes_a_commented_plan_that_validates(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    text = (work / "plan.yaml").read_text()
    assert text == starter_text()
    assert sum(1 for ln in text.splitlines() if ln.lstrip().startswith("#")) >= 10  # commented
    assert "wrote plan.yaml" in capsys.readouterr().out
    assert main(["validate", "plan.yaml"]) == 0
    assert capsys.readouterr().out.startswith("ok  plan.yaml (")
    loaded = load(work / "plan.yaml", env={})
    assert loaded.plan.steps[-1].weight == 100
    assert [s.name for s in loaded.spec.stages] == ["pilot", "expansion", "full"]
    assert not (work / ".rollout").exists()


def test_init_refuses_to_overwrite_without_force(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "plan.yaml").write_text("mine\n")
    assert main(["init"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (work / "plan.yaml").read_text() == "mine\n"
    assert main(["init", "--force"]) == 0
    assert (work / "plan.yaml").read_text() == starter_text()


def test_init_into_a_path_or_directory(work: Path) -> None:
    assert main(["init", "deploy/rollout.yaml"]) == 0
    assert (work / "deploy" / "rollout.yaml").read_text() == starter_text()
    (work / "dir").mkdir()
    assert main(["init", "dir"]) == 0
    assert (work / "dir" / "plan.yaml").exists()


def test_starter_ships_as_package_data() -> None:
    # pyproject lists starter.yaml as package data; importlib.resources finds it installed too.
    assert starter_text().startswith("# A rollout plan")
    assert "apiVersion: rollout/v1" in starter_text()
