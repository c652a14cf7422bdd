"""Profile the controller's steady-state look against a real PostgreSQL (issue #15).

N rollouts (benchmarks/fleet.py's plan, a short analysis interval), one in-process Controller
with one worker on the system clock: the first N looks (preflight, first shift) are skipped,
then the next `--looks` are profiled with cProfile. Prints the replica CPU per look and the top
functions by cumulative time; `--out` keeps the pstats file.

    python benchmarks/fleet_profile.py --rollouts 200 --looks 400 --interval 5
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rollouts", type=int, default=200)
    ap.add_argument("--looks", type=int, default=400)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import fleet

    from rollout.clock import SystemClock
    from rollout.controller import Controller, Look
    from rollout.state import open_store
    from tests.helpers.pg import launch

    pg = launch()
    routes = Path(tempfile.mkdtemp(prefix="fleet-routes-", dir="/dev/shm"))
    try:
        url = pg.create_db()
        fleet.create(url, args.rollouts, routes, args.interval)
        prof = cProfile.Profile()
        seen = {"n": 0, "t0": 0.0, "cpu0": 0.0}
        ctl: Controller

        def on_look(look: Look) -> None:
            seen["n"] += 1
            if seen["n"] == args.rollouts:  # the first looks done: profile the steady ones
                seen["t0"], seen["cpu0"] = time.perf_counter(), time.process_time()
                prof.enable()
            elif seen["n"] == args.rollouts + args.looks:
                prof.disable()
                seen["t1"], seen["cpu1"] = time.perf_counter(), time.process_time()
                ctl.stop.set()

        ctl = Controller(
            store=open_store(url), clock=SystemClock(), on_look=on_look, workers=1, batch=32
        )
        ctl.run()
        wall = (seen["t1"] - seen["t0"]) / args.looks * 1000
        cpu = (seen["cpu1"] - seen["cpu0"]) / args.looks * 1000
        print(f"{args.looks} steady looks: {wall:.2f} ms wall, {cpu:.2f} ms CPU per look")
        stats = pstats.Stats(prof)
        if args.out:
            stats.dump_stats(str(args.out))
        stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        pg.stop()
        shutil.rmtree(routes, ignore_errors=True)


if __name__ == "__main__":
    main()
