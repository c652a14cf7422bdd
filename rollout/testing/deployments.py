"""The DeploymentManager conformance suite: what the runner relies on from a deployments plugin.

The rules (rollout.deployments): `preflight(weights)` says, per variant, what it found or did;
`before_shift(weights)` returns notes and may refuse a forward shift with a ProviderError that
says what is wrong (nothing changed), but **never raises on the way to all-baseline** — a
rollback must not be stopped by a quota API that is down; `finalize()` returns None when done
or a tz-aware time to call again.

A plugin's tests subclass `DeploymentConformance` and give it one fixture, `harness`:

    from rollout.testing.deployments import DeploymentConformance, DeploymentHarness

    class TestMyDeploymentsConformance(DeploymentConformance):
        @pytest.fixture
        def harness(self, fake_cloud):
            return DeploymentHarness(
                manager=MyDeployments(client=fake_cloud.client),
                fail=fake_cloud.go_down, recover=fake_cloud.come_back,
                mentions="my-account",  # in every failure's message
            )

Outside pytest, `check_deployments(make_harness)` runs the same checks and raises
AssertionError on the first that does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rollout.deployments import DeploymentManager
from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.testing._check import clear_message, fixture, parametrize

FORWARD = (5, 25, 50, 100)


@dataclass
class DeploymentHarness:
    manager: DeploymentManager
    fail: Callable[[], None]  # from now on every call to the cloud fails
    recover: Callable[[], None]  # the cloud works again
    mentions: str = ""  # text a failure's message must contain (account, deployment, URL)
    first: int = 5  # the first stage's candidate weight, given to preflight


def _notes(out: object, what: str) -> list[str]:
    assert isinstance(out, list) and all(isinstance(n, str) for n in out), (
        f"{what} must return a list of notes (str), got {out!r}"
    )
    return out


def check_preflight(h: DeploymentHarness) -> None:
    found = h.manager.preflight(Weights.of(h.first))
    assert isinstance(found, dict), f"preflight returns variant -> note, got {found!r}"
    assert set(found) <= set(VARIANTS), f"preflight keys are variants {VARIANTS}: {sorted(found)}"
    assert all(isinstance(v, str) and v.strip() for v in found.values()), found


def check_shift(h: DeploymentHarness, candidate: int) -> None:
    h.manager.preflight(Weights.of(h.first))
    _notes(h.manager.before_shift(Weights.of(candidate)), f"before_shift({candidate} %)")


def check_whole_rollout_and_back(h: DeploymentHarness) -> None:
    """Every stage forward, then a rollback; each shift asked twice (the runner retries)."""
    h.manager.preflight(Weights.of(h.first))
    for c in (*FORWARD, 0):
        _notes(h.manager.before_shift(Weights.of(c)), f"before_shift({c} %)")
        _notes(h.manager.before_shift(Weights.of(c)), f"before_shift({c} %) again")


def check_rollback_never_raises(h: DeploymentHarness) -> None:
    h.manager.preflight(Weights.of(h.first))
    h.manager.before_shift(Weights.of(25))
    h.fail()
    try:
        notes = h.manager.before_shift(Weights.all_baseline())
    except Exception as exc:
        raise AssertionError(
            f"before_shift towards all-baseline raised {type(exc).__name__}: {exc}; a rollback "
            "must go ahead: return notes on what could not be done instead"
        ) from exc
    _notes(notes, "before_shift(0 %) on a failing cloud")
    h.recover()


def check_forward_failure(h: DeploymentHarness) -> None:
    """A forward shift on a failing cloud either goes ahead (nothing to ask) or stops with a
    clear ProviderError; any other exception would be reported as a bug in rollout."""
    h.manager.preflight(Weights.of(h.first))
    h.fail()
    try:
        _notes(h.manager.before_shift(Weights.of(50)), "before_shift(50 %) on a failing cloud")
    except ProviderError as exc:
        clear_message(exc, h.mentions)
    h.recover()


def check_preflight_failure(h: DeploymentHarness) -> None:
    h.fail()
    try:
        h.manager.preflight(Weights.of(h.first))
    except ProviderError as exc:
        clear_message(exc, h.mentions)
    else:
        raise AssertionError("preflight on a failing cloud must raise ProviderError")
    finally:
        h.recover()


def check_finalize(h: DeploymentHarness) -> None:
    h.manager.preflight(Weights.of(h.first))
    for c in FORWARD:
        h.manager.before_shift(Weights.of(c))
    due = h.manager.finalize()
    assert due is None or (isinstance(due, datetime) and due.tzinfo is not None), (
        f"finalize returns None or a tz-aware time, got {due!r}"
    )


CHECKS: tuple[Callable[[DeploymentHarness], None], ...] = (
    check_preflight,
    check_whole_rollout_and_back,
    check_rollback_never_raises,
    check_forward_failure,
    check_preflight_failure,
    check_finalize,
)


def check_deployments(make_harness: Callable[[], DeploymentHarness]) -> None:
    """Every check, each on a fresh harness."""
    for c in FORWARD:
        check_shift(make_harness(), c)
    for check in CHECKS:
        check(make_harness())


class DeploymentConformance:
    """Subclass in a test module and provide the `harness` fixture (see the module docstring)."""

    @fixture
    def harness(self) -> DeploymentHarness:
        raise NotImplementedError("a DeploymentConformance subclass provides the `harness` fixture")

    def test_preflight_names_each_variant(self, harness: DeploymentHarness) -> None:
        check_preflight(harness)

    @parametrize("candidate", FORWARD)
    def test_shift_returns_notes(self, harness: DeploymentHarness, candidate: int) -> None:
        check_shift(harness, candidate)

    def test_whole_rollout_and_back(self, harness: DeploymentHarness) -> None:
        check_whole_rollout_and_back(harness)

    def test_rollback_never_raises(self, harness: DeploymentHarness) -> None:
        check_rollback_never_raises(harness)

    def test_forward_failure_is_a_clear_provider_error(self, harness: DeploymentHarness) -> None:
        check_forward_failure(harness)

    def test_preflight_failure_is_a_clear_provider_error(self, harness: DeploymentHarness) -> None:
        check_preflight_failure(harness)

    def test_finalize_is_done_or_says_when(self, harness: DeploymentHarness) -> None:
        check_finalize(harness)
