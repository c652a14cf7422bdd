"""`rollout azure upgrades list`: the deployments Azure would move and why, or
`rollout.azure_upgrades/v1`."""

from __future__ import annotations

import dataclasses
from typing import Any

SCHEMA = "rollout.azure_upgrades/v1"


def one(u: Any) -> dict[str, Any]:
    d = dataclasses.asdict(u)
    d["reasons"] = list(u.reasons)
    d["automatic"] = u.automatic
    d["candidate_name"] = u.candidate_name
    return d


def data(upgrades: list[Any], account: str) -> dict[str, Any]:
    return {"account": account, "upgrades": [one(u) for u in upgrades]}


def human(upgrades: list[Any], account: str) -> list[str]:
    from rollout.azure.upgrades import describe

    lines = [f"account {account}:", *describe(upgrades).split("\n")]
    if upgrades:
        lines.append(
            f"next: rollout azure upgrades plan {upgrades[0].deployment} --write upgrade.yaml "
            "(then review it and rollout apply upgrade.yaml)"
        )
    return lines
