"""Gate hot-path speed: what one analysis tick of the statistics costs, and `rollout simulate`.

Two figures, both single-process (no worker pool, so the spread of a shared machine matters
less):

* the cost of one `gates.evaluate` call on ordinary traffic (1,000 requests/min at 5 %, 25 % and
  50 %; one error-rate gate and one log-latency gate), on a fixed, seeded tick sequence;
* the wall time of N virtual rollouts of `plans/pilot-expansion-full.yaml` (the template of
  issue #16) through `rollout.sim.virtual.simulate_one`, i.e. what `rollout simulate` does.

    .venv/bin/python benchmarks/gate_speed.py [--ticks 3000] [--runs 100]

Performance is a figure for docs/benchmarks.md, never an assertion in a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollout.gates.evaluate import Settings, Tick, evaluate  # noqa: E402
from rollout.spec import Gate  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=UTC)
SEQ = Settings(method="sequential", alpha=0.025)


def ticks(n: int, seed: int = 1) -> list[tuple[Tick, Tick]]:
    """(error tick, latency tick) pairs at 1,000 requests/min through a 5/25/50 % plan."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w = (5, 25, 50)[(i // 30) % 3]
        nb, na = int(rng.poisson(10 * w)), int(rng.poisson(10 * (100 - w)))
        eb, ea = int(rng.binomial(nb, 0.01)), int(rng.binomial(na, 0.01))
        xb, xa = rng.normal(-0.2, 0.6, nb), rng.normal(-0.2, 0.6, na)
        err: dict[str, dict[str, float]] = {
            "candidate": {"events": eb, "total": nb},
            "baseline": {"events": ea, "total": na},
        }
        lat: dict[str, dict[str, float]] = {
            "candidate": {"count": nb, "sum": xb.sum(), "sum_squares": (xb * xb).sum()},
            "baseline": {"count": na, "sum": xa.sum(), "sum_squares": (xa * xa).sum()},
        }
        out.append(
            (
                Tick(at=AT, stage="s", weight=w, readings=err),
                Tick(at=AT, stage="s", weight=w, readings=lat),
            )
        )
    return out


def per_tick(n: int) -> tuple[float, float]:
    eg = Gate(name="error-rate", kind="proportion", events="e", total="t", max_ratio=1.25)
    lg = Gate(
        name="log-latency", kind="mean", count="c", sum="s", sum_squares="q", max_increase=0.1
    )
    seq = ticks(n)
    res = []
    for gate, k in ((eg, 0), (lg, 1)):
        st: dict = {}
        t0 = time.perf_counter()
        for pair in seq:
            st, _ = evaluate(gate, st, pair[k], SEQ)
        res.append((time.perf_counter() - t0) / n * 1e6)
    return res[0], res[1]


def simulate(runs: int, scenario: str) -> tuple[float, int]:
    from rollout.loading import load
    from rollout.sim.scenarios import builtin
    from rollout.sim.virtual import series_for, simulate_one

    plan = load(ROOT / "plans" / "pilot-expansion-full.yaml").plan
    scn = builtin(scenario)
    series = series_for(plan, scn)
    t0 = time.perf_counter()
    n_ticks = sum(simulate_one(plan, scn, 1, i, series).ticks for i in range(runs))
    return time.perf_counter() - t0, n_ticks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--scenario", default="healthy")
    a = ap.parse_args()
    e_us, m_us = per_tick(a.ticks)
    print(f"evaluate, error-rate gate: {e_us:.1f} us per tick ({a.ticks} ticks)")
    print(f"evaluate, log-latency gate: {m_us:.1f} us per tick")
    secs, n = simulate(a.runs, a.scenario)
    print(
        f"simulate pilot-expansion-full, {a.scenario}: {a.runs} runs in {secs:.2f} s, "
        f"{n:,} virtual ticks, {secs / max(1, n) * 1e6:.0f} us per tick (one process)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
