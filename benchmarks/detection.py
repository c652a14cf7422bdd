"""Detection benchmark: `method: sequential` against a Flagger-style threshold rule.

Both run through the same engine (rollout.engine.advance) on the same simulated traffic
(common random numbers: run i of seed s sees the same requests whatever the plan). The
threshold rule ("candidate rate > X in a minute; roll back after N failed checks") is
calibrated fairly: a grid of (X, N) is run on healthy traffic with separate calibration seeds,
rules with a false-rollback rate above alpha are discarded, and the most powerful survivor (on
the 2x regression, also on calibration seeds) is kept. Then both are evaluated on fresh seeds.

    .venv/bin/python benchmarks/detection.py                # full: writes docs/benchmarks.md
    .venv/bin/python benchmarks/detection.py --quick        # a smoke run, prints only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollout.compile import compile_plan  # noqa: E402
from rollout.records import Plan  # noqa: E402
from rollout.sim.report import run_many, summarise  # noqa: E402
from rollout.sim.scenarios import builtin  # noqa: E402
from rollout.spec import PlanSpec  # noqa: E402

ALPHA = 0.05
STAGES = [
    {"name": "pilot", "weight": 5, "bake": "30m"},
    {"name": "expansion", "weights": [25, 50], "bake": "30m"},
    {"name": "full", "weight": 100, "bake": "5m"},
]
ERRORS = {
    "name": "error-rate",
    "kind": "proportion",
    "events": 'errors{variant="{{ variant }}"}',
    "total": 'requests{variant="{{ variant }}"}',
}
LOGLAT = {
    "name": "log-latency",
    "kind": "mean",
    "count": 'latency_count{variant="{{ variant }}"}',
    "sum": 'latency_log_sum{variant="{{ variant }}"}',
    "sum_squares": 'latency_log_sum_squares{variant="{{ variant }}"}',
    "max_increase": 0.0,
}
TAIL = {
    "name": "latency-tail",
    "kind": "proportion",
    "events": 'latency_over{variant="{{ variant }}",le="2.15"}',  # baseline p95
    "total": 'requests{variant="{{ variant }}"}',
    "max_ratio": 1.0,
}
P95 = {"name": "p95", "kind": "value", "query": 'latency_p95{variant="{{ variant }}"}'}
ERROR_GRID = [(x, n) for x in (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.35) for n in (0, 2, 4)]
P95_GRID = [(x, n) for x in (1.8, 2.2, 2.6, 3.0, 3.5, 4.0) for n in (0, 2, 4)]


def plan(gates: list[dict[str, Any]], method: str, failure_limit: int = 0) -> Plan:
    spec = PlanSpec.model_validate(
        {
            "apiVersion": "rollout/v1",
            "kind": "Plan",
            "name": "bench",
            "variants": {"baseline": {"model": "a"}, "candidate": {"model": "b"}},
            "router": {"type": "file", "path": "r.json"},
            "metrics": {"type": "simulated"},
            "gates": gates,
            "stages": STAGES,
            "analysis": {
                "interval": "1m",
                "method": method,
                "alpha": ALPHA,
                "failure_limit": failure_limit,
                "on_inconclusive": "proceed",
            },
        }
    )
    return compile_plan(spec)


def calibrate(
    make: Any, grid: list[tuple[float, int]], rpm: float, bad: str, runs: int, seed: int
) -> tuple[tuple[float, int], dict[str, Any]]:
    """The most powerful threshold rule whose false-rollback rate on healthy runs is <= alpha."""
    best: tuple[tuple[float, int], dict[str, Any], float] | None = None
    for x, n in grid:
        p = make(x, n)
        frr = summarise(run_many(p, builtin("healthy", requests_per_minute=rpm), runs, seed), True)[
            "rollback_rate"
        ]
        if frr > ALPHA:
            continue
        s = summarise(run_many(p, builtin(bad, requests_per_minute=rpm), runs, seed), False)
        score = s["rollback_rate"] - 1e-6 * (s["excess_failed_requests"]["mean"] or 0)
        if best is None or score > best[2]:
            best = (
                (x, n),
                {"calibration_frr": frr, "calibration_power": s["rollback_rate"]},
                score,
            )
    if best is None:
        raise SystemExit(f"no threshold rule in the grid reaches alpha at {rpm} rpm")
    return best[0], best[1]


def row(label: str, scenario: str, s: dict[str, Any]) -> str:
    def f(v: float | None, d: int = 0) -> str:
        return "-" if v is None else f"{v:,.{d}f}"

    rate = s["rollback_rate"]
    lo, hi = s["rollback_rate_ci95"]
    return (
        f"| {label} | {scenario} | {s['runs']} | "
        f"{rate * 100:.1f} % ({lo * 100:.1f}-{hi * 100:.1f}) | "
        f"{f(s['time_to_detect_min']['median'])} / {f(s['time_to_detect_min']['p90'])} | "
        f"{f(s['excess_failed_requests']['median'], 1)} / "
        f"{f(s['excess_failed_requests']['mean'], 1)} | "
        f"{f(s['candidate_requests_median'])} | {s['outcomes']['halted']} |"
    )


HEADER = (
    "| method | scenario | runs | rolled back (95 % CI) | minutes to detect, median / p90 | "
    "excess failed requests, median / mean | "
    "candidate requests, median | halted |\n|---|---|---|---|---|---|---|---|"
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--healthy-runs", type=int, default=2000)
    ap.add_argument("--bad-runs", type=int, default=500)
    ap.add_argument("--cal-runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--quick", action="store_true", help="small run counts; print, do not write docs"
    )
    ap.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    a = ap.parse_args()
    if a.quick:
        a.healthy_runs, a.bad_runs, a.cal_runs = 200, 100, 100
    started = time.perf_counter()
    out: list[str] = []
    headline: dict[str, Any] = {}
    seq_err = plan([{**ERRORS, "max_ratio": 1.0}], "sequential")
    for rpm in (100, 1000, 10000):
        (x, n), cal = calibrate(
            lambda x, n: plan([{**ERRORS, "max": x}], "threshold", n),
            ERROR_GRID,
            rpm,
            "error-2x",
            a.cal_runs,
            a.seed + 1000,
        )
        thr = plan([{**ERRORS, "max": x}], "threshold", n)
        out += [
            f"\n### Error rate, {rpm:,} requests/min (baseline 1 %)\n",
            f"Calibrated threshold rule: candidate error rate > {x * 100:g} % in a minute, "
            f"roll back after {n + 1} failed checks "
            f"(calibration: false rollbacks {cal['calibration_frr'] * 100:.1f} %, "
            f"2x detected {cal['calibration_power'] * 100:.0f} %).\n",
            HEADER,
        ]
        for scn in ("healthy", "drift", "incident", "error-1.5x", "error-2x", "error-5x"):
            healthy = builtin(scn).healthy
            runs = a.healthy_runs if healthy else a.bad_runs
            for label, p in (("sequential", seq_err), ("threshold", thr)):
                s = summarise(
                    run_many(p, builtin(scn, requests_per_minute=rpm), runs, a.seed), healthy
                )
                out.append(row(label, scn, s))
                headline[f"{rpm}/{scn}/{label}"] = s
            print(f"done {rpm} rpm {scn} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    seq_lat = plan([LOGLAT, TAIL], "sequential")
    (x, n), cal = calibrate(
        lambda x, n: plan([{**P95, "max": x}], "threshold", n),
        P95_GRID,
        1000,
        "latency+10%",
        a.cal_runs,
        a.seed + 1000,
    )
    thr_lat = plan([{**P95, "max": x}], "threshold", n)
    out += [
        "\n### Latency, 1,000 requests/min "
        "(lognormal, median 0.8 s, log-sd 0.6; p95 about 2.15 s)\n",
        "Sequential: mean log-latency (normal-mixture CS, max_increase 0) and an exceedance gate "
        "(share of requests over 2.15 s, the baseline p95, max_ratio 1), alpha split between them. "
        f"Calibrated threshold rule: candidate p95 > {x:g} s in a minute, "
        f"roll back after {n + 1} failed checks "
        f"(calibration: false rollbacks {cal['calibration_frr'] * 100:.1f} %, "
        f"+10 % detected {cal['calibration_power'] * 100:.0f} %).\n",
        HEADER,
    ]
    for scn in ("healthy", "latency+10%", "latency+25%", "tail-regression"):
        healthy = builtin(scn).healthy
        for label, p in (("sequential", seq_lat), ("threshold", thr_lat)):
            s = summarise(
                run_many(p, builtin(scn), a.healthy_runs // 2 if healthy else a.bad_runs, a.seed),
                healthy,
            )
            out.append(row(label, scn, s))
            headline[f"lat/{scn}/{label}"] = s
    t0 = time.perf_counter()
    outs = run_many(seq_err, builtin("healthy"), 1000, a.seed)
    sim_secs = time.perf_counter() - t0
    ticks = sum(o.ticks for o in outs)
    elapsed = time.perf_counter() - started
    seq, thr2 = headline["1000/error-2x/sequential"], headline["1000/error-2x/threshold"]
    ratio = (thr2["excess_failed_requests"]["mean"] or 0) / max(
        1e-9, seq["excess_failed_requests"]["mean"] or 0
    )
    worst = max(
        headline[f"{r}/{s}/sequential"]["rollback_rate"]
        for r in (100, 1000, 10000)
        for s in ("healthy", "drift", "incident")
    )
    summary = [
        f"- 1,000 requests/min, 5 % pilot, 1 % -> 2 %: sequential detects "
        f"{seq['detection_probability'] * 100:.1f} % before full, "
        f"median {seq['time_to_detect_min']['median']:.0f} min, median excess failed requests "
        f"{seq['excess_failed_requests']['median']:.1f} "
        f"(mean {seq['excess_failed_requests']['mean']:.1f}); the calibrated threshold rule "
        f"detects {thr2['detection_probability'] * 100:.1f} % with mean "
        f"excess {thr2['excess_failed_requests']['mean']:.1f}: {ratio:.1f}x more exposure.",
        f"- Highest false-rollback rate of the sequential method on healthy candidates "
        f"(stationary, drift with weight changes, provider incident; every traffic level; "
        f"{a.healthy_runs:,} runs each): {worst * 100:.1f} % (alpha {ALPHA * 100:g} %).",
        f"- `rollout simulate` speed: 1,000 healthy runs of this 3-stage plan "
        f"(one error gate, 1,000 requests/min, {ticks:,} engine ticks) took {sim_secs:.1f} s "
        f"({sim_secs / ticks * 1e6 * (os.cpu_count() or 1):.0f} us of CPU per tick "
        f"on {os.cpu_count()} cores).",
    ]
    doc = _document(a, elapsed, summary, out)
    print(doc)
    if not a.quick:
        a.output.parent.mkdir(parents=True, exist_ok=True)
        a.output.write_text(doc)
    return 0


def _document(a: argparse.Namespace, elapsed: float, summary: list[str], tables: list[str]) -> str:
    cmd = "python benchmarks/detection.py" + (" --quick" if a.quick else "")
    return "\n".join(
        [
            "# Detection benchmark: sequential gates vs a calibrated threshold rule",
            "",
            "Generated by `benchmarks/detection.py`; do not edit by hand. Reproduce with:",
            "",
            f"    .venv/bin/python {cmd.removeprefix('python ')} --seed {a.seed}",
            "",
            f"Runtime: {elapsed:.0f} s on this machine ({a.healthy_runs:,} runs per healthy "
            f"scenario, {a.bad_runs:,} per regression, {a.cal_runs:,} per calibration point).",
            "",
            "Setup: each run is a full virtual rollout through `rollout.engine.advance` with the "
            "plan's own gates: pilot 5 % for 30 min, expansion 25 % then 50 % for 30 min each, "
            "full 100 % (5 min bake), one analysis tick per minute, alpha 0.05, "
            "on_inconclusive: proceed. Traffic is Poisson; `drift` moves the base error rate from "
            "0.5 % to 2 % over 90 min while the weights change; `incident` multiplies both "
            "variants' errors by 5 for 10 min from minute 20. Both methods see the "
            "same traffic in run i (common random numbers). 'Excess failed requests' is the "
            "expected number of extra failed requests the candidate served before the rollback "
            "(bad candidates that reach full count up to promotion). 'Rolled back' is the "
            "false-rollback rate for healthy scenarios and the detection probability for "
            "regressions.",
            "",
            "## The gates compared",
            "",
            "- `sequential` error gate: `kind: proportion`, `max_ratio: 1.0`: the exact "
            "conditional e-process (per-minute Fisher noncentral hypergeometric likelihood "
            "ratio, half-normal mixture over the log odds ratio, sigma 0.7); it fails when the "
            "evidence reaches 1/alpha and is never reset between stages. Its sample-ratio-mismatch "
            "check (alpha 0.001) halts the rollout instead of rolling back; the 'halted' column "
            "counts those pauses (expected rate <= 0.1 % per gate).",
            "- `sequential` latency gates: mean log-latency (normal-mixture confidence sequence, "
            "stratified by minute, burn-in 100 requests per variant) plus an exceedance gate: a "
            "proportion gate whose events are the requests slower than the baseline's p95 "
            '(`events: latency_over{variant="{{ variant }}",le="2.15"}`, '
            "`total: requests{...}`, `max_ratio: 1`).",
            "- `threshold`: Argo/Flagger semantics (`method: threshold`): each minute the "
            "candidate's value is compared with an absolute bound and the rollout rolls back after "
            "`failure_limit + 1` failed checks in a stage; grid-searched as described above.",
            "",
            "## Headline",
            "",
            *summary,
            "",
            "## Results",
            *tables,
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
