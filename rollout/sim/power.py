"""Power before apply: what a plan can decide at a given traffic, before anything moves.

For a healthy candidate (identical to the baseline) every gate's *safety* evidence, the
e-process that certifies `pass`, grows with the information the stage collects. Under the
normal approximation of each gate's per-tick statistic this is closed form:

* proportion (exact conditional test, `rollout.gates.sequential`): per tick the log odds ratio
  carries Fisher information I = p (1 - p) nA nB / (nA + nB); after information V the safety
  mixture is log sum_j w_j exp(g_j Z - g_j^2 V / 2) over the gate's own grid (stats.half_grid),
  with Z ~ Normal(theta0 V, V) and theta0 the tolerated log odds ratio (max_ratio at the
  baseline rate p);
* mean (normal-mixture confidence sequence): -S ~ Normal(W delta, sigma^2 W) with W the sum of
  the per-tick weights nA nB / (nA + nB) after the burn-in, and the e-value stats.nm_log_e
  with the mixing precision the burn-in tunes (stats.nm_rho).

A stage passes at the end of its bake when every required gate's latest verdict is `pass`, so
the chance of a verdict is the chance the terminal e-value is past 1/alpha_k (gates are
independent in the simulator, so the stage's chance is their product). The time to certify is
where the *median* path crosses. `tests/sim/test_power.py` checks these against `rollout
simulate` (within 10 points on three plans); figures in docs/benchmarks.md.

Traffic: `--traffic 1000/min` (also /s, /h), else the plan's simulated source
(requests_per_second), else none (the preview says it needs a rate).
"""

from __future__ import annotations

import re
from typing import Any

from rollout.errors import InvalidInput
from rollout.records import Plan

_RATE = re.compile(
    r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$"
)
_PER_MIN = {"s": 60.0, "sec": 60.0, "second": 60.0, "h": 1 / 60, "hour": 1 / 60}


def parse_traffic(text: str) -> float:
    """'1000/min', '20/s', '60000/h' or a bare number (per minute) -> requests per minute."""
    m = _RATE.match(text or "")
    if not m:
        raise InvalidInput(f"--traffic {text!r}: expected a rate such as 1000/min, 20/s or 60000/h")
    value = float(m.group(1).replace(",", "").replace("_", ""))
    rpm = value * _PER_MIN.get(m.group(2) or "min", 1.0)
    if not rpm > 0:
        raise InvalidInput(f"--traffic {text!r}: the rate must be above 0")
    return rpm


def simulated_config(plan: Plan) -> dict[str, Any] | None:
    """The plan's own simulated traffic (its `metrics` source), or None for real sources."""
    if plan.spec.metrics.type != "simulated":
        return None
    from rollout.metrics.simulated import Config

    return Config.model_validate(plan.spec.metrics.options()).model_dump()


def plan_rpm(plan: Plan) -> float | None:
    cfg = simulated_config(plan)
    return None if cfg is None else float(cfg["requests_per_second"]) * 60.0


def with_plan_traffic(scn: Any, plan: Plan) -> Any:
    """A built-in scenario in the plan's own simulated world: its request rate, its baseline's
    error rate and latency, its drift and incidents (the scenario still says how the candidate
    differs). Unchanged for a plan on real metrics."""
    cfg = simulated_config(plan)
    if cfg is None:
        return scn
    from rollout.sim.scenarios import BUILTIN
    from rollout.sim.traffic import Baseline

    own = BUILTIN.get(scn.name, {}).get("baseline", {})  # what the scenario itself sets wins
    b = {k: cfg["baseline"][k] for k in ("error_rate", "latency_median", "latency_sigma")}
    update: dict[str, Any] = {
        "requests_per_minute": float(cfg["requests_per_second"]) * 60.0,
        "baseline": Baseline(**{**b, **own}),
    }
    if scn.drift is None and cfg.get("drift"):
        update["drift"] = cfg["drift"]
    if not scn.incidents and cfg.get("incidents"):
        update["incidents"] = cfg["incidents"]
    return type(scn).model_validate({**scn.model_dump(), **update})
