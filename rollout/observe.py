"""The one observation path: metrics -> readings -> Tick, shared by `apply` and `simulate`.

Both drivers of the engine hand `read_tick` a `fetch(variant, role) -> float`; everything that
turns missing or broken data into a reading is decided here, once, so the tool that tunes a plan
judges exactly like the tool that runs it:

* NoData for the candidate: no data for the gate in this window (inconclusive, a gap).
* NoData for the baseline: tolerated (a 100 % stage has no baseline traffic); absolute bounds
  still judge the candidate.
* a failed query (ProviderError, InvalidInput): a source error; never a pass.
* an impossible reading (events > total, negative, NaN, inf): a source error with the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rollout.errors import InvalidInput, NoData, ProviderError
from rollout.gates.evaluate import Tick
from rollout.spec import Gate

Fetch = Callable[[str, str], float]  # (variant, role) -> value; raises NoData / ProviderError


def read_tick(
    gate: Gate,
    variants: Iterable[str],
    fetch: Fetch,
    *,
    at: datetime,
    stage: str,
    weight: int,
) -> Tick:
    roles = tuple(gate.queries())
    readings: dict[str, dict[str, float]] = {}
    for variant in variants:
        try:
            values = {role: float(fetch(variant, role)) for role in roles}
        except NoData:
            if variant == "candidate":
                return Tick(at=at, stage=stage, weight=weight, readings=None)
            continue
        except (ProviderError, InvalidInput) as exc:
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=str(exc))
        except (TypeError, ValueError) as exc:  # a source that returned something not a number
            error = f"{gate.name}: the {variant} query returned a value that is not a number: {exc}"
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=error)
        problem = impossible(gate, variant, values)
        if problem is not None:
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=problem)
        readings[variant] = values
    return Tick(at=at, stage=stage, weight=weight, readings=readings)


def impossible(gate: Gate, variant: str, values: dict[str, float]) -> str | None:
    """A reading no real traffic can produce: a source error, never evidence."""
    import importlib

    try:  # the gate layer's own, fuller check (rollout.gates.readings), when it ships
        checks: Any = importlib.import_module("rollout.gates.readings")
    except ImportError:
        checks = None
    if checks is not None:
        found: str | None = checks.problem(gate, variant, values)
        return found
    for role, v in values.items():
        if not math.isfinite(v):
            return f"{gate.name}: the {variant} {role} query returned {v}"
        if v < 0 and role in ("events", "total", "count", "sum_squares"):
            return f"{gate.name}: the {variant} {role} query returned a negative count ({v:g})"
    if gate.kind == "proportion" and values["events"] > values["total"] * (1 + 1e-9) + 1e-9:
        return (
            f"{gate.name}: the {variant} query returned {values['events']:,.0f} events for "
            f"{values['total']:,.0f} requests"
        )
    return None
