"""`rollout simulate` speed: the engine path and the fast path, in one process, on the same runs.

    .venv/bin/python benchmarks/simulate_speed.py            # 1,000 runs, writes docs/benchmarks.md
    .venv/bin/python benchmarks/simulate_speed.py --runs 200 --no-write

Both paths are timed on plans/pilot-expansion-full.yaml against the healthy scenario (its
costliest case: most runs bake every stage to the end), seed 1:

* end to end, as `rollout simulate --runs N` runs them (default workers): the engine path is
  `rollout.sim.report.run_many` (what simulate ran before), the fast path `run_fast`;
* CPU per virtual tick in this process alone (one worker), alternating engine / fast / engine /
  fast on the first runs, so machine load moves both alike; the ratio is of the best of each.

The outcomes of every run are compared (they must be identical, run by run). The figures go
into docs/benchmarks.md between the `simulate-speed` markers.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollout.commands._common import load_plan  # noqa: E402
from rollout.sim import fast  # noqa: E402
from rollout.sim.report import run_fast, run_many  # noqa: E402
from rollout.sim.scenarios import builtin  # noqa: E402
from rollout.sim.virtual import series_for, simulate_one  # noqa: E402

PLAN = ROOT / "plans" / "pilot-expansion-full.yaml"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- simulate-speed:start -->", "<!-- simulate-speed:end -->"


def cpu_per_tick(fn: object, *args: object) -> tuple[float, int]:
    t = time.process_time()
    outs = fn(*args)  # type: ignore[operator]
    ticks = sum(o.ticks for o in outs)
    return (time.process_time() - t) / ticks, ticks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--cpu-runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    _, plan = load_plan(PLAN, [], [])
    scn = builtin("healthy")
    series = series_for(plan, scn)

    def before(n: int) -> list[fast.Outcome]:  # simulate as it was: engine, every latency drawn
        return [simulate_one(plan, scn, a.seed, i, series, samples=True) for i in range(n)]

    def quick(n: int) -> list[fast.Outcome]:
        return fast.batch(plan, scn, a.seed, range(n), series)

    cpu_e, cpu_f = [], []
    for _ in range(2):
        cpu_e.append(cpu_per_tick(before, a.cpu_runs)[0])
        cpu_f.append(cpu_per_tick(quick, a.cpu_runs)[0])
    t = time.perf_counter()
    old = run_many(plan, scn, a.runs, a.seed, samples=True)
    wall_before = time.perf_counter() - t
    t = time.perf_counter()
    after, path = run_fast(plan, scn, a.runs, a.seed)
    wall_after = time.perf_counter() - t
    # run by run, the fast path against the engine path it stands for (latency sums drawn)
    ref = run_many(plan, scn, a.runs, a.seed)
    same = sum(fast._same_outcome(x, y) for x, y in zip(ref, after, strict=True))
    ticks = sum(o.ticks for o in after)
    workers = min(os.cpu_count() or 1, 8)
    e, f = min(cpu_e), min(cpu_f)

    def share(outs: list[fast.Outcome], what: str) -> str:
        return f"{sum(o.outcome == what for o in outs) / len(outs):.1%}"

    lines = [
        f"- `rollout simulate plans/pilot-expansion-full.yaml --runs {a.runs:,}` (healthy, "
        f"seed {a.seed}, {ticks:,} virtual ticks, {workers} workers, both measured in one run "
        f"by `benchmarks/simulate_speed.py`): before (the engine path, every request's latency "
        f"drawn) {wall_before:.1f} s; after (`{path}` path, log-latency sums drawn as sums) "
        f"{wall_after:.1f} s: **{wall_before / wall_after:.1f}x** faster end to end.",
        f"- CPU per virtual tick, one worker, best of two alternating rounds of {a.cpu_runs} "
        f"runs: before {e * 1e6:.0f} us, after {f * 1e6:.0f} us (**{e / f:.1f}x**).",
        f"- The fast path gives the engine path's outcomes run by run: {same:,} of {a.runs:,} "
        "identical (outcome, minutes, failed gates, candidate requests and errors, excess "
        "failures, ticks). Before and after draw latencies differently (per request vs as "
        f"sums), so they agree in distribution: completed {share(old, 'completed')} vs "
        f"{share(after, 'completed')}, paused {share(old, 'paused')} vs "
        f"{share(after, 'paused')}, rolled back {share(old, 'rolled_back')} vs "
        f"{share(after, 'rolled_back')}.",
        f"- Machine load when measured: {os.getloadavg()[0]:.1f} (1-min load average, "
        f"{os.cpu_count()} cores shared with other work); both paths ran under it alike.",
    ]
    print("\n".join(lines))
    if not a.no_write:
        text = DOC.read_text(encoding="utf-8")
        block = f"{START}\n" + "\n".join(lines) + f"\n{END}"
        if START in text:
            text = re.sub(
                re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S
            )
        else:
            text += "\n## `simulate` speed (issue #16)\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    return 0 if same == a.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
