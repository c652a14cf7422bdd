"""A plugin registered through an entry point (a dist-info on sys.path, as pip would install it)
is found by name, built, checked against its Protocol, and passes the Router suite; built-in
names never scan the entry points."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from rollout import registry
from rollout.errors import InvalidInput
from rollout.registry import BuildContext
from rollout.routers.file import FileRouter
from rollout.testing.routers import Harness, check_router

PLUGIN = '''
"""A router plugin: weights kept in memory, as a gateway would keep them."""
from pydantic import BaseModel

from rollout.errors import ProviderError
from rollout.records import Weights


class Config(BaseModel):
    gateway: str


class MemoryGateway:
    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        self.weights = Weights.all_baseline()
        self.down = False

    def _call(self) -> None:
        if self.down:
            raise ProviderError(f"gateway {self.gateway}: HTTP 503")

    def get_weights(self) -> Weights:
        self._call()
        return self.weights

    def set_weights(self, weights: Weights) -> None:
        self._call()
        self.weights = weights


def build(config: Config, ctx) -> MemoryGateway:
    return MemoryGateway(config.gateway)


class half:  # builds something that is not a router
    Config = Config

    @staticmethod
    def build(config, ctx):
        return object()
'''

ENTRY_POINTS = """
[rollout.routers]
memory-gateway = rollout_demo_plugin
half-router = rollout_demo_plugin:half
broken = rollout_demo_missing
file = rollout_demo_plugin
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    dist = site / "rollout_demo_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "rollout_demo_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rollout-demo-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    return site


def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(plan_dir=tmp_path, variants={}, plan_name="demo")


def test_an_entry_point_plugin_is_built_and_passes_the_router_suite(
    plugin: Path, tmp_path: Path
) -> None:
    def harness() -> Harness:
        router = registry.build(
            "router", {"type": "memory-gateway", "gateway": "gw-1"}, ctx(tmp_path)
        )
        assert type(router).__name__ == "MemoryGateway"
        return Harness(
            router=router,
            fail=lambda: setattr(router, "down", True),
            recover=lambda: setattr(router, "down", False),
            mentions="gw-1",
        )

    check_router(harness)


def test_its_options_are_validated_by_its_config(plugin: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="gateway"):
        registry.build("router", {"type": "memory-gateway"}, ctx(tmp_path))


def test_unknown_names_list_built_ins_and_plugins(plugin: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        registry.module_for("router", "nope")
    msg = str(err.value)
    assert "'nope'" in msg and "file" in msg and "memory-gateway" in msg
    assert "'rollout.routers'" in msg


def test_a_plugin_that_does_not_import_says_which_plugin(plugin: Path) -> None:
    with pytest.raises(InvalidInput, match=r"plugin 'broken' from rollout-demo-plugin"):
        registry.module_for("router", "broken")


def test_a_plugin_that_builds_no_router_is_refused(plugin: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without get_weights, set_weights"):
        registry.build("router", {"type": "half-router", "gateway": "g"}, ctx(tmp_path))


def test_a_plugin_cannot_shadow_a_built_in(plugin: Path, tmp_path: Path) -> None:
    router = registry.build("router", {"type": "file", "path": "routes.json"}, ctx(tmp_path))
    assert isinstance(router, FileRouter)


def test_built_in_names_never_scan_entry_points(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.metadata

    def scan(**kw: object) -> None:
        raise AssertionError("entry points scanned for a built-in name")

    monkeypatch.setattr(importlib.metadata, "entry_points", scan)
    router = registry.build("router", {"type": "file", "path": "routes.json"}, ctx(tmp_path))
    assert isinstance(router, FileRouter)
    with pytest.raises(AssertionError, match="scanned"):
        registry.module_for("router", "not-built-in")  # the scan happens, only for other names
