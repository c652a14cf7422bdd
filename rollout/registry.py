"""Name -> module for every pluggable part, imported only when used; plugins by entry point.

Each provider module exposes `Config` (a pydantic model of its plan options; importing the
module must not import a vendor SDK) and `build(config, ctx) -> instance`; a state backend
exposes `open_url(url) -> StateStore` instead. Built-in names are the tables below. A name that
is not built in is looked up, only then, among the installed distributions' entry points in
the kind's group (GROUPS), so `rollout --help` and every built-in plan never scan them; a
plugin cannot shadow a built-in name. docs/plugins.md shows a worked example.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from rollout.errors import InvalidInput

if TYPE_CHECKING:  # the Protocols the built objects must satisfy (no import at run time)
    from pydantic import BaseModel

    from rollout.deployments import DeploymentManager
    from rollout.metrics import MetricsSource
    from rollout.routers import Router

DIST = "rollout-llm"  # the distribution on PyPI (the import package and the command: rollout)

ROUTERS: dict[str, str] = {
    "file": "rollout.routers.file",
    "http": "rollout.routers.http",
    "azure-apim": "rollout.routers.azure_apim",
    "azure-appconfig": "rollout.routers.azure_appconfig",
    "litellm": "rollout.routers.litellm",
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

# Entry-point group per kind: `[project.entry-points."rollout.routers"] my-gw = "my_pkg.router"`.
GROUPS = {
    "router": "rollout.routers",
    "metrics": "rollout.metrics",
    "deployments": "rollout.deployments",
    "state": "rollout.state",
}

# What a built object must have, checked when a plugin builds one (a clear error at load, not
# an AttributeError in the middle of a rollout).
METHODS = {
    "router": ("get_weights", "set_weights"),
    "metrics": ("query", "check"),
    "deployments": ("preflight", "before_shift", "finalize"),
}


class RouterModule(Protocol):
    """A router module or plugin; `_: RouterModule = my_module` makes mypy check a plugin."""

    @property
    def Config(self) -> type[BaseModel]: ...  # the plan options' model (read-only member)

    def build(self, config: Any, ctx: BuildContext, /) -> Router: ...


class MetricsModule(Protocol):
    @property
    def Config(self) -> type[BaseModel]: ...

    def build(self, config: Any, ctx: BuildContext, /) -> MetricsSource: ...


class DeploymentsModule(Protocol):
    @property
    def Config(self) -> type[BaseModel]: ...

    def build(self, config: Any, ctx: BuildContext, /) -> DeploymentManager: ...


def module_for(kind: str, name: str) -> Any:
    """The module (or plugin object) building `kind` `name`; InvalidInput names the valid ones."""
    table = KINDS[kind]
    if name not in table:
        return _plugin(kind, name)
    try:
        return importlib.import_module(table[name])
    except ModuleNotFoundError as exc:  # an optional extra is not installed
        missing = exc.name or "a module"
        raise InvalidInput(
            f"{kind} type {name!r} needs {missing!r}, which is not installed "
            f"(try: pip install '{DIST}[{_extra_for(name)}]')"
        ) from exc


def _plugin(kind: str, name: str) -> Any:
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=GROUPS[kind])}
    if name not in found:
        valid = sorted({*KINDS[kind], *found})
        raise InvalidInput(
            f"unknown {kind} type {name!r}; valid: {', '.join(valid)} "
            f"(plugins register in the entry-point group {GROUPS[kind]!r})"
        )
    ep = found[name]
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin is the plugin's error, said as such
        dist = f" from {ep.dist.name}" if ep.dist is not None else ""
        raise InvalidInput(
            f"{kind} plugin {name!r}{dist} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
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
    router: Router | None = None  # sources that follow the router (simulated) read weights from it
    extra: dict[str, Any] = field(default_factory=dict)  # test hooks: transports, sessions


@overload
def build(kind: Literal["router"], spec: dict[str, Any], ctx: BuildContext) -> Router: ...
@overload
def build(kind: Literal["metrics"], spec: dict[str, Any], ctx: BuildContext) -> MetricsSource: ...
@overload
def build(
    kind: Literal["deployments"], spec: dict[str, Any], ctx: BuildContext
) -> DeploymentManager: ...
def build(
    kind: str, spec: dict[str, Any], ctx: BuildContext
) -> Router | MetricsSource | DeploymentManager:
    """Build a router / metrics source / deployments manager from `{type: ..., **options}`."""
    opts = dict(spec)
    name = opts.pop("type")
    mod = module_for(kind, name)
    config = mod.Config.model_validate(opts)
    built = mod.build(config, ctx)
    missing = [m for m in METHODS[kind] if not callable(getattr(built, m, None))]
    if missing:
        raise InvalidInput(
            f"{kind} type {name!r} built a {type(built).__name__} without "
            f"{', '.join(missing)} (see the {kind} Protocol in docs/plugins.md)"
        )
    return built


if TYPE_CHECKING:
    # mypy checks each built-in module against its kind's Protocol, as a plugin's tests can
    # (`_: RouterModule = my_plugin`). Never executed: no provider is imported at run time.
    from rollout.deployments import azure_openai
    from rollout.metrics import azure_monitor, command, log_analytics, prometheus, simulated
    from rollout.routers import azure_apim, azure_appconfig, file, http, litellm

    _file: RouterModule = file
    _http: RouterModule = http
    _apim: RouterModule = azure_apim
    _appconfig: RouterModule = azure_appconfig
    _litellm: RouterModule = litellm
    _simulated: MetricsModule = simulated
    _prometheus: MetricsModule = prometheus
    _azure_monitor: MetricsModule = azure_monitor
    _log_analytics: MetricsModule = log_analytics
    _command: MetricsModule = command
    _azure_openai: DeploymentsModule = azure_openai
