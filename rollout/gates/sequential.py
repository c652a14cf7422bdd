"""Placeholder until the anytime-valid tests land: the threshold rule on each tick."""

from __future__ import annotations

from typing import Any

from rollout.gates import threshold
from rollout.gates.evaluate import Settings, Tick, Verdict
from rollout.spec import Gate


def evaluate(gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings) -> tuple[dict[str, Any], Verdict]:
    return threshold.evaluate(gate, state, tick, settings)
