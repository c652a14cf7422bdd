"""How much `rollout.client.Routes.choose()` costs per request.

    python benchmarks/client.py [--calls 200000] [--json]

Measures batches of calls with the real clock and a real routes file, and reports the median
nanoseconds per call for: a sticky key with the default check_interval (1 s: what an app
pays), a sticky key with check_interval=0 (a stat on every call: the worst case), a random
choice (no key), and the same while another thread rewrites the file every 10 ms (reloads).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rollout.client import Routes
from rollout.records import Weights
from rollout.routers.file import FileRouter

BATCH = 1000


def median_ns(fn: Callable[[int], object], calls: int) -> float:
    """Median over batches of BATCH calls, in ns per call (the median shrugs off GC pauses)."""
    per_call = []
    for b in range(max(1, calls // BATCH)):
        start = time.perf_counter_ns()
        for i in range(b * BATCH, (b + 1) * BATCH):
            fn(i)
        per_call.append((time.perf_counter_ns() - start) / BATCH)
    return statistics.median(per_call)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    keys = [f"user-{i}" for i in range(args.calls)]
    with tempfile.TemporaryDirectory() as d:
        router = FileRouter(
            Path(d) / "routes.json", {"candidate": {"target": "gpt41"}}, {}, "bench"
        )
        router.set_weights(Weights.of(25))
        default = Routes(router.path)
        every = Routes(router.path, check_interval=0.0)
        results = {
            "sticky_key_check_1s": median_ns(lambda i: default.choose(keys[i]), args.calls),
            "sticky_key_stat_every_call": median_ns(lambda i: every.choose(keys[i]), args.calls),
            "no_key_check_1s": median_ns(lambda i: default.choose(), args.calls),
        }
        stop = threading.Event()

        def writer() -> None:
            w = 25
            while not stop.is_set():
                w = 50 if w == 25 else 25
                router.set_weights(Weights.of(w))
                stop.wait(0.01)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        reloads_before = every.revision
        results["sticky_key_stat_every_call_while_rewritten"] = median_ns(
            lambda i: every.choose(keys[i]), args.calls
        )
        stop.set()
        t.join()
        reloaded = every.revision - reloads_before
    if args.json:
        print(
            json.dumps(
                {"median_ns_per_call": results, "calls": args.calls, "revisions_seen": reloaded}
            )
        )
    else:
        print(
            f"rollout.client Routes.choose(), median of {args.calls // BATCH} batches of {BATCH}"
            f" calls (Python {sys.version.split()[0]})"
        )
        for name, ns in results.items():
            print(f"  {name:<45} {ns:8.0f} ns/call")
        print(f"  (revisions taken while rewritten: {reloaded})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
