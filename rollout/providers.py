"""Build a plan's router, metrics sources and deployments checker (lazily, from the registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout import registry
from rollout.records import Plan
from rollout.registry import BuildContext
from rollout.spec import Gate


@dataclass
class Providers:
    router: Any
    sources: dict[str, Any]  # "" is the plan's `metrics`; others by their `sources` name
    deployments: Any = None
    ctx: BuildContext = field(default_factory=lambda: BuildContext(Path("."), {}, ""))

    def source_for(self, gate: Gate) -> Any:
        return self.sources[gate.source or ""]


def plan_dir(plan: Plan) -> Path:
    return Path(plan.source).resolve().parent if plan.source else Path.cwd()


def context(plan: Plan, extra: dict[str, Any] | None = None) -> BuildContext:
    variants = {}
    for v, spec in plan.spec.variants.model_dump().items():
        variants[v] = {**spec, "target": spec.get("target") or v}
    return BuildContext(
        plan_dir=plan_dir(plan),
        variants=variants,
        plan_name=plan.name,
        fingerprints=dict(plan.fingerprints),
        extra=dict(extra or {}),
    )


def build_router(plan: Plan, extra: dict[str, Any] | None = None) -> Any:
    return registry.build("router", plan.spec.router.model_dump(), context(plan, extra))


def build_all(plan: Plan, extra: dict[str, Any] | None = None, *, router: Any = None) -> Providers:
    ctx = context(plan, extra)
    ctx.router = (
        router if router is not None else registry.build("router", plan.spec.router.model_dump(), ctx)
    )
    sources = {"": registry.build("metrics", plan.spec.metrics.model_dump(), ctx)}
    for name, spec in plan.spec.sources.items():
        sources[name] = registry.build("metrics", spec.model_dump(), ctx)
    deployments = None
    if plan.spec.deployments is not None:
        deployments = registry.build("deployments", plan.spec.deployments.model_dump(), ctx)
    return Providers(router=ctx.router, sources=sources, deployments=deployments, ctx=ctx)
