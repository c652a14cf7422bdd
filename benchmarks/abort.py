"""How long from `rollout abort NAME` to a baseline routes file, whole process included.

A run is put at 5 % candidate (routes file + SQLite state), then `rollout abort` is started as a
separate process while this script watches the routes file. Reported: time until the file
says 100 % baseline, and time until the abort process exits (it verifies through the router
and records the event first). `python benchmarks/abort.py [--runs 20]`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout.loading import load
from rollout.providers import build_router
from rollout.records import Phase, Weights
from rollout.runner import new_run
from rollout.spec import ProviderSpec
from rollout.state import open_store

PLAN = Path(__file__).resolve().parent.parent / "examples" / "quickstart" / "plan.yaml"


def once(tmp: Path) -> tuple[float, float]:
    state = f"sqlite:///{tmp / 'state.db'}"
    plan = load(PLAN).plan
    plan = plan.model_copy(
        update={
            "source": str(tmp / "plan.yaml"),
            "spec": plan.spec.model_copy(
                update={"router": ProviderSpec(type="file", path=str(tmp / "routes.json"))}
            ),
        }
    )
    store = open_store(state)
    existing = store.load(plan.name)
    now = datetime.now(UTC)
    run = new_run(plan, now, attempt=(existing.attempt + 1) if existing else 1)
    run = run.model_copy(
        update={
            "phase": Phase.PROGRESSING,
            "desired": Weights.of(5),
            "step_index": 2,
            "step_started_at": now,
        }
    )
    store.commit(run, [], expected_revision=0)
    build_router(plan).set_weights(Weights.of(5))
    routes = tmp / "routes.json"
    env = {**os.environ, "ROLLOUT_STATE": state}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollout", "abort", plan.name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    restored = None
    while proc.poll() is None or restored is None:
        if restored is None:
            try:
                doc = json.loads(routes.read_text())
                if {v["name"]: v["weight"] for v in doc["variants"]}["candidate"] == 0:
                    restored = time.perf_counter() - t0
            except (OSError, ValueError, KeyError):
                pass
        if proc.poll() is not None and restored is None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"abort exited {proc.returncode} without restoring: {err}")
    done = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"abort failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return restored, done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        results = [once(Path(d)) for _ in range(args.runs)]
    restored = sorted(r for r, _ in results)
    done = sorted(x for _, x in results)

    def p90(xs: list[float]) -> float:
        return xs[min(len(xs) - 1, int(0.9 * len(xs)))]

    print(
        f"rollout abort, {args.runs} runs, python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(
        f"  routes file at baseline: median {statistics.median(restored) * 1000:.0f} ms,"
        f" p90 {p90(restored) * 1000:.0f} ms"
    )
    print(
        f"  abort process exited:    median {statistics.median(done) * 1000:.0f} ms,"
        f" p90 {p90(done) * 1000:.0f} ms (verified + recorded)"
    )


if __name__ == "__main__":
    main()
