"""`rollout azure upgrades plan DEPLOYMENT`: the canary plan (printed, or where it was
written), or `rollout.azure_upgrade_plan/v1`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout.views.azure_upgrades import one

SCHEMA = "rollout.azure_upgrade_plan/v1"


def data(u: Any, text: str, path: Path | None) -> dict[str, Any]:
    return {"upgrade": one(u), "path": str(path) if path else None, "plan": text}


def human(u: Any, text: str, path: Path | None) -> list[str]:
    if path is None:
        return text.rstrip("\n").split("\n")
    return [
        f"wrote {path}: canary of {u.to_model} {u.to_version} for {u.deployment}",
        f"next: review the router members, then rollout plan {path} and rollout apply {path}",
    ]
