"""`rollout undo`: where the undo plan was written, and whether it was started."""

from __future__ import annotations

from typing import Any

SCHEMA = "rollout.undo/v1"


def human(name: str, target: str, path: str, changed: list[str], *, started: bool) -> list[str]:
    lines = [f"undo of {name}: plan {target} written to {path} (variants swapped, same gates)"]
    if started:
        lines.append(f"starting {target}: traffic moves back to the previous baseline by stages")
    else:
        lines.append(f"review it, then: rollout apply {path}")
    return lines


def notes(name: str, target: str, path: str, changed: list[str], *, started: bool) -> list[str]:
    return [f"{c}: fingerprint differs from what {name} recorded" for c in changed]


def data(name: str, target: str, path: str, changed: list[str], *, started: bool) -> dict[str, Any]:
    return {
        "undoes": name,
        "rollout": target,
        "plan_file": path,
        "started": started,
        "fingerprints_changed": changed,
    }
