"""`rollout azure upgrades list|plan` through `main([...])`, against the fake ARM read by the real
azure-mgmt-cognitiveservices SDK (tests/fakes/arm.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import main
from rollout.loading import load
from tests.azure.test_upgrades import arm, client
from tests.deployments.test_azure_openai import ACCT
from tests.fakes.arm import FakeArm


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeArm:
    a = arm()
    seen: list[str] = []

    def bound(subscription: str) -> Any:
        seen.append(subscription)
        return client(a)

    monkeypatch.setattr("rollout.commands.azure_upgrades.management_client", bound)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.delenv("AZURE_RESOURCE_GROUP", raising=False)
    a.seen = seen  # type: ignore[attr-defined]
    return a


def where(a: FakeArm) -> list[str]:
    return ["--subscription", a.subscription, "-g", a.resource_group, "--account", ACCT]


def test_list_names_what_azure_would_move_and_why(
    fake: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["azure", "upgrades", "list", *where(fake)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"account {ACCT}:\ngpt4o-support: gpt-4o 2024-08-06 -> gpt-4o 2024-11-20")
    assert "Azure moves the whole deployment to it, with no canary" in out
    assert "gpt4o-batch" not in out  # already on the default version
    assert "next: rollout azure upgrades plan gpt4o-support --write upgrade.yaml" in out
    assert fake.seen == [fake.subscription]  # type: ignore[attr-defined]


def test_list_as_json_and_ids_from_the_environment(
    fake: FakeArm, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", fake.subscription)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", fake.resource_group)
    assert main(["azure", "upgrades", "list", "--account", ACCT, "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.azure_upgrades/v1" and doc["account"] == ACCT
    (u,) = doc["upgrades"]
    assert (u["deployment"], u["to_version"], u["automatic"]) == (
        "gpt4o-support",
        "2024-11-20",
        True,
    )
    assert u["when"] == "2026-03-01" and u["candidate_name"] == "gpt4o-support-2024-11-20"


def test_plan_writes_a_canary_plan_that_loads(
    fake: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "upgrade.yaml"
    argv = ["azure", "upgrades", "plan", "gpt4o-support", *where(fake), "--write", str(path)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(f"wrote {path}: canary of gpt-4o 2024-11-20")
    plan = load(path, env={}).plan
    assert plan.name == "upgrade-gpt4o-support-2024-11-20"
    assert plan.spec.variants.candidate.model_version == "2024-11-20"
    assert main(argv) == 2  # an existing file is kept
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main([*argv, "--force", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.azure_upgrade_plan/v1" and doc["path"] == str(path)
    assert doc["plan"] == path.read_text()


def test_plan_to_stdout_and_an_unknown_deployment_is_exit_2(
    fake: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["azure", "upgrades", "plan", "gpt4o-support", *where(fake)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Canary of Azure's upgrade of gpt4o-support")
    assert "version_upgrade: NoAutoUpgrade" in out
    assert main(["azure", "upgrades", "plan", "gpt4o-batch", *where(fake)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: deployment 'gpt4o-batch' of account")
    assert "(deployments with one: gpt4o-support)" in err


def test_an_azure_refusal_is_one_located_error_line(
    fake: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.inject(
        "GET", "/deployments", 403, {"error": {"code": "AuthorizationFailed", "message": "no"}}
    )
    assert main(["azure", "upgrades", "list", *where(fake)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not read the deployments of account {ACCT} in resource")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_ids_are_usage_errors_and_every_help_has_examples(
    fake: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["azure", "upgrades", "list", "--account", ACCT]) == 2
    assert capsys.readouterr().err.startswith("error: Missing option '--subscription'")
    for sub in ("list", "plan"):
        assert main(["azure", "upgrades", sub, "-h"]) == 0
        text = capsys.readouterr().out
        assert f"\n  Examples:\n    $ rollout azure upgrades {sub}" in text
        assert "-o, --output text|json" in text
    assert main(["azure", "upgrades", "-h"]) == 0
    assert "list" in capsys.readouterr().out
