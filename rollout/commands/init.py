"""`rollout init [PATH]`: write the commented starter plan (rollout/starter.yaml)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_OK, InvalidInput, RolloutError
from rollout.views import init as view


def starter_text() -> str:
    return resources.files("rollout").joinpath("starter.yaml").read_text(encoding="utf-8")


def run(path: Path, force: bool = False, output: str = "text", clock: Clock | None = None) -> int:
    path = Path(path)
    if path.is_dir():
        path = path / "plan.yaml"
    if path.exists() and not force:
        raise InvalidInput(f"{path} already exists; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_text(), encoding="utf-8")
    except OSError as exc:
        raise RolloutError(f"cannot write {path}: {exc.strerror or exc}") from None
    views.show(view, output, path)
    return EXIT_OK
