"""CLI start-up time: `rollout --help` next to `python -c pass` and `python -c "import typer"`.

All three are measured in the same run, on the same machine, interleaved (so drift in machine
load hits them alike). Prints the median and spread of each, in milliseconds.

    python benchmarks/startup.py [-n 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rollout_cmd() -> list[str]:
    """The installed console script next to this interpreter, else `python -m rollout`."""
    script = Path(sys.executable).with_name("rollout")
    if script.exists():
        return [str(script)]
    found = shutil.which("rollout")
    return [found] if found else [sys.executable, "-m", "rollout"]


def time_once(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=30, help="runs per command (default 30)")
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
        "rollout --help": [*rollout_cmd(), "--help"],
    }
    for cmd in commands.values():  # warm the OS cache and write bytecode before timing
        time_once(cmd, env)
    samples: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            samples[name].append(time_once(cmd, env))
    print(f"start-up, {args.runs} runs each, python {sys.version.split()[0]} ({sys.platform})")
    print(f"{'command':<28} {'median':>9} {'p10':>9} {'p90':>9}")
    for name, xs in samples.items():
        q = statistics.quantiles(xs, n=10)
        print(f"{name:<28} {statistics.median(xs):>7.1f}ms {q[0]:>7.1f}ms {q[-1]:>7.1f}ms")
    base = statistics.median(samples["python -c pass"])
    typer_ms = statistics.median(samples['python -c "import typer"'])
    ours = statistics.median(samples["rollout --help"])
    print(
        f"rollout --help costs {ours - base:.0f}ms over bare python,"
        f" {ours - typer_ms:.0f}ms over importing typer"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
