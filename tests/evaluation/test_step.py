"""The engine's evaluate step on its own (pure): what each outcome does to the run."""

from __future__ import annotations

from datetime import UTC, datetime

from rollout.engine import Observation, advance, wanted
from rollout.evaluation.types import SIMULATED, EvaluationRun, VariantRun
from rollout.loading import load
from rollout.records import Phase, Weights
from rollout.runner import new_run
from tests.evaluation.conftest import EvalWorkspace

NOW = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [f"q{i:02d}" for i in range(40)]


def scored(shift: float) -> EvaluationRun:
    def run(v: str, d: float) -> VariantRun:
        scores = {"score": {k: 0.7 + d + 0.001 * i for i, k in enumerate(IDS)}}
        scores["passed"] = {k: 1.0 for k in IDS}
        return VariantRun(v, scores=scores, items=len(IDS))

    return EvaluationRun(
        runs={"baseline": run("baseline", 0.0), "candidate": run("candidate", shift)},
        dataset="evals/support.jsonl",
        dataset_ids=tuple(IDS),
    )


def test_the_first_look_wants_the_evaluation(ws: EvalWorkspace) -> None:
    plan = load(ws.write_plan(), env={}).plan
    run = new_run(plan, NOW)
    assert wanted(plan, run, NOW).evaluate
    d = advance(plan, run, Observation(weights=Weights.all_baseline()), NOW)
    assert d.run.step_index == 0 and not d.actions  # nothing judged without scores


def test_a_pass_moves_to_preflight_and_a_fail_stops_without_an_action(ws: EvalWorkspace) -> None:
    plan = load(ws.write_plan(), env={}).plan
    run = new_run(plan, NOW)
    base = Weights.all_baseline()
    ok = advance(plan, run, Observation(weights=base, evaluation=scored(0.0)), NOW)
    assert ok.run.step_index == 1 and plan.steps[1].kind == "preflight" and not ok.actions
    assert ok.run.verdicts["evaluate:quality"]["status"] == "pass"
    bad = advance(plan, run, Observation(weights=base, evaluation=scored(-0.1)), NOW)
    assert bad.run.phase == Phase.ROLLED_BACK and not bad.actions and bad.run.desired is None


def test_no_scores_pause_and_simulate_goes_on(ws: EvalWorkspace) -> None:
    plan = load(ws.write_plan(), env={}).plan
    run = new_run(plan, NOW)
    failed = EvaluationRun(runs={"baseline": VariantRun("baseline", error="exit 1")})
    d = advance(plan, run, Observation(weights=None, evaluation=failed), NOW)
    assert d.run.phase == Phase.PAUSED and "exit 1" in d.run.message
    half = EvaluationRun(runs={"baseline": scored(0.0).runs["baseline"]})
    assert advance(plan, run, Observation(None, evaluation=half), NOW).run.phase == Phase.PAUSED
    sim = advance(plan, run, Observation(weights=None, evaluation=SIMULATED), NOW)
    assert sim.run.step_index == 1 and "not run by simulate" in sim.events[0].message


def test_a_failed_evaluation_with_traffic_on_the_candidate_rolls_it_back(
    ws: EvalWorkspace,
) -> None:
    """Never the case through apply (the step comes first); if it were, it is a rollback."""
    plan = load(ws.write_plan(), env={}).plan
    run = new_run(plan, NOW).model_copy(
        update={"desired": Weights.of(5), "verified": Weights.of(5), "phase": Phase.PROGRESSING}
    )
    d = advance(plan, run, Observation(weights=Weights.of(5), evaluation=scored(-0.1)), NOW)
    assert d.run.phase == Phase.ROLLING_BACK
    assert [a.weights for a in d.actions] == [Weights.all_baseline()]
