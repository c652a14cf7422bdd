from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from rollout import registry
from rollout.client import Routes
from rollout.errors import ProviderError
from rollout.records import Weights
from rollout.routers.file import SCHEMA, FileRouter
from rollout.testing.routers import Harness, RouterConformance


def make_router(context: Any) -> FileRouter:
    router = registry.build(
        "router",
        {"type": "file", "path": "routes/support-bot.json", "create_dirs": True},
        context(),
    )
    assert isinstance(router, FileRouter)
    return router


class TestFileConformance(RouterConformance):
    @pytest.fixture
    def harness(self, context: Any, tmp_path: Path) -> Harness:
        router = make_router(context)
        routes_dir = router.path.parent
        aside = tmp_path / "routes.aside"

        # Running as root, permissions do not stop writes; a file where the directory should be
        # breaks reads and writes for everyone.
        def fail() -> None:
            routes_dir.mkdir(parents=True, exist_ok=True)
            routes_dir.rename(aside)
            routes_dir.write_text("not a directory")

        def recover() -> None:
            routes_dir.unlink()
            aside.rename(routes_dir)

        def serve(n: int) -> dict[str, int]:
            # What the application serves: rollout.client reading the routes file.
            from rollout.client import Routes

            routes = Routes(router.path)
            counts = {"baseline": 0, "candidate": 0}
            for i in range(n):
                counts[routes.choose(f"user-{i}").variant] += 1
            return counts

        return Harness(
            router=router, fail=fail, recover=recover, mentions=str(router.path), serve=serve
        )


def read(router: FileRouter) -> dict[str, Any]:
    return json.loads(router.path.read_text())


def test_document_shape(context: Any, tmp_path: Path) -> None:
    router = make_router(context)
    assert router.path == tmp_path / "routes" / "support-bot.json"  # relative to the plan
    router.set_weights(Weights.of(5))
    doc = read(router)
    assert doc["schema"] == SCHEMA
    assert doc["rollout"] == "support-bot"
    assert doc["revision"] == 1
    assert doc["variants"] == [
        {
            "name": "baseline",
            "weight": 95,
            "target": "gpt4o-support",
            "model": "gpt-4o",
            "model_version": "2024-08-06",
            "fingerprint": "b" * 64,
        },
        {
            "name": "candidate",
            "weight": 5,
            "target": "gpt41-support",
            "model": "gpt-4.1",
            "model_version": "2025-04-14",
            "fingerprint": "c" * 64,
        },
    ]


def test_target_defaults_to_variant_name(tmp_path: Path) -> None:
    router = FileRouter(tmp_path / "r.json")
    router.set_weights(Weights.of(50))
    assert [v["target"] for v in read(router)["variants"]] == ["baseline", "candidate"]


def test_revision_bumps_on_change_and_not_on_repeat(context: Any) -> None:
    router = make_router(context)
    router.set_weights(Weights.of(5))
    router.set_weights(Weights.of(25))
    assert read(router)["revision"] == 2
    before = os.stat(router.path)
    router.set_weights(Weights.of(25))  # same weights: the file is left alone
    after = os.stat(router.path)
    assert read(router)["revision"] == 2
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_variants_rewrite_with_same_weights(context: Any, tmp_path: Path) -> None:
    make_router(context).set_weights(Weights.of(25))
    other = FileRouter(
        tmp_path / "routes" / "support-bot.json",
        {"candidate": {"target": "gpt41-v2"}},
        {},
        "support-bot",
    )
    other.set_weights(Weights.of(25))
    doc = read(other)
    assert doc["revision"] == 2
    assert doc["variants"][1]["target"] == "gpt41-v2"


def test_missing_file_is_all_baseline(tmp_path: Path) -> None:
    assert FileRouter(tmp_path / "r.json").get_weights() == Weights.all_baseline()


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "other/v1", "variants": []}', "not a rollout.routes/v1 file"),
        ("[1, 2]", "not a rollout.routes/v1 file"),
        (
            json.dumps(
                {
                    "schema": SCHEMA,
                    "variants": [
                        {"name": "baseline", "weight": 90},
                        {"name": "candidate", "weight": 20},
                    ],
                }
            ),
            "sum to 100",
        ),
        (json.dumps({"schema": SCHEMA, "variants": [{"weight": 90}]}), "unusable variants"),
        (b"\xff\xfe\x00", "unreadable"),
    ],
)
def test_corrupt_file_is_a_provider_error(
    tmp_path: Path, content: str | bytes, expect: str
) -> None:
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ProviderError) as err:
        FileRouter(path).get_weights()
    assert str(path) in str(err.value)
    assert expect in str(err.value)


def test_set_replaces_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{half a file")
    router = FileRouter(path)
    router.set_weights(Weights.all_baseline())  # abort must work even over a broken file
    assert router.get_weights() == Weights.all_baseline()
    assert read(router)["revision"] == 1


def test_directory_in_place_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "r.json").mkdir()
    router = FileRouter(tmp_path / "r.json")
    with pytest.raises(ProviderError, match="unreadable"):
        router.get_weights()
    with pytest.raises(ProviderError, match="cannot write routes file"):
        router.set_weights(Weights.of(5))
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"], "no temp file left behind"


def test_failed_replace_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = FileRouter(tmp_path / "r.json")
    router.set_weights(Weights.of(5))

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ProviderError, match="No space left on device"):
        router.set_weights(Weights.of(25))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    assert router.get_weights() == Weights.of(5)  # the old file is intact


def test_file_is_readable_by_the_app(tmp_path: Path) -> None:
    router = FileRouter(tmp_path / "r.json")
    router.set_weights(Weights.of(5))
    assert stat.S_IMODE(router.path.stat().st_mode) == 0o644  # not mkstemp's 0600
    router.path.chmod(0o640)  # an operator's choice is kept across writes
    router.set_weights(Weights.of(25))
    assert stat.S_IMODE(router.path.stat().st_mode) == 0o640


def test_the_client_reads_what_the_router_writes(context: Any) -> None:
    router = make_router(context)
    router.set_weights(Weights.of(100))
    choice = Routes(router.path).choose("user-1")
    assert (choice.variant, choice.target, choice.model, choice.fingerprint) == (
        "candidate",
        "gpt41-support",
        "gpt-4.1",
        "c" * 64,
    )
    router.set_weights(Weights.all_baseline())
    choice = Routes(router.path).choose("user-1")
    assert (choice.variant, choice.target, choice.model_version) == (
        "baseline",
        "gpt4o-support",
        "2024-08-06",
    )


def test_config_is_strict() -> None:
    from pydantic import ValidationError

    from rollout.routers import file

    with pytest.raises(ValidationError):
        file.Config.model_validate({"path": "x.json", "pth": "typo"})
