"""How `rollout controller` scales (issue #15): N active rollouts, R replicas, one PostgreSQL.

For each fleet size and replica count: a fresh PostgreSQL on loopback (tests/helpers' launcher),
N rollouts created (simulated source, file routers on /dev/shm, a 60 s analysis interval and a
bake long enough that every rollout stays active), then R `controller` replicas (this script's
`replica` mode: a Controller in its own process) run for `--seconds`. Reported: decisions per
second, lag from a rollout's due time to its decision (median, p99; the first interval is the
start-up burst, when every rollout is due at once, and is reported apart from the steady state
after it), database size, peak memory per replica.

    python benchmarks/fleet.py --sizes 1000,10000 --replicas 1,2,4 --seconds 180

Not part of the test suite; figures go in docs/benchmarks.md "Fleet (issue #15)".
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def spec(name: str, routes: Path, interval: int) -> dict[str, Any]:
    return {
        "apiVersion": "rollout/v1",
        "kind": "Plan",
        "name": name,
        "variants": {"baseline": {"model": "gpt-4o"}, "candidate": {"model": "gpt-4.1"}},
        "router": {"type": "file", "path": str(routes / f"{name}.json")},
        "metrics": {"type": "simulated", "seed": 1, "requests_per_second": 100},
        "gates": [
            {
                "name": "error-rate",
                "kind": "proportion",
                "events": 'errors{variant="{{ variant }}"}',
                "total": 'requests{variant="{{ variant }}"}',
                "max_ratio": 3.0,
            }
        ],
        "stages": [
            {"name": "pilot", "weight": 5, "bake": "6h"},  # stays active for the whole run
            {"name": "full", "weight": 100},
        ],
        "analysis": {"interval": f"{interval}s", "method": "threshold"},
    }


def create(url: str, n: int, routes: Path, interval: int) -> float:
    from rollout.clock import SystemClock
    from rollout.compile import compile_plan
    from rollout.records import Event
    from rollout.runner import new_run
    from rollout.spec import PlanSpec
    from rollout.state.postgres import PostgresStore

    st = PostgresStore(url)
    st.keep_connections()
    t = time.monotonic()
    base = compile_plan(PlanSpec.model_validate(spec("f0", routes, interval)))
    now = SystemClock().now()
    for i in range(n):
        name = f"f{i}"
        # one compile, renamed: the plan (and its hash) differ only in name and routes file
        s = base.spec.model_copy(
            update={
                "name": name,
                "router": base.spec.router.model_copy(
                    update={"path": str(routes / f"{name}.json")}
                ),
            }
        )
        plan = base.model_copy(update={"name": name, "spec": s})
        ev = Event(kind="created", at=now, message=f"rollout {name} created")
        st.commit(new_run(plan, now), [ev], expected_revision=0)
    return time.monotonic() - t


def replica(url: str, out: Path, seconds: float, workers: int) -> None:
    """One replica: a Controller in this process for `seconds`, then its figures as JSON."""
    from rollout.clock import SystemClock
    from rollout.controller import Controller, Look
    from rollout.state import open_store

    looks: list[tuple[float, float]] = []  # (due, lag)

    def seen(look: Look) -> None:
        looks.append((look.due.timestamp(), look.lag))

    ctl = Controller(
        store=open_store(url), clock=SystemClock(), on_look=seen, workers=workers, batch=32
    )
    timer = threading.Timer(seconds, ctl.stop.set)
    timer.start()
    t0 = time.time()
    ctl.run()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    out.write_text(
        json.dumps(
            {
                "looks": looks,
                "started": t0,
                "elapsed": time.time() - t0,
                "rss_mb": rss_mb,
                "cpu_s": cpu.ru_utime + cpu.ru_stime,
            }
        )
    )


def quantile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def one(
    n: int, r: int, seconds: float, interval: int, workers: int, warmup: float
) -> dict[str, Any]:
    from tests.helpers.pg import launch

    pg = launch()
    routes = Path(tempfile.mkdtemp(prefix="fleet-routes-", dir="/dev/shm"))
    work = Path(tempfile.mkdtemp(prefix="fleet-"))
    try:
        url = pg.create_db()
        made = create(url, n, routes, interval)
        t0 = time.time()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "replica",
                    url,
                    str(work / f"r{i}.json"),
                    str(seconds),
                    str(workers),
                ],
                cwd=REPO,
            )
            for i in range(r)
        ]
        for p in procs:
            p.wait()
        stats = [json.loads((work / f"r{i}.json").read_text()) for i in range(r)]
        import psycopg

        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        looks = [tuple(x) for s in stats for x in s["looks"]]
        burst_end = t0 + warmup
        burst = [lag for due, lag in looks if due < burst_end]
        steady = [lag for due, lag in looks if due >= burst_end]
        elapsed = max(s["elapsed"] for s in stats)
        steady_s = max(1e-9, elapsed - warmup)
        return {
            "rollouts": n,
            "replicas": r,
            "workers": workers,
            "seconds": seconds,
            "warmup_s": warmup,
            "create_s": round(made, 1),
            "looks": len(looks),
            "decisions_per_s": round(len(looks) / elapsed, 1),
            "steady_decisions_per_s": round(len(steady) / steady_s, 1),
            "burst_lag_median_s": round(quantile(burst, 0.5), 2),
            "burst_lag_p99_s": round(quantile(burst, 0.99), 2),
            "steady_lag_median_s": round(quantile(steady, 0.5), 2),
            "steady_lag_p99_s": round(quantile(steady, 0.99), 2),
            "steady_lag_max_s": round(max(steady) if steady else float("nan"), 2),
            "db_mb": round(size / 1e6, 1),
            "rss_mb_per_replica": round(statistics.mean(s["rss_mb"] for s in stats), 1),
            "cpu_s_per_look_ms": round(
                1000 * sum(s["cpu_s"] for s in stats) / max(1, len(looks)), 2
            ),
        }
    finally:
        pg.stop()
        shutil.rmtree(routes, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "replica":
        replica(sys.argv[2], Path(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--replicas", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument(
        "--warmup",
        type=float,
        help="seconds before the steady state is measured (default: one interval); every "
        "rollout is due at once at the start, and its first looks (preflight, first shift) "
        "are the heaviest",
    )
    ap.add_argument("--workers", type=int, default=4, help="threads per replica")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        for r in (int(x) for x in args.replicas.split(",")):
            warm = args.warmup if args.warmup is not None else float(args.interval)
            row = one(n, r, args.seconds, args.interval, args.workers, warm)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
