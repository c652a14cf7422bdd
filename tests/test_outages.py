"""A metrics outage is never evidence: whatever the plan says on_inconclusive, whatever the
method, and for every plan the project ships (templates people copy), a candidate whose metrics
cannot be read is never promoted. The runner pauses (no data) or rolls back; traffic never
reaches 100 %."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rollout.clock import FakeClock
from rollout.errors import EXIT_ROLLED_BACK, EXIT_WAITING, NoData, ProviderError
from rollout.loading import load
from rollout.records import Plan, Weights
from rollout.runner import Runner, new_run
from rollout.state.memory import MemoryStore
from rollout.testing import FakeRouter, ScriptedSource, scripted_providers
from tests.helpers.plans import make_plan

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    [*ROOT.glob("examples/*/plan*.yaml"), *ROOT.glob("plans/*.yaml")], key=lambda p: str(p)
)


def _outage(mode: str):  # type: ignore[no-untyped-def]
    def answer(query: str, window: object) -> float | None:
        if mode == "fails":
            raise ProviderError("prometheus: HTTP 503 (after 5 attempts)")
        if mode == "nodata":
            raise NoData(query)
        if mode == "nan":
            return math.nan
        if mode == "zero":
            return 0.0
        if mode == "impossible":  # more events than requests
            return 10.0 if "error" in query or "events" in query else 1.0
        raise AssertionError(mode)

    return answer


def _drive(plan: Plan, mode: str) -> tuple[int, FakeRouter]:
    clock, store, router = FakeClock(), MemoryStore(), FakeRouter()
    source = ScriptedSource(_outage(mode))
    store.commit(new_run(plan, clock.now()), [], expected_revision=0)
    providers = scripted_providers(router, source, plan)
    providers.sources.update({name: source for name in plan.spec.sources})
    providers.deployments = None
    runner = Runner(plan=plan, store=store, providers=providers, clock=clock, max_loops=5000)
    return runner.run(), router


@pytest.mark.parametrize("mode", ["fails", "nodata", "nan", "zero", "impossible"])
@pytest.mark.parametrize("method", ["sequential", "threshold"])
@pytest.mark.parametrize("policy", ["extend", "proceed", "rollback"])
def test_an_outage_never_promotes(mode: str, method: str, policy: str) -> None:
    plan = make_plan(analysis={"interval": "20s", "method": method, "on_inconclusive": policy})
    code, router = _drive(plan, mode)
    assert code in (EXIT_WAITING, EXIT_ROLLED_BACK)
    assert all(w.candidate < 100 for w in router.calls)
    if code == EXIT_ROLLED_BACK:
        assert router.weights == Weights.all_baseline()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.parametrize("mode", ["fails", "nodata"])
def test_no_shipped_plan_promotes_a_candidate_it_never_measured(path: Path, mode: str) -> None:
    plan = load(path, env={}, variables={"subscription": "s", "resource_group": "rg"}).plan
    if not plan.spec.gates:
        pytest.skip("a plan without gates has nothing to measure")
    code, router = _drive(plan.model_copy(update={"source": str(path)}), mode)
    assert code in (EXIT_WAITING, EXIT_ROLLED_BACK), path
    assert all(w.candidate < 100 for w in router.calls), [w.candidate for w in router.calls]
