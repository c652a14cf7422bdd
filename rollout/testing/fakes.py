"""Fakes for tests and plugin authors: a router that records and can fail, scripted metrics,
and the smallest valid plan. Plain Python: no pytest needed to import or use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollout.errors import NoData, ProviderError
from rollout.metrics import Window
from rollout.records import Weights


class FakeRouter:
    """Holds weights in memory; `fail_next` makes the next N set_weights calls raise."""

    def __init__(self, weights: Weights | None = None) -> None:
        self.weights = weights or Weights.all_baseline()
        self.calls: list[Weights] = []
        self.fail_next = 0
        self.fail_reads = 0

    def get_weights(self) -> Weights:
        if self.fail_reads:
            self.fail_reads -= 1
            raise ProviderError("fake router: read failed")
        return self.weights

    def set_weights(self, weights: Weights) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ProviderError("fake router: unavailable")
        self.calls.append(weights)
        self.weights = weights


class ScriptedSource:
    """Answers `<role>:<variant>` style queries from a function of (query, window)."""

    def __init__(self, answer: Callable[[str, Window], float | None]) -> None:
        self.answer = answer
        self.queries: list[tuple[str, Window]] = []

    def query(self, query: str, window: Window) -> float:
        self.queries.append((query, window))
        v = self.answer(query, window)
        if v is None:
            raise NoData(query)
        return v

    def check(self) -> None:
        return None


def rates(
    router: FakeRouter, *, rps: float, error: dict[str, float]
) -> Callable[[str, Window], float | None]:
    """Expected-value traffic (no noise) that follows the router: answers
    `requests{variant="x"}` and `errors{...}`."""

    def answer(query: str, window: Window) -> float | None:
        variant = "candidate" if "candidate" in query else "baseline"
        n = rps * window.seconds * getattr(router.weights, variant) / 100.0
        if query.startswith("errors"):
            return n * error[variant]
        return n

    return answer


def scripted_providers(router: Any, source: Any, plan: Any) -> Any:
    """Providers for a runner built from fakes (no registry)."""
    from rollout.providers import Providers, context

    ctx = context(plan)
    ctx.router = router
    return Providers(router=router, sources={"": source}, ctx=ctx)


def tiny_spec(name: str = "demo", router: dict[str, Any] | None = None) -> Any:
    """The smallest valid PlanSpec (for tests that need a Plan but not its contents)."""
    from rollout.spec import PlanSpec

    return PlanSpec.model_validate(
        {
            "apiVersion": "rollout/v1",
            "kind": "Plan",
            "name": name,
            "variants": {"baseline": {"model": "a"}, "candidate": {"model": "b"}},
            "router": router or {"type": "file", "path": "routes.json"},
            "metrics": {"type": "simulated"},
            "stages": [{"name": "full", "weight": 100}],
        }
    )


def tiny_plan(name: str = "demo", router: dict[str, Any] | None = None) -> Any:
    """A compiled Plan around tiny_spec, for state and router tests."""
    from rollout.records import Plan

    return Plan(name=name, plan_hash="h", steps=(), spec=tiny_spec(name, router), fingerprints={})
