"""Prices per model and the cost model: the shipped, versioned `pricing.yaml`, overridden by a
plan's `pricing:` section.

    pricing:                                   # in the plan; keys are `model` or `model@version`
      gpt-4.1@2025-04-14: {input_per_1k: 0.0018, output_per_1k: 0.0072}
      gpt-4o: {sku: provisioned, ptu_hour: 0.9}

A request's cost is input x input_per_1k / 1000 + cached x cached_input_per_1k / 1000 +
output x output_per_1k / 1000 (cached input is billed instead of, not on top of, input).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FILE = Path(__file__).with_name("pricing.yaml")
HOURS_PER_MONTH = 730.0


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sku: Literal["payg", "provisioned"] = "payg"
    input_per_1k: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cached_input_per_1k: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    output_per_1k: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    ptu_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    def per_token(self) -> tuple[float, float, float]:
        """(input, cached input, output) USD per token; cached falls back to input."""
        i = (self.input_per_1k or 0.0) / 1000.0
        c = self.cached_input_per_1k / 1000.0 if self.cached_input_per_1k is not None else i
        return i, c, (self.output_per_1k or 0.0) / 1000.0

    def request_cost(self, input_tokens: float, output_tokens: float, cached: float = 0.0) -> float:
        i, c, o = self.per_token()
        return (input_tokens - cached) * i + cached * c + output_tokens * o


class Entry(Price):
    model: str
    version: str | None = None


class PricingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    source: str
    models: list[Entry]


@functools.lru_cache(maxsize=1)
def shipped() -> PricingFile:
    import yaml

    return PricingFile.model_validate(yaml.safe_load(FILE.read_text(encoding="utf-8")))


def lookup(
    model: str,
    version: str | None,
    overrides: dict[str, Any] | None = None,
    *,
    sku: str = "payg",
) -> Price | None:
    """The price of `model` (at `version`): the plan's override first, then the shipped file."""
    for key in ([f"{model}@{version}"] if version else []) + [model]:
        got = (overrides or {}).get(key)
        if got is not None:
            return got if isinstance(got, Price) else Price.model_validate(got)
    best = None
    for e in shipped().models:
        if e.model != model or e.sku != sku:
            continue
        if e.version == version:
            return Price.model_validate(e.model_dump(exclude={"model", "version"}))
        best = best or e
    return Price.model_validate(best.model_dump(exclude={"model", "version"})) if best else None


def monthly_projection(
    base_cost_per_request: float, cand_cost_per_request: float, requests_per_hour: float
) -> dict[str, float | None]:
    """What moving all traffic to the candidate changes, at `requests_per_hour` (the numbers of
    `rollout plan`'s and `rollout status`'s projections; no relative change from a baseline
    that costs nothing)."""
    rel = cand_cost_per_request / base_cost_per_request - 1.0 if base_cost_per_request > 0 else None
    delta = (cand_cost_per_request - base_cost_per_request) * requests_per_hour * HOURS_PER_MONTH
    return {
        "baseline_per_request": base_cost_per_request,
        "candidate_per_request": cand_cost_per_request,
        "relative": rel,
        "monthly_delta": delta,
        "requests_per_hour": requests_per_hour,
    }
