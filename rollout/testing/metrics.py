"""The MetricsSource conformance suite: what every metrics source must do for the gates to judge.

The gates rely on three rules: a query is one finite-or-infinite number (never a bool, never a
string), "no samples" is NoData (read as inconclusive, never as a failure), and a broken
source is a ProviderError whose message says which source failed (never a pass). `check()` is
preflight: it passes on a working source and raises ProviderError on a broken one.

A plugin's tests subclass `MetricsSourceConformance` and give it one fixture, `harness`:

    from rollout.testing.metrics import MetricsSourceConformance, SourceHarness

    class TestMySourceConformance(MetricsSourceConformance):
        @pytest.fixture
        def harness(self, fake_backend):
            return SourceHarness(
                source=MySource(url=fake_backend.url),
                query='sum(requests{variant="candidate"})',  # answered over `window`
                expected=120.0,                             # what the fake holds (None: any)
                empty='sum(nothing{variant="candidate"})',  # no samples (None: cannot happen)
                fail=fake_backend.break_, recover=fake_backend.repair,
                mentions="my-backend",                      # in every failure's message
            )

Outside pytest, `check_metrics_source(make_harness)` runs the same checks and raises
AssertionError on the first that does not hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rollout.errors import NoData, ProviderError
from rollout.metrics import MetricsSource, Window
from rollout.testing._check import clear_message, fixture, raises

END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(END - timedelta(minutes=1), END)


@dataclass
class SourceHarness:
    source: MetricsSource
    query: str  # a rendered query the source answers with a number over `window`
    fail: Callable[[], None]  # from now on every call to the backend fails
    recover: Callable[[], None]  # the backend works again
    mentions: str = ""  # text every failure's message must contain (the source, its URL)
    expected: float | None = None  # the number `query` must give, when the fake knows it
    empty: str | None = None  # a query with no samples over `window`; None if there is none
    window: Window = field(default=WINDOW)


def check_answers_a_number(h: SourceHarness) -> None:
    value = h.source.query(h.query, h.window)
    assert isinstance(value, int | float) and not isinstance(value, bool), (
        f"query must return a float, got {type(value).__name__} {value!r}"
    )
    assert not math.isnan(value), "NaN is no data: raise NoData instead"
    if h.expected is not None:
        assert value == h.expected, f"{h.query!r} over {h.window}: {value}, expected {h.expected}"


def check_same_window_same_answer(h: SourceHarness) -> None:
    """A past window's answer does not change when asked again (the runner may re-read a tick)."""
    first = h.source.query(h.query, h.window)
    assert h.source.query(h.query, h.window) == first


def check_no_data(h: SourceHarness) -> None:
    if h.empty is None:
        return
    with raises(NoData, f"{h.empty!r} (no samples)"):
        try:
            h.source.query(h.empty, h.window)
        except ProviderError as exc:
            raise AssertionError(
                f"no samples is NoData (inconclusive), not a failure: {exc}"
            ) from exc


def check_preflight(h: SourceHarness) -> None:
    """check() on a working source raises nothing (preflight would stop the rollout)."""
    h.source.check()


def check_failure(h: SourceHarness) -> None:
    h.fail()
    with raises(ProviderError, "query on a failing backend") as q_err:
        h.source.query(h.query, h.window)
    with raises(ProviderError, "check() on a failing backend") as c_err:
        h.source.check()
    for err in (q_err.value, c_err.value):
        assert err is not None
        clear_message(err, h.mentions)
    h.recover()
    check_answers_a_number(h)  # nothing was left broken by the failure


CHECKS: tuple[Callable[[SourceHarness], None], ...] = (
    check_answers_a_number,
    check_same_window_same_answer,
    check_no_data,
    check_preflight,
    check_failure,
)


def check_metrics_source(make_harness: Callable[[], SourceHarness]) -> None:
    """Every check, each on a fresh harness."""
    for check in CHECKS:
        check(make_harness())


class MetricsSourceConformance:
    """Subclass in a test module and provide the `harness` fixture (see the module docstring)."""

    @fixture
    def harness(self) -> SourceHarness:
        raise NotImplementedError(
            "a MetricsSourceConformance subclass provides the `harness` fixture"
        )

    def test_answers_a_number(self, harness: SourceHarness) -> None:
        check_answers_a_number(harness)

    def test_same_window_same_answer(self, harness: SourceHarness) -> None:
        check_same_window_same_answer(harness)

    def test_no_samples_is_no_data(self, harness: SourceHarness) -> None:
        check_no_data(harness)

    def test_preflight_check_passes(self, harness: SourceHarness) -> None:
        check_preflight(harness)

    def test_failure_is_a_clear_provider_error(self, harness: SourceHarness) -> None:
        check_failure(harness)
