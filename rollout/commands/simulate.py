"""`rollout simulate PLAN --scenario NAME|FILE --runs N --seed S`: judge a plan before production.

Runs the plan's own engine and gates in virtual time against simulated traffic (rollout.sim)
and reports how often a bad candidate is caught, how fast, how many extra failed requests it
served first, how often a healthy one is rolled back, and how long a rollout takes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_OK, InvalidInput
from rollout.views import simulate as view

MAX_RUNS = 100_000


def run(
    plan_file: Path,
    scenario: str,
    runs: int,
    seed: int,
    var: Sequence[str],
    var_file: Sequence[Path],
    output: str = "text",
    workers: int | None = None,
    clock: Clock | None = None,  # virtual time is the simulation's own; runtime is measured
    traffic: str | None = None,
) -> int:
    from rollout.commands._common import load_plan
    from rollout.sim.power import parse_traffic, with_plan_traffic
    from rollout.sim.report import run_fast, summarise
    from rollout.sim.scenarios import BUILTIN, resolve
    from rollout.sim.virtual import series_for

    if not 1 <= runs <= MAX_RUNS:
        raise InvalidInput(f"--runs must be between 1 and {MAX_RUNS:,} (got {runs})")
    rpm = parse_traffic(traffic) if traffic is not None else None
    _, plan = load_plan(plan_file, var, var_file, evaluate_checks=False)  # no eval run
    scn = resolve(scenario)
    world = "scenario"
    if scenario in BUILTIN and plan.spec.metrics.type == "simulated":
        scn, world = with_plan_traffic(scn, plan), "plan"  # the traffic the plan states
    if rpm is not None:
        scn, world = scn.model_copy(update={"requests_per_minute": rpm}), "--traffic"
    series_for(plan, scn)  # a bad series mapping is invalid input before any run starts
    started = time.perf_counter()
    outs, path = run_fast(plan, scn, runs, seed, workers)
    elapsed = time.perf_counter() - started
    summary = summarise(outs, scn.healthy)
    views.show(view, output, plan, scn, seed, runs, elapsed, summary, path=path, traffic=world)
    return EXIT_OK
