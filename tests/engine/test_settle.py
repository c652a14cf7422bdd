"""`settle:` in the pure engine: a settled gate is asked for its request-time window (never past
now - settle; nothing at all until something has settled, which is no reading and no gap), and
a step's bake is judged to its end only `settle` after it, before it passes or moves on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout import engine
from rollout.engine import Observation, advance, wanted
from rollout.engine.types import judged_end, request_windows
from rollout.gates.evaluate import Tick
from rollout.metrics import Window
from rollout.observe import Observer
from rollout.records import Phase, Run, Weights
from rollout.runner import new_run
from rollout.testing import FakeRouter, scripted_providers
from tests.helpers.plans import ERROR_GATE, make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SETTLE = 120  # seconds; the bakes are 60s, the interval 20s
THUMBS = {
    "name": "thumbs-down",
    "kind": "proportion",
    "events": 'thumbs_down{variant="{{ variant }}"}',
    "total": 'feedback{variant="{{ variant }}"}',
    "max_ratio": 1.5,
    "settle": f"{SETTLE}s",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _pilot(plan) -> Run:
    run = new_run(plan, T0)
    run = advance(
        plan, run, Observation(weights=Weights.all_baseline(), preflight={"ok": "ok"}), T0
    )
    run = run.run
    return advance(plan, run, Observation(weights=Weights.all_baseline()), T0).run


def _good(stage: str = "pilot") -> Tick:
    r = {"events": 10.0, "total": 1000.0}
    return Tick(at=T0, stage=stage, weight=5, readings={"baseline": r, "candidate": r})


def test_the_window_never_reads_past_now_minus_settle_and_starts_where_judged_ended() -> None:
    plan = make_plan(gates=[ERROR_GATE, THUMBS])
    run = _pilot(plan)
    assert request_windows(plan, ("error-rate", "thumbs-down"), run, at(SETTLE)) == {
        "thumbs-down": None  # nothing settled yet; the unsettled gate is not asked for at all
    }
    assert request_windows(plan, ("thumbs-down",), run, at(SETTLE + 30)) == {
        "thumbs-down": (T0, at(30))
    }
    later = run.model_copy(update={"last_tick_at": at(SETTLE + 30)})  # judged until at(30)
    assert request_windows(plan, ("thumbs-down",), later, at(SETTLE + 50)) == {
        "thumbs-down": (at(30), at(50))
    }


def test_a_plan_without_settle_asks_and_bakes_exactly_as_before() -> None:
    plan = make_plan()
    run = _pilot(plan)
    req = wanted(plan, run, at(20)).tick
    assert req is not None and req.windows == {} and (req.start, req.end) == (T0, at(20))
    step = plan.steps[run.step_index]
    assert judged_end(plan, step, run) == engine.bake_end(step, run) == at(60)


def test_a_step_of_settled_gates_first_ticks_once_an_interval_has_settled() -> None:
    plan = make_plan(gates=[THUMBS])
    run = _pilot(plan)
    assert wanted(plan, run, at(20)).tick is None  # due by the interval, but nothing settled
    assert wanted(plan, run, at(SETTLE)).tick is None
    # while waiting, the engine sleeps until then instead of spinning on an empty observation
    d = advance(plan, run, Observation(weights=Weights.of(5)), at(SETTLE))
    assert d.wake_at == at(SETTLE + 20) and d.run.last_tick_at is None and not d.events
    req = wanted(plan, run, at(SETTLE + 20)).tick
    assert req is not None and req.windows == {"thumbs-down": (T0, at(20))}


def test_the_bake_passes_only_settle_after_its_end() -> None:
    plan = make_plan(gates=[ERROR_GATE, THUMBS])
    run = _pilot(plan)
    step_index = run.step_index
    step = plan.steps[step_index]
    assert judged_end(plan, step, run) == at(60 + SETTLE)
    ticks = {"error-rate": _good(), "thumbs-down": _good()}
    now = 0
    while now < 60 + SETTLE:
        now += 20
        req = wanted(plan, run, at(now)).tick
        assert req is not None
        span = req.windows["thumbs-down"]
        assert span is None or span[1] <= at(now - SETTLE)
        d = advance(plan, run, Observation(weights=Weights.of(5), ticks=ticks), at(now))
        assert d.run.phase == Phase.PROGRESSING
        if now < 60 + SETTLE:  # past the bake end (60s), still judging its last minutes
            assert d.run.step_index == run.step_index, now
        run = d.run
    assert run.step_index == step_index + 1 and "gates pass" in run.message


def test_the_observer_reads_a_settled_gate_over_its_window_and_skips_an_unsettled_one() -> None:
    plan = make_plan(gates=[ERROR_GATE, THUMBS])
    asked: list[tuple[str, Window]] = []

    class Source:
        def query(self, query: str, window: Window) -> float:
            asked.append((query.split("{")[0], window))
            return 1000.0 if query.startswith(("requests", "feedback")) else 10.0

        def check(self) -> None:
            return None

    observer = Observer(plan, scripted_providers(FakeRouter(), Source(), plan), lambda k, m: None)
    run = _pilot(plan)
    req = wanted(plan, run, at(20)).tick
    assert req is not None and req.windows == {"thumbs-down": None}
    ticks = observer.ticks(req)
    assert set(ticks) == {"error-rate"}  # no reading for the unsettled gate: never a pass
    assert {name for name, _ in asked} == {"errors", "requests"}
    asked.clear()
    later = run.model_copy(update={"last_tick_at": at(SETTLE + 20)})
    req = wanted(plan, later, at(SETTLE + 40)).tick
    assert req is not None
    ticks = observer.ticks(req)
    assert set(ticks) == {"error-rate", "thumbs-down"}
    windows = {name: w for name, w in asked}
    assert windows["feedback"] == Window(at(20), at(40))  # by request time
    assert windows["requests"] == Window(at(SETTLE + 20), at(SETTLE + 40))  # as they arrive


def test_the_watch_while_waiting_for_a_person_reads_settled_gates_by_request_time() -> None:
    plan = make_plan(gates=[THUMBS])
    run = _pilot(plan).model_copy(
        update={
            "phase": Phase.AWAITING_APPROVAL,
            "desired": Weights.of(5),
            "verified": Weights.of(5),
        }
    )
    req = wanted(plan, run, at(20)).tick
    assert req is not None and req.windows == {"thumbs-down": None}
    # nothing observed (nothing settled): the engine waits an interval, it does not spin
    d = advance(plan, run, Observation(weights=Weights.of(5)), at(20))
    assert d.wake_at is not None and d.wake_at > at(20) and not d.events
    req = wanted(plan, run, at(SETTLE + 20)).tick
    assert req is not None and req.windows == {"thumbs-down": (T0, at(20))}
