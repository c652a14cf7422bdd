"""The runner against fakes: virtual time, an in-memory store, a router that can fail."""

from __future__ import annotations

import pytest

from rollout.clock import FakeClock
from rollout.errors import EXIT_OK, EXIT_ROLLED_BACK, EXIT_WAITING, RolloutError
from rollout.records import Intent, Phase, Weights
from rollout.runner import Runner, new_run
from rollout.state.memory import MemoryStore
from rollout.testing import FakeRouter, ScriptedSource, rates, scripted_providers
from tests.helpers.plans import make_plan


def setup(plan, cand_err: float = 0.01, router: FakeRouter | None = None):
    clock = FakeClock()
    store = MemoryStore()
    router = router or FakeRouter()
    source = ScriptedSource(rates(router, rps=50, error={"baseline": 0.01, "candidate": cand_err}))
    store.commit(new_run(plan, clock.now()), [], expected_revision=0)
    runner = Runner(
        plan=plan,
        store=store,
        providers=scripted_providers(router, source, plan),
        clock=clock,
        max_loops=500,
    )
    return runner, store, router, clock


def test_a_healthy_candidate_is_promoted_step_by_step():
    plan = make_plan()
    runner, store, router, clock = setup(plan)
    assert runner.run() == EXIT_OK
    assert [w.candidate for w in router.calls] == [5, 25, 50, 100]
    run = store.load("demo")
    assert run.phase == Phase.COMPLETED and run.desired == Weights.of(100)
    assert sum(clock.slept) >= 180  # three 60s bakes, in virtual time


def test_a_bad_candidate_is_rolled_back_and_the_evidence_is_kept():
    plan = make_plan()
    runner, store, router, _ = setup(plan, cand_err=0.05)
    assert runner.run() == EXIT_ROLLED_BACK
    assert router.weights == Weights.all_baseline()
    assert [w.candidate for w in router.calls] == [5, 0]
    run = store.load("demo")
    assert run.phase == Phase.ROLLED_BACK
    fails = [e for e in store.history("demo") if e.kind == "verdict" and e.data["status"] == "fail"]
    assert fails and fails[0].data["evidence"]["candidate"] == pytest.approx(0.05)
    assert store.history("demo")[-1].message.startswith(
        "rolled back: baseline restored and verified"
    )


def test_a_crash_between_commit_and_act_heals_on_resume_without_repeating_the_step():
    plan = make_plan()
    router = FakeRouter()
    router.fail_next = 1  # the first shift fails after the decision was committed
    runner, store, router, clock = setup(plan, router=router)
    with pytest.raises(RolloutError, match="Traffic left as recorded"):
        runner.run()
    run = store.load("demo")
    assert run.desired == Weights.of(5) and router.weights == Weights.all_baseline()
    step = run.step_index
    runner2 = Runner(
        plan=plan,
        store=store,
        providers=runner.providers,
        clock=clock,
        until_index=None,
        max_loops=500,
    )
    assert runner2.run() == EXIT_OK
    kinds = [e.kind for e in store.history("demo", limit=0)]
    assert kinds.count("drift") == 1  # healed once
    assert (
        sum(
            1
            for e in store.history("demo", limit=0)
            if e.kind == "weights" and e.data.get("weights", {}).get("candidate") == 5
        )
        == 1
    )
    assert step == plan.steps.index(plan.steps[step])


def test_a_failed_rollback_says_so_loudly_and_stays_rolling_back(capsys):
    plan = make_plan()
    router = FakeRouter()
    runner, store, router, _ = setup(plan, cand_err=0.05, router=router)
    original = router.set_weights

    def fail_restore(w: Weights) -> None:
        if w == Weights.all_baseline():
            raise RolloutError("gateway down")
        original(w)

    router.set_weights = fail_restore  # type: ignore[method-assign]
    with pytest.raises(RolloutError, match="ROLLBACK INCOMPLETE") as failed:
        runner.run()
    # apply prints it as a banner; the runner never prints
    assert getattr(failed.value, "loud", False)
    assert capsys.readouterr().err == ""
    assert store.load("demo").phase == Phase.ROLLING_BACK


def test_an_abort_written_by_someone_else_stops_the_runner():
    plan = make_plan()
    runner, store, router, clock = setup(plan)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        run = store.load("demo")
        if run.phase == Phase.PROGRESSING and run.desired == Weights.of(25):
            store.commit(
                run.model_copy(
                    update={
                        "intents": (Intent(action="abort", actor="oncall@pager", at=clock.now()),)
                    }
                ),
                [],
                expected_revision=run.revision,
            )

    clock.sleep = sleep  # type: ignore[method-assign]
    assert runner.run() == 4
    assert router.weights == Weights.all_baseline()
    assert store.load("demo").phase == Phase.ABORTED


def test_approval_exits_waiting_and_until_stops_after_a_stage():
    plan = make_plan(
        stages=[
            {"name": "pilot", "weight": 5, "bake": "60s"},
            {"name": "expansion", "weight": 50, "bake": "60s", "approval": True},
            {"name": "full", "weight": 100},
        ]
    )
    runner, store, router, clock = setup(plan)
    assert runner.run() == EXIT_WAITING
    assert store.load("demo").phase == Phase.AWAITING_APPROVAL and router.weights == Weights.of(5)
    run = store.load("demo")
    store.commit(
        run.model_copy(
            update={"intents": (Intent(action="promote", actor="ci@runner", at=clock.now()),)}
        ),
        [],
        expected_revision=run.revision,
    )
    from rollout.engine import stage_end_index

    r2 = Runner(
        plan=plan,
        store=store,
        providers=runner.providers,
        clock=clock,
        until_index=stage_end_index(plan, "expansion"),
        max_loops=500,
    )
    assert r2.run() == EXIT_OK
    assert router.weights == Weights.of(50) and store.load("demo").phase == Phase.PROGRESSING


class FakeDeployments:
    def __init__(self, short_at: int | None = None) -> None:
        self.short_at = short_at
        self.calls: list[tuple[str, int]] = []

    def preflight(self, weights: Weights) -> dict[str, str]:
        self.calls.append(("preflight", weights.candidate))
        return {"candidate": "gpt41-support: exists"}

    def before_shift(self, weights: Weights) -> list[str]:
        self.calls.append(("before_shift", weights.candidate))
        if self.short_at is not None and weights.candidate >= self.short_at:
            from rollout.errors import ProviderError

            raise ProviderError("quota OpenAI.GlobalStandard.gpt-4.1 is short by 5")
        return [f"capacity for {weights.candidate}%"]

    def finalize(self):
        self.calls.append(("finalize", 0))
        return None


def test_a_quota_shortfall_stops_before_the_shift_is_recorded():
    plan = make_plan()
    runner, store, router, _ = setup(plan)
    dm = FakeDeployments(short_at=25)
    runner.providers.deployments = dm
    with pytest.raises(RolloutError, match="short by 5"):
        runner.run()
    run = store.load("demo")
    assert run.desired == Weights.of(5) and router.weights == Weights.of(
        5
    )  # nothing moved, nothing recorded
    assert ("preflight", 5) in dm.calls and ("before_shift", 25) in dm.calls


def test_deployments_are_checked_scaled_and_finalized_on_a_full_run():
    plan = make_plan()
    runner, store, router, _ = setup(plan)
    assert router.weights == Weights.all_baseline()
    dm = FakeDeployments()
    runner.providers.deployments = dm
    assert runner.run() == EXIT_OK
    assert [c for c in dm.calls if c[0] == "before_shift"] == [
        ("before_shift", w) for w in (5, 25, 50, 100)
    ]
    assert dm.calls[-1] == ("finalize", 0)
    assert (
        "candidate"
        in next(e for e in store.history("demo", limit=0) if e.kind == "preflight").data["checks"]
    )


@pytest.mark.parametrize("failure", ["error", "nodata"])
def test_a_broken_source_is_never_a_pass(failure):
    from rollout.errors import NoData, ProviderError

    plan = make_plan(
        analysis={
            "interval": "20s",
            "method": "threshold",
            "on_inconclusive": "rollback",
            "on_no_data": "rollback",
        }
    )
    runner, store, router, _ = setup(plan)

    def broken(query, window):
        if failure == "error":
            raise ProviderError("prometheus: HTTP 502 bad gateway (after 5 attempts)")
        raise NoData(query)

    runner.providers.sources[""] = ScriptedSource(broken)
    assert runner.run() == EXIT_ROLLED_BACK  # three intervals without data -> on_no_data
    verdicts = [e.data["status"] for e in store.history("demo", limit=0) if e.kind == "verdict"]
    assert verdicts and set(verdicts) == {"inconclusive"}
    assert router.weights == Weights.all_baseline()
    if failure == "error":
        assert "502" in store.load("demo").verdicts["error-rate"]["summary"]


def test_resuming_an_interrupted_rollback_finishes_it():
    plan = make_plan()
    runner, store, router, _ = setup(plan)
    run = store.load("demo")
    # A rollback was recorded, then the process died: before acting (router still at 5 %) ...
    store.commit(
        run.model_copy(
            update={"phase": Phase.ROLLING_BACK, "desired": Weights.all_baseline(), "step_index": 2}
        ),
        [],
        expected_revision=run.revision,
    )
    router.weights = Weights.of(5)
    assert runner.run() == EXIT_ROLLED_BACK
    assert (
        router.weights == Weights.all_baseline() and store.load("demo").phase == Phase.ROLLED_BACK
    )
    # ... or after the router took the baseline but before it was recorded.
    runner2, store2, router2, _ = setup(plan)
    run2 = store2.load("demo")
    store2.commit(
        run2.model_copy(
            update={"phase": Phase.ROLLING_BACK, "desired": Weights.all_baseline(), "step_index": 2}
        ),
        [],
        expected_revision=run2.revision,
    )
    assert runner2.run() == EXIT_ROLLED_BACK
    assert store2.load("demo").phase == Phase.ROLLED_BACK and router2.calls == []


def test_a_router_serving_another_split_than_it_was_set_halts_the_rollout_naming_the_cause():
    class Tripped(FakeRouter):
        """A gateway whose breaker on the candidate sends everything to the baseline."""

        def served(self, window):
            return Weights.all_baseline() if self.weights.candidate else self.weights

        def causes(self):
            return ["APIM: the circuit breaker on backend gpt41 is open"]

    plan = make_plan()
    runner, store, router, _ = setup(plan, router=Tripped())
    assert runner.run() == EXIT_WAITING
    run = store.load("demo")
    assert run.phase == Phase.PAUSED and "circuit breaker on backend gpt41" in run.message
    assert router.weights == Weights.of(5)  # held for a person, nothing moved further
