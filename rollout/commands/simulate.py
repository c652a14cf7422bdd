"""`rollout simulate PLAN --scenario NAME|FILE --runs N --seed S`: judge a plan before production.

Runs the plan's own engine and gates in virtual time against simulated traffic (rollout.sim)
and reports how often a bad candidate is caught, how fast, how many extra failed requests it
served first, how often a healthy one is rolled back, and how long a rollout takes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from rollout.errors import EXIT_OK, InvalidInput
from rollout.output import emit_json, line

SCHEMA = "rollout.simulate/v1"
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
) -> int:
    from rollout.commands._common import load_plan
    from rollout.sim.report import run_many, summarise, text_table
    from rollout.sim.scenarios import resolve
    from rollout.sim.virtual import series_for

    if not 1 <= runs <= MAX_RUNS:
        raise InvalidInput(f"--runs must be between 1 and {MAX_RUNS:,} (got {runs})")
    _, plan = load_plan(plan_file, var, var_file)
    scn = resolve(scenario)
    series_for(plan, scn)  # a bad series mapping is invalid input before any run starts
    started = time.perf_counter()
    outs = run_many(plan, scn, runs, seed, workers)
    elapsed = time.perf_counter() - started
    summary = summarise(outs, scn.healthy)
    if output == "json":
        emit_json(
            SCHEMA,
            {
                "plan": plan.name,
                "plan_hash": plan.plan_hash,
                "scenario": scn.model_dump(mode="json"),
                "seed": seed,
                "runtime_seconds": round(elapsed, 3),
                "results": summary,
            },
        )
        return EXIT_OK
    kind = "healthy" if scn.healthy else "regression"
    title = f"{plan.name} vs scenario {scn.name} ({kind}; {scn.requests_per_minute:g} requests/min; seed {seed})"
    for row in text_table(summary, title):
        line(row)
    line(f"  runtime                   {elapsed:.1f} s for {runs} virtual rollouts")
    if scn.description:
        line(f"  scenario                  {scn.description}")
    return EXIT_OK
