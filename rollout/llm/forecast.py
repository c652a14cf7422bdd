"""The cost projection of `rollout plan`: the candidate at 100 % before anything runs.

From prices (rollout/llm/pricing.yaml, the plan's `pricing:` first) and expected tokens and
traffic: a simulated source's configured mean input and output tokens per call and its rate (or
`--traffic`). A real source has no figures before traffic: the projection says so ("no
projection: ...", never zeros), and `rollout status` projects from the cost gate's readings
(rollout.llm.units.cost_projection). With a budget, it also says what the plan's bakes are
expected to spend on the candidate, so a cap too tight for a healthy rollout shows before apply.
Pure: no I/O, no numpy.
"""

from __future__ import annotations

from typing import Any

from rollout.llm.pricing import lookup, monthly_projection
from rollout.records import Plan

KEYS = ("baseline_per_request", "candidate_per_request", "relative", "requests_per_hour")


def planned(plan: Plan, rpm: float | None = None, traffic_from: str = "") -> dict[str, Any]:
    """The cost projection's numbers (the keys of units.cost_projection, plus `traffic` and
    `budget`), or the same keys set to None and a `note` that says why there are none."""
    spec = plan.spec
    cost = spec.cost_gate()
    src = spec.sources.get(cost.source) if cost is not None and cost.source else spec.metrics
    budget = spec.budget.max_candidate_cost if spec.budget is not None else None
    base: dict[str, Any] = {"gate": cost.name if cost is not None else None}
    base["budget"] = {"cap": budget, "expected_spend": None} if budget is not None else None
    if src is None or src.type != "simulated":
        kind = src.type if src is not None else "no"
        return _none(
            base,
            f"no projection: tokens per call are not known before traffic on a {kind} source; "
            "`rollout status` projects from the cost gate's readings",
        )
    from rollout.metrics.simulated import Config

    cfg = Config.model_validate(src.options())
    per: dict[str, float] = {}
    for v in ("baseline", "candidate"):
        var = getattr(spec.variants, v)
        price = lookup(var.model, var.model_version, spec.pricing)
        if price is None or price.input_per_1k is None or price.output_per_1k is None:
            key = f"{var.model}@{var.model_version}" if var.model_version else var.model
            return _none(
                base,
                f"no projection: no PAYG price for {key} ({v}) in rollout/llm/pricing.yaml; "
                f"set pricing: {{{key}: {{input_per_1k: ..., output_per_1k: ...}}}} in the plan",
            )
        prof = getattr(cfg, v)
        per[v] = price.request_cost(prof.input_tokens, prof.output_tokens)
    b, c = per["baseline"], per["candidate"]
    if rpm is None:
        rpm, traffic_from = cfg.requests_per_second * 60.0, "the plan's simulated source"
    rph = rpm * 60.0
    out = {
        **base,
        **monthly_projection(b, c, rph),
        "traffic": f"{rpm:,.0f} requests/min" + (f" ({traffic_from})" if traffic_from else ""),
        "note": None,
    }
    if budget is not None:
        out["budget"] = {"cap": budget, "expected_spend": bakes_spend(plan, c, rph)}
    return out


def bakes_spend(plan: Plan, per_request: float, requests_per_hour: float) -> float:
    """The candidate's expected spend over the plan's bakes at their weights (no extensions,
    no waits for a person: a floor on what apply spends)."""
    secs = sum(
        (s.duration or 0) * (s.weight or 0) / 100.0 for s in plan.steps if s.kind == "analyze"
    )
    return per_request * requests_per_hour * secs / 3600.0


def _none(base: dict[str, Any], note: str) -> dict[str, Any]:
    return {**base, **dict.fromkeys(KEYS), "monthly_delta": None, "traffic": None, "note": note}
