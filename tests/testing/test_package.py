"""rollout.testing is importable without pytest (a plugin author may use another runner), and
its fakes keep their public names."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_public_names() -> None:
    import rollout.testing as t

    for name in ("FakeRouter", "ScriptedSource", "rates", "tiny_spec", "tiny_plan"):
        assert name in t.__all__ and callable(getattr(t, name))
    assert t.tiny_plan("x").spec.name == "x"


def test_suites_import_and_run_without_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in [
        m for m in sys.modules if m == "rollout.testing" or m.startswith("rollout.testing.")
    ]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pytest", None)  # `import pytest` now raises ImportError
    with pytest.raises(ImportError):
        importlib.import_module("pytest")
    suites = {
        "routers": "check_router",
        "metrics": "check_metrics_source",
        "deployments": "check_deployments",
        "state": "check_state_store",
    }
    for suite, runner in suites.items():
        module = importlib.import_module(f"rollout.testing.{suite}")
        assert callable(getattr(module, runner))
    from rollout.testing import FakeRouter
    from rollout.testing.routers import Harness, RouterConformance, check_router

    def harness() -> Harness:
        router = FakeRouter()

        def fail() -> None:
            router.fail_next = router.fail_reads = 10**6

        def recover() -> None:
            router.fail_next = router.fail_reads = 0

        return Harness(router=router, fail=fail, recover=recover, mentions="fake router")

    check_router(harness)  # the plain checks need no pytest
    assert not hasattr(RouterConformance.harness, "_pytestfixturefunction")
