"""`rollout init`: where the starter plan went and what to run next, or `rollout.init/v1`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCHEMA = "rollout.init/v1"


def data(path: Path) -> dict[str, Any]:
    return {"path": str(path), "next": [f"rollout validate {path}", f"rollout plan {path}"]}


def human(path: Path) -> list[str]:
    return [f"wrote {path}", f"next: rollout validate {path}  then  rollout plan {path}"]
