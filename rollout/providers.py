"""Build a plan's router, metrics sources and deployments manager (lazily, from the registry).

The fields are typed with the plugin Protocols, so mypy checks every use the runner makes of a
router, a source or a deployments manager against the contract a plugin implements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout import registry
from rollout.deployments import DeploymentManager
from rollout.metrics import MetricsSource
from rollout.records import Plan
from rollout.registry import BuildContext
from rollout.routers import Router
from rollout.spec import Gate


@dataclass
class Providers:
    router: Router
    sources: dict[str, MetricsSource]  # "" is the plan's `metrics`; others by their `sources` name
    deployments: DeploymentManager | None = None
    ctx: BuildContext = field(default_factory=lambda: BuildContext(Path("."), {}, ""))

    def source_for(self, gate: Gate) -> MetricsSource:
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


def build_router(plan: Plan, extra: dict[str, Any] | None = None) -> Router:
    return registry.build("router", plan.spec.router.model_dump(), context(plan, extra))


def build_all(
    plan: Plan, extra: dict[str, Any] | None = None, *, router: Router | None = None
) -> Providers:
    ctx = context(plan, extra)
    built = (
        router
        if router is not None
        else registry.build("router", plan.spec.router.model_dump(), ctx)
    )
    ctx.router = built
    sources = {"": registry.build("metrics", plan.spec.metrics.model_dump(), ctx)}
    for name, spec in plan.spec.sources.items():
        sources[name] = registry.build("metrics", spec.model_dump(), ctx)
    deployments = None
    if plan.spec.deployments is not None:
        deployments = registry.build("deployments", plan.spec.deployments.model_dump(), ctx)
    return Providers(router=built, sources=sources, deployments=deployments, ctx=ctx)
