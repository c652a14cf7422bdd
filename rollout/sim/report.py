"""Many virtual rollouts -> the figures a person tunes a plan with."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from rollout.records import Plan
from rollout.sim.traffic import Scenario
from rollout.sim.virtual import Outcome, series_for, simulate_one


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def quantile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _chunk(args: tuple[Plan, Scenario, int, int, int, bool]) -> list[Outcome]:
    plan, scn, seed, start, stop, samples = args
    series = series_for(plan, scn)
    return [simulate_one(plan, scn, seed, i, series, samples=samples) for i in range(start, stop)]


def run_many(
    plan: Plan,
    scn: Scenario,
    runs: int,
    seed: int,
    workers: int | None = None,
    samples: bool = False,
) -> list[Outcome]:
    """Runs 0..runs-1 (run i always draws from stream [seed, i]: same answer with any workers)
    through the engine, one at a time. `samples`: every request's latency drawn (as simulate
    did before it drew log-latency sums; benchmarks/simulate_speed.py times that path)."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or runs < 100:
        return _chunk((plan, scn, seed, 0, runs, samples))
    from concurrent.futures import ProcessPoolExecutor

    step = math.ceil(runs / workers)
    parts = [(plan, scn, seed, s, min(runs, s + step), samples) for s in range(0, runs, step)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [o for chunk in pool.map(_chunk, parts) for o in chunk]


def _fast_chunk(args: tuple[Plan, Scenario, int, int, int]) -> list[Outcome]:
    from rollout.sim import fast

    plan, scn, seed, start, stop = args
    return fast.batch(plan, scn, seed, range(start, stop), series_for(plan, scn))


def run_fast(
    plan: Plan, scn: Scenario, runs: int, seed: int, workers: int | None = None
) -> tuple[list[Outcome], str]:
    """The same outcomes as `run_many` (run i on stream [seed, i]), by rollout.sim.fast when it
    covers the plan and its self-check agrees with the engine; else by `run_many`. Returns
    (outcomes, path): "fast" or "engine (why)"."""
    from rollout.sim import fast

    series = series_for(plan, scn)
    why = fast.supports(plan, scn, series)
    if why is None:
        why = fast.self_check(plan, scn, seed, range(min(runs, fast.CHECK_RUNS)), series)
    if why is not None:
        return run_many(plan, scn, runs, seed, workers), f"engine ({why})"
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or runs < 400:  # a process pool costs more than it saves below this
        return fast.batch(plan, scn, seed, range(runs), series), "fast"
    from concurrent.futures import ProcessPoolExecutor

    step = math.ceil(runs / workers)
    parts = [(plan, scn, seed, s, min(runs, s + step)) for s in range(0, runs, step)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [o for chunk in pool.map(_fast_chunk, parts) for o in chunk], "fast"


def summarise(outs: Sequence[Outcome], healthy: bool) -> dict[str, Any]:
    n = len(outs)
    rb = [o for o in outs if o.outcome == "rolled_back"]
    done = [o for o in outs if o.outcome == "completed"]
    counts = {
        k: sum(o.outcome == k for o in outs)
        for k in ("rolled_back", "completed", "halted", "paused", "timeout")
    }
    lo, hi = wilson(len(rb), n)
    det = [o.minutes for o in rb]
    excess = [o.excess_errors for o in outs]
    gates: dict[str, int] = {}
    for o in rb:
        for g in o.gates:
            gates[g] = gates.get(g, 0) + 1
    return {
        "runs": n,
        "healthy": healthy,
        "outcomes": counts,
        "rollback_rate": len(rb) / n if n else 0.0,
        "rollback_rate_ci95": [lo, hi],
        "false_rollback_rate": (len(rb) / n if n else 0.0) if healthy else None,
        "detection_probability": None if healthy else (len(rb) / n if n else 0.0),
        "time_to_detect_min": {"median": quantile(det, 0.5), "p90": quantile(det, 0.9)},
        "excess_failed_requests": {
            "median": quantile(excess, 0.5),
            "mean": sum(excess) / n if n else None,
            "p90": quantile(excess, 0.9),
        },
        "candidate_requests_median": quantile([float(o.candidate_requests) for o in outs], 0.5),
        "time_to_full_min": {
            "median": quantile([o.minutes for o in done], 0.5),
            "p90": quantile([o.minutes for o in done], 0.9),
        },
        "failed_gates": gates,
    }


def fmt(x: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}{unit}"


def text_table(summary: dict[str, Any], title: str) -> list[str]:
    s = summary
    o = s["outcomes"]
    lo, hi = s["rollback_rate_ci95"]
    rate_name = "false rollback rate" if s["healthy"] else "detection probability"
    ttd, excess, ttf = s["time_to_detect_min"], s["excess_failed_requests"], s["time_to_full_min"]
    rate = f"{s['rollback_rate'] * 100:.1f} %  (95 % CI {lo * 100:.1f}-{hi * 100:.1f} %)"
    rows = [
        title,
        f"  runs                      {s['runs']}",
        f"  {rate_name:<25} {rate}",
        f"  outcomes                  rolled back {o['rolled_back']}, completed {o['completed']},"
        f" halted {o['halted']}, paused {o['paused']}, timeout {o['timeout']}",
        f"  time to detect            median {fmt(ttd['median'], ' min')},"
        f" p90 {fmt(ttd['p90'], ' min')}",
        f"  excess failed requests    median {fmt(excess['median'])},"
        f" mean {fmt(excess['mean'])}, p90 {fmt(excess['p90'])}",
        f"  time to full              median {fmt(ttf['median'], ' min')},"
        f" p90 {fmt(ttf['p90'], ' min')}",
    ]
    if s["failed_gates"]:
        rows.append(
            "  gates that rolled back    "
            + ", ".join(f"{g} {k}" for g, k in sorted(s["failed_gates"].items()))
        )
    return rows
