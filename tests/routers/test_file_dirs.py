"""The file router does not create a directory that does not exist (a typo'd path), unless the
plan says `create_dirs: true`; preflight fails with the path instead of saying "reachable"."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.errors import ProviderError
from rollout.records import Weights
from rollout.routers.file import FileRouter
from tests.commands.conftest import Workspace, plan_text
from tests.commands.conftest import ws as ws  # the command harness


def test_a_missing_directory_is_refused_and_not_created(tmp_path: Path) -> None:
    r = FileRouter(tmp_path / "nonexistent" / "dir" / "routes.json")
    with pytest.raises(ProviderError) as e:
        r.set_weights(Weights.of(5))
    assert f"directory {tmp_path / 'nonexistent'} does not exist" in str(e.value)
    assert "create_dirs: true" in str(e.value)
    with pytest.raises(ProviderError):
        r.get_weights()
    assert not (tmp_path / "nonexistent").exists()


def test_create_dirs_and_rollouts_own_directory(tmp_path: Path) -> None:
    r = FileRouter(tmp_path / "a" / "b" / "routes.json", create_dirs=True)
    r.set_weights(Weights.of(5))
    assert r.get_weights() == Weights.of(5)
    (tmp_path / ".rollout").mkdir()
    own = FileRouter(tmp_path / ".rollout" / "routes" / "x.json")  # as the examples do
    assert own.get_weights() == Weights.all_baseline()
    own.set_weights(Weights.of(5))
    assert own.get_weights() == Weights.of(5)


@pytest.mark.slow  # about a second
def test_preflight_names_the_missing_directory(ws: Workspace) -> None:
    plan = ws.root / "plan.yaml"
    plan.write_text(plan_text().replace("path: routes.json", "path: nonexistent/dir/r.json"))
    res = ws.cli("apply", str(plan))
    assert res.code == 1
    assert "nonexistent does not exist" in res.err and "reachable" not in res.err + res.out
    assert not (ws.root / "nonexistent").exists()
    plan.write_text(
        plan_text().replace("path: routes.json", "path: nonexistent/dir/r.json, create_dirs: true")
    )
    assert ws.cli("apply", str(plan)).code == 0
    assert (ws.root / "nonexistent" / "dir" / "r.json").exists()
