"""Build plans in tests without files: `make_plan(stages=[...], gates=[...])`."""

from __future__ import annotations

from typing import Any

from rollout.compile import compile_plan
from rollout.records import Plan
from rollout.spec import PlanSpec

ERROR_GATE = {
    "name": "error-rate",
    "kind": "proportion",
    "events": 'errors{variant="{{ variant }}"}',
    "total": 'requests{variant="{{ variant }}"}',
    "max_ratio": 1.5,
}


def spec_dict(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "rollout/v1",
        "kind": "Plan",
        "name": "demo",
        "variants": {"baseline": {"model": "gpt-4o"}, "candidate": {"model": "gpt-4.1"}},
        "router": {"type": "file", "path": "routes.json"},
        "metrics": {"type": "simulated"},
        "gates": [ERROR_GATE],
        "stages": [
            {"name": "pilot", "weight": 5, "bake": "60s"},
            {"name": "expansion", "weights": [25, 50], "bake": "60s"},
            {"name": "full", "weight": 100},
        ],
        "analysis": {"interval": "20s", "method": "threshold"},
    }
    d.update(over)
    return d


def make_plan(**over: Any) -> Plan:
    return compile_plan(PlanSpec.model_validate(spec_dict(**over)))


# A plan file as text, for tests that assert exact line numbers (test_load, commands/test_validate).
# The routes file sits under .rollout/ so "nothing was written" checks can look for that folder.
BASE = """\
apiVersion: rollout/v1
kind: Plan
name: demo
variants:
  baseline:
    model: gpt-4o
    prompt: prompts/v1.md
  candidate:
    model: gpt-4.1
    prompt: prompts/v2.md
router:
  type: file
  path: .rollout/routes.json
metrics:
  type: simulated
gates:
  - name: error-rate
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total: requests{variant="{{ variant }}"}
    max_ratio: 1.25
stages:
  - name: pilot
    weight: 5
    bake: 1m
  - name: expansion
    weights: [25, 50]
    bake: 1m
    gates: [error-rate]
  - name: full
    weight: 100
    bake: 1m
analysis:
  interval: 30s
"""


def with_line(n: int, old: str, new: str, text: str = BASE) -> str:
    """BASE with line n (1-based) changed; asserts the line holds `old`, so numbers stay honest."""
    lines = text.splitlines(keepends=True)
    assert old in lines[n - 1], (n, lines[n - 1])
    lines[n - 1] = lines[n - 1].replace(old, new)
    return "".join(lines)
