"""The power preview against `rollout simulate`, and the shipped examples' rates (issue #16).

    .venv/bin/python benchmarks/power_preview.py              # writes docs/benchmarks.md
    .venv/bin/python benchmarks/power_preview.py --no-write --runs 100

1. Three plans (those of tests/sim/test_power.py): per analysis step, the preview's chance that
   a healthy candidate is certified by the end of the bake (closed form, rollout.sim.power)
   beside the share of simulated runs whose bake ended with every gate `pass` (seed 11).
2. Every shipped example and the templates this repository keeps decisive: `rollout simulate`
   healthy (completed = certified: each stage waits for its gates, or a threshold ramp that
   never failed) and error-2x (rolled back), at the traffic each states.

Sections go into docs/benchmarks.md between the `power-preview` and `examples-decide` markers.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sim"))

from rollout.loading import load  # noqa: E402
from rollout.sim import fast  # noqa: E402
from rollout.sim.power import preview  # noqa: E402
from rollout.sim.scenarios import builtin  # noqa: E402
from rollout.sim.virtual import series_for, simulate_one  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
EXAMPLES = {
    "examples/quickstart/plan.yaml": 400,
    "examples/bad-candidate/plan.yaml": 400,
    "plans/pilot-expansion-full.yaml": 300,
    "plans/blue-green.yaml": 200,
    "plans/linear-10.yaml": 100,
    "plans/cheaper-model.yaml": 100,
    "plans/model-version-upgrade.yaml": 100,
    "plans/payg-to-provisioned.yaml": 100,
    "plans/prompt-change.yaml": 100,
}


def power_rows(runs: int) -> list[str]:
    from test_power import CASES, PLAN  # the three plans of the test

    rows = [
        "| plan | traffic | step | predicted | simulated (runs) |",
        "|---|---|---|---|---|",
    ]
    worst = 0.0
    for name, (rpm, ratio, latency, stages) in sorted(CASES.items()):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "plan.yaml"
            p.write_text(PLAN % {"ratio": ratio, "latency": latency, "stages": stages})
            plan = load(p).plan
        pv = preview(plan, float(rpm))
        scn = builtin("healthy").model_copy(update={"requests_per_minute": float(rpm)})
        series = series_for(plan, scn)
        bakes: list[list[tuple[int, bool]]] = [[] for _ in range(runs)]
        if fast.supports(plan, scn, series) is None and not fast.self_check(
            plan, scn, 11, range(3), series
        ):
            fast.batch(plan, scn, 11, range(runs), series, bakes=bakes)
        else:
            for i in range(runs):
                simulate_one(plan, scn, 11, i, series, bakes=bakes[i])
        for st in pv["steps"]:
            seen = [ok for b in bakes for i, ok in b if i == st["index"]]
            sim = sum(seen) / len(seen)
            worst = max(worst, abs(sim - st["p_verdict"]))
            rows.append(
                f"| {name} | {rpm:,}/min | {st['stage']} at {st['weight']} % | "
                f"{st['p_verdict']:.1%} | {sim:.1%} ({len(seen)}) |"
            )
    rows.append("")
    rows.append(f"Largest difference: {worst * 100:.1f} points (the test allows 10).")
    return rows


def sized_for(path: Path) -> list[str]:
    m = re.search(r"Sized for ([0-9,]+) requests/min", path.read_text(encoding="utf-8"))
    return ["--traffic", m.group(1).replace(",", "") + "/min"] if m else []


def simulate(path: str, scenario: str, runs: int) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, "-m", "rollout", "simulate", str(ROOT / path), "--scenario", scenario]
    cmd += ["--runs", str(runs), "-o", "json", *sized_for(ROOT / path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def example_rows(scale: float) -> list[str]:
    rows = [
        "| plan | traffic | runs | healthy certified | error-2x caught | path | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for path, runs in EXAMPLES.items():
        n = max(20, int(runs * scale))
        t = time.perf_counter()
        h, b = simulate(path, "healthy", n), simulate(path, "error-2x", n)
        secs = time.perf_counter() - t
        ok = h["results"]["outcomes"]["completed"] / n
        caught = b["results"]["outcomes"]["rolled_back"] / n
        rpm = h["scenario"]["requests_per_minute"]
        path_ = h["path"].split(" (")[0]
        rows.append(
            f"| `{path}` | {rpm:,.0f}/min ({h['traffic_from']}) | {n} | {ok:.1%} | "
            f"{caught:.1%} | {path_} | {secs:.0f} |"
        )
    return rows


def put(text: str, name: str, title: str, lines: list[str]) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = start + "\n" + "\n".join(lines) + "\n" + end
    if start in text:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return text + f"\n## {title}\n\n" + block + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300, help="runs per plan for the power check")
    ap.add_argument("--scale", type=float, default=1.0, help="scale the examples' run counts")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    power = power_rows(a.runs)
    print("\n".join(power))
    examples = example_rows(a.scale)
    print("\n".join(examples))
    if not a.no_write:
        text = DOC.read_text(encoding="utf-8")
        intro = [
            "Generated by `benchmarks/power_preview.py`. For a healthy candidate, the chance "
            "that every gate of an analysis step is certified (`pass`) by the end of its bake: "
            "the closed form `rollout plan` and `rollout check` show (rollout.sim.power), beside "
            "the share of simulated runs (the engine's gates, seed 11) whose bake ended so. The "
            "plans proceed on an inconclusive bake, so every run reaches every step.",
            "",
        ]
        text = put(
            text, "power-preview", "Power preview against `simulate` (issue #16)", intro + power
        )
        intro = [
            "Generated by `benchmarks/power_preview.py` (`rollout simulate PLAN --scenario "
            "healthy|error-2x --runs N`, seed 1) at the traffic each plan states: its simulated "
            "source, or the rate a Prometheus template is sized for. Healthy certified: runs "
            "that reached 100 % (the quickstart and pilot-expansion-full wait for every gate to "
            "pass; blue-green and linear-10 are threshold plans that completed without a failed "
            "check). The last four templates (signal gates, added with issue #12) are listed as "
            "they are; `rollout plan` on them shows which stages cannot decide.",
            "",
        ]
        text = put(text, "examples-decide", "Examples that decide (issue #16)", intro + examples)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
