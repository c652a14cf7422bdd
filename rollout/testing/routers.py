"""The Router conformance suite: what every router must do, whatever it talks to.

A plugin's tests subclass `RouterConformance` and give it one fixture, `harness`, that returns
a `Harness` around a fresh router and its (fake) provider:

    from rollout.testing.routers import Harness, RouterConformance

    class TestApimConformance(RouterConformance):
        @pytest.fixture
        def harness(self, fake_apim):
            router = build_router_somehow(transport=fake_apim.transport, sleep=lambda s: None)
            return Harness(
                router=router,
                fail=lambda: setattr(fake_apim, "status", 500),  # the provider fails
                recover=lambda: setattr(fake_apim, "status", None),  # ...and works again
                mentions="backends/pool",  # what a user needs in the error (resource, URL)
            )

pytest collects the inherited tests (round trips at 0/5/25/50/100, idempotence, a failure
as ProviderError with a clear message, the engine's rollback path after a failure has
cleared, and "the served split equals the set split"). Outside pytest,
`check_router(make_harness)` runs the same checks and raises AssertionError on the first that
does not hold. Whatever the provider does with retries, the
harness must inject a sleep that does not sleep.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rollout import engine
from rollout.errors import ProviderError
from rollout.metrics import Window
from rollout.records import Phase, Plan, Run, Step, Weights
from rollout.routers import Router
from rollout.testing._check import clear_message, fixture, parametrize, raises
from rollout.testing.fakes import tiny_spec

WEIGHTS = (0, 5, 25, 50, 100)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Harness:
    router: Router
    fail: Callable[[], None]  # from now on every call to the provider fails
    recover: Callable[[], None]  # the provider works again (its state is kept)
    mentions: str = ""  # text a failure's message must contain, so the user knows what failed
    # Sends n requests through the provider as its gateway (or the app's library) routes them
    # and returns how many each variant got: {"baseline": b, "candidate": c}. None: the
    # served-split check uses only the router's own `served` (when it has one).
    serve: Callable[[int], dict[str, int]] | None = None
    requests: int = 20_000  # per weight, for `serve`


def run_at(weights: Weights, phase: Phase = Phase.PROGRESSING) -> tuple[Plan, Run]:
    """A minimal plan and a run that recorded `weights` as desired."""
    plan = Plan(
        name="conformance",
        plan_hash="c0ffee",
        steps=(Step(kind="preflight"),),
        spec=tiny_spec("conformance"),
        fingerprints={},
    )
    run = Run(
        name=plan.name,
        plan_hash=plan.plan_hash,
        plan=plan,
        phase=phase,
        desired=weights,
        created_at=NOW,
        updated_at=NOW,
    )
    return plan, run


def apply(router: Router, decision: engine.Decision) -> None:
    """What the runner does with a decision's actions."""
    for action in decision.actions:
        router.set_weights(action.weights)


# -- the checks (each one usable on its own) ------------------------------------------------------


def check_round_trip(h: Harness, candidate: int) -> None:
    w = Weights.of(candidate)
    h.router.set_weights(w)
    got = h.router.get_weights()
    assert got == w, f"set {w}, read back {got}"


def check_sequence(h: Harness) -> None:
    """A whole rollout and its rollback, in order: every read sees the last write."""
    for c in (*WEIGHTS, 0):
        check_round_trip(h, c)


def check_idempotent(h: Harness) -> None:
    w = Weights.of(25)
    h.router.set_weights(w)
    h.router.set_weights(w)
    assert h.router.get_weights() == w
    assert h.router.get_weights() == w  # reading does not change anything either


def check_failure(h: Harness) -> None:
    h.router.set_weights(Weights.of(5))
    h.fail()
    with raises(ProviderError, "set_weights on a failing provider") as set_err:
        h.router.set_weights(Weights.of(25))
    with raises(ProviderError, "get_weights on a failing provider") as get_err:
        h.router.get_weights()
    for err in (set_err.value, get_err.value):
        assert err is not None
        clear_message(err, h.mentions)
    h.recover()
    got = h.router.get_weights()
    assert got == Weights.of(5), f"a failed set_weights changed what the router reports: {got}"


def check_rollback_after_failure(h: Harness) -> None:
    """A gate fails at 25 %; the router is down when the rollback is applied; once it is back,
    the engine's heal (recorded desired vs observed) puts the baseline back."""
    h.router.set_weights(Weights.of(25))
    plan, run = run_at(Weights.of(25))
    decision = engine.rollback(run, NOW, "gate failed: error-rate")
    assert [a.weights for a in decision.actions] == [Weights.all_baseline()]
    assert decision.run.desired == Weights.all_baseline()
    h.fail()
    with raises(ProviderError, "a rollback through a failing provider"):
        apply(h.router, decision)  # the runner leaves it to the next tick
    h.recover()
    observed = h.router.get_weights()
    assert observed == Weights.of(25), f"a failed set must not half-apply: read {observed}"
    heal = engine.advance(plan, decision.run, engine.Observation(weights=observed), NOW)
    assert [a.weights for a in heal.actions] == [Weights.all_baseline()], "the engine asks again"
    apply(h.router, heal)
    assert h.router.get_weights() == Weights.all_baseline()
    verify = engine.advance(plan, heal.run, engine.Observation(weights=h.router.get_weights()), NOW)
    assert verify.actions == (), "baseline confirmed: nothing more to do"


def within_sigmas(got: int, n: int, weight: int, sigmas: float = 4.0) -> bool:
    """`got` of `n` requests is within `sigmas` binomial standard deviations of weight %."""
    p = weight / 100
    return abs(got - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1e-9


def check_served_split(h: Harness, candidate: int) -> bool:
    """What the provider serves is the split that was set: requests routed through it (the
    harness's `serve`) within 4 standard deviations, and the router's own report of what it
    serves (`served`, see rollout.routers.ServedSplit) equal to the set split. Returns False
    when the harness and router give nothing to check."""
    served = getattr(h.router, "served", None)
    if h.serve is None and served is None:
        return False
    w = Weights.of(candidate)
    h.router.set_weights(w)
    if h.serve is not None:
        counts = h.serve(h.requests)
        n = sum(counts.values())
        assert n > 0, "serve() routed no request"
        assert within_sigmas(counts.get("candidate", 0), n, candidate), (
            f"set {w}, the provider served {counts} ({counts.get('candidate', 0) / n:.2%} "
            "candidate): more than 4 standard deviations off"
        )
    if served is not None:
        window = Window(NOW, NOW + timedelta(minutes=1))
        got = served(window)
        if got is not None and h.serve is not None and 0 < candidate < 100:
            # A measured report carries the same sampling noise (plus rounding to a percent).
            n = sum(counts.values())
            slack = 4 * math.sqrt(candidate * (100 - candidate) / n) + 1
            assert abs(got.candidate - candidate) <= slack, f"set {w}, served() says {got}"
        elif got is not None:
            assert got == w, f"set {w}, served() says {got}"
    return True


def check_router(make_harness: Callable[[], Harness]) -> None:
    """Every check, each on a fresh harness."""
    for c in WEIGHTS:
        check_round_trip(make_harness(), c)
        check_served_split(make_harness(), c)
    check_sequence(make_harness())
    check_idempotent(make_harness())
    check_failure(make_harness())
    check_rollback_after_failure(make_harness())


class RouterConformance:
    """Subclass in a test module and provide the `harness` fixture (see the module docstring)."""

    @fixture
    def harness(self) -> Harness:
        raise NotImplementedError("a RouterConformance subclass provides the `harness` fixture")

    @parametrize("candidate", WEIGHTS)
    def test_round_trip(self, harness: Harness, candidate: int) -> None:
        check_round_trip(harness, candidate)

    def test_sequence(self, harness: Harness) -> None:
        check_sequence(harness)

    def test_idempotent(self, harness: Harness) -> None:
        check_idempotent(harness)

    def test_failure_is_a_clear_provider_error(self, harness: Harness) -> None:
        check_failure(harness)

    def test_rollback_after_failure(self, harness: Harness) -> None:
        check_rollback_after_failure(harness)

    @parametrize("candidate", WEIGHTS)
    def test_served_split_equals_set_split(self, harness: Harness, candidate: int) -> None:
        if not check_served_split(harness, candidate):
            import pytest

            pytest.skip("neither the harness (serve) nor the router (served) reports a split")
