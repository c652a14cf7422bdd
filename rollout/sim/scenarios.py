"""Built-in scenarios and the YAML scenario file format.

A scenario file is the Scenario model as YAML, e.g.:

    name: slow-tail
    requests_per_minute: 500
    baseline:  {error_rate: 0.02, latency_median: 1.2, latency_sigma: 0.5}
    candidate: {tail_fraction: 0.03, tail_seconds: 3}
    incidents: [{start_minute: 30, minutes: 10, error_factor: 5}]
    series:    # optional: which simulated series answers a gate's query roles
      latency-tail: {events: 'latency_over{le="2.1"}', total: requests}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout.errors import InvalidInput
from rollout.sim.traffic import Scenario

BUILTIN: dict[str, dict[str, Any]] = {
    "healthy": {"description": "candidate identical to the baseline"},
    "error-1.5x": {
        "description": "candidate error rate 1.5x the baseline",
        "candidate": {"error_ratio": 1.5},
    },
    "error-2x": {
        "description": "candidate error rate 2x the baseline (1 % -> 2 %)",
        "candidate": {"error_ratio": 2.0},
    },
    "error-5x": {
        "description": "candidate error rate 5x the baseline",
        "candidate": {"error_ratio": 5.0},
    },
    "latency+10%": {
        "description": "every candidate request 10 % slower",
        "candidate": {"latency_factor": 1.10},
    },
    "latency+25%": {
        "description": "every candidate request 25 % slower",
        "candidate": {"latency_factor": 1.25},
    },
    "tail-regression": {
        "description": "3 % of candidate requests 3 s slower; median unchanged",
        "candidate": {"tail_fraction": 0.03, "tail_seconds": 3.0},
    },
    "drift": {
        "description": (
            "healthy candidate; base error rate drifts 0.5 % -> 2 % over 90 min "
            "(weights change meanwhile)"
        ),
        "baseline": {"error_rate": 0.005},
        "drift": {"error_rate_to": 0.02, "minutes": 90},
    },
    "incident": {
        "description": (
            "healthy candidate; a provider incident multiplies both variants' errors x5 for 10 min"
        ),
        "incidents": [{"start_minute": 20, "minutes": 10, "error_factor": 5}],
    },
    # LLM scenarios (issue #12): what moving to another model or prompt goes wrong with.
    "verbose": {
        "description": "candidate answers with 30 % more output tokens (its cost follows)",
        "candidate": {"output_tokens_factor": 1.3},
    },
    "cost-2x": {
        "description": "candidate costs twice as much per token (a pricier model)",
        "candidate": {"cost_factor": 2.0},
    },
    "throttling": {
        "description": "candidate deployment has 200k TPM: 429s once its share needs more",
        "candidate": {"capacity_tpm": 200_000},
    },
    "content-filter-spike": {
        "description": "candidate blocked by the content filter 5x as often (0.2 % -> 1 %)",
        "candidate": {"content_filter_ratio": 5.0},
    },
    "quality-0.05": {
        "description": "candidate's judge score 0.05 lower on a 0-1 scale (0.80 -> 0.75)",
        "candidate": {"quality_delta": -0.05},
    },
    "ttft+50%": {
        "description": "candidate's time to first token 50 % longer",
        "candidate": {"ttft_factor": 1.5},
    },
    "cheaper-equal-quality": {
        "description": "healthy: candidate costs 40 % less per token, same quality and behaviour",
        "candidate": {"cost_factor": 0.6},
    },
    "broken-router": {
        "description": "healthy candidate but the router sends 1.5x its weight to it (SRM)",
        "router_share_factor": 1.5,
    },
}


def builtin(name: str, **overrides: Any) -> Scenario:
    data = {"name": name, **BUILTIN[name]}
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return Scenario.model_validate(data)


def resolve(spec: str) -> Scenario:
    """A built-in name, or a path to a YAML scenario file."""
    if spec in BUILTIN:
        return builtin(spec)
    path = Path(spec)
    if not path.exists():
        raise InvalidInput(
            f"unknown scenario {spec!r}: not a built-in ({', '.join(BUILTIN)}) and no such file"
        )
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{spec}: cannot read the scenario: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{spec}: a scenario file is a YAML mapping")
    data.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{spec}: {msgs}") from None
