"""Name -> "module:attr" for every pluggable part, imported only when used.

Each provider module exposes `Config` (a pydantic model of its plan options; importing the
module must not import a vendor SDK) and `build(config, ctx) -> instance`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.errors import InvalidInput

ROUTERS: dict[str, str] = {
    "file": "rollout.routers.file",
    "http": "rollout.routers.http",
    "azure-apim": "rollout.routers.azure_apim",
    "azure-appconfig": "rollout.routers.azure_appconfig",
}

METRICS: dict[str, str] = {
    "simulated": "rollout.metrics.simulated",
    "prometheus": "rollout.metrics.prometheus",
    "azure-monitor": "rollout.metrics.azure_monitor",
    "log-analytics": "rollout.metrics.log_analytics",
    "command": "rollout.metrics.command",
}

DEPLOYMENTS: dict[str, str] = {
    "azure-openai": "rollout.deployments.azure_openai",
}

STATE: dict[str, str] = {
    "sqlite": "rollout.state.sqlite",
    "postgresql": "rollout.state.postgres",
    "postgres": "rollout.state.postgres",
    "memory": "rollout.state.memory",
}

KINDS = {"router": ROUTERS, "metrics": METRICS, "deployments": DEPLOYMENTS, "state": STATE}


def module_for(kind: str, name: str) -> Any:
    table = KINDS[kind]
    if name not in table:
        raise InvalidInput(f"unknown {kind} type {name!r}; valid: {', '.join(sorted(table))}")
    try:
        return importlib.import_module(table[name])
    except ModuleNotFoundError as exc:  # an optional extra is not installed
        missing = exc.name or "a module"
        raise InvalidInput(
            f"{kind} type {name!r} needs {missing!r}, which is not installed "
            f"(try: pip install 'rollout[{_extra_for(name)}]')"
        ) from exc


def _extra_for(name: str) -> str:
    if name.startswith("azure") or name == "log-analytics":
        return "azure"
    if name.startswith("postgres"):
        return "postgres"
    return "dev"


@dataclass
class BuildContext:
    """What a provider may need besides its own options."""

    plan_dir: Path
    variants: dict[str, dict[str, Any]]  # variant -> {model, model_version, target, ...}
    plan_name: str
    fingerprints: dict[str, str] = field(default_factory=dict)
    router: Any = None  # metrics sources that follow the router (simulated) read weights from it
    extra: dict[str, Any] = field(default_factory=dict)  # test hooks: transports, sessions


def build(kind: str, spec: dict[str, Any], ctx: BuildContext) -> Any:
    """Build a router / metrics source / deployments checker from `{type: ..., **options}`."""
    opts = dict(spec)
    name = opts.pop("type")
    mod = module_for(kind, name)
    config = mod.Config.model_validate(opts)
    return mod.build(config, ctx)
