"""LLM signals benchmark (issue #12): each LLM scenario against a plan gated by built-in signals.

One plan (simulated source, `signal:` gates only, method sequential, alpha 0.05) is run through
the engine in virtual time (rollout.sim.virtual, the same path as `rollout simulate`) against
every LLM scenario of rollout.sim.scenarios, and against the healthy ones (identical candidate,
and a cheaper candidate equal on quality). Per scenario: detection rate (rolled back), median
time to detect, the candidate requests served by then (the exposure), which gate caught it;
for healthy candidates the false-rollback rate, which must stay at or below alpha.

    .venv/bin/python benchmarks/llm_scenarios.py --runs 2000          # the full run
    .venv/bin/python benchmarks/llm_scenarios.py --runs 50 --print    # a smoke run, prints only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollout.compile import compile_plan  # noqa: E402
from rollout.sim.report import quantile, run_many, summarise, wilson  # noqa: E402
from rollout.sim.scenarios import builtin  # noqa: E402
from rollout.spec import PlanSpec  # noqa: E402

ALPHA = 0.05
REGRESSIONS = (
    "verbose",
    "cost-2x",
    "throttling",
    "content-filter-spike",
    "quality-0.05",
    "ttft+50%",
)
HEALTHY = ("healthy", "cheaper-equal-quality")
GATES = [
    {"name": "errors", "signal": "error-rate", "max_ratio": 1.25},
    {"name": "throttled", "signal": "throttled-rate", "max": 0.02},
    {"name": "filtered", "signal": "content-filtered-rate", "max_increase": 0.004},
    {"name": "ttft", "signal": "ttft", "max_ratio": 1.2},
    {"name": "tokens", "signal": "output-tokens-per-request", "max_ratio": 1.15},
    {"name": "cost", "signal": "cost-per-request", "max_ratio": 1.2},
    {"name": "quality", "signal": "quality-score", "max_decrease": 0.03},
]
PLAN: dict[str, Any] = {
    "apiVersion": "rollout/v1",
    "kind": "Plan",
    "name": "llm-bench",
    "variants": {
        "baseline": {"model": "gpt-4o", "model_version": "2024-08-06"},
        "candidate": {"model": "gpt-4o", "model_version": "2024-11-20"},
    },
    "router": {"type": "file", "path": "routes.json"},
    "metrics": {"type": "simulated"},
    "gates": GATES,
    "stages": [
        # Judge scores are sampled (10 % of answers): too few at 5 % for the quality gate.
        {
            "name": "pilot",
            "weight": 5,
            "bake": "30m",
            "gates": ["errors", "throttled", "filtered", "ttft", "tokens", "cost"],
        },
        {"name": "expansion", "weights": [25, 50], "bake": "30m"},
        {"name": "full", "weight": 100, "bake": "5m"},
    ],
    # proceed: a stage whose bake ends without certification (a 1 % error rate needs tens of
    # thousands of requests to certify max_ratio 1.25) goes on; evidence of harm rolls back.
    "analysis": {
        "interval": "1m",
        "method": "sequential",
        "alpha": ALPHA,
        "on_inconclusive": "proceed",
    },
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--print", action="store_true", help="print only; do not write the JSON")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "llm_scenarios.json"))
    ap.add_argument("--only", default="", help="comma-separated scenarios (merged into --out)")
    ap.add_argument("--markdown", action="store_true", help="print --out as a markdown table")
    args = ap.parse_args()
    if args.markdown:
        print("\n".join(markdown(json.loads(Path(args.out).read_text()))))
        return 0
    plan = compile_plan(PlanSpec.model_validate(PLAN))
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() and args.only else {"rows": []}
    rows = list(old["rows"])
    names = args.only.split(",") if args.only else [*REGRESSIONS, *HEALTHY]
    for name in names:
        scn = builtin(name)
        t0 = time.perf_counter()
        outs = run_many(plan, scn, args.runs, args.seed, args.workers)
        s = summarise(outs, scn.healthy)
        rb = [o for o in outs if o.outcome == "rolled_back"]
        lo, hi = wilson(len(rb), len(outs))
        row = {
            "scenario": name,
            "description": scn.description,
            "healthy": scn.healthy,
            "runs": len(outs),
            "rolled_back": len(rb) / len(outs),
            "ci95": [lo, hi],
            "median_minutes_to_detect": quantile([o.minutes for o in rb], 0.5),
            "median_candidate_requests_to_detect": quantile(
                [float(o.candidate_requests) for o in rb], 0.5
            ),
            "outcomes": s["outcomes"],
            "gates": s["failed_gates"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        rows = [r for r in rows if r["scenario"] != name] + [row]
        print(line(row), flush=True)
        order = [*REGRESSIONS, *HEALTHY]
        rows.sort(key=lambda r: order.index(r["scenario"]) if r["scenario"] in order else 99)
        doc = {"alpha": ALPHA, "seed": args.seed, "plan": PLAN, "rows": rows}
        if not args.print:  # after each scenario: a long run can be stopped and resumed
            out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


def markdown(doc: dict[str, Any]) -> list[str]:
    out = [
        "| scenario | runs | rolled back (95 % CI) | median time to detect | median candidate "
        "requests to detect | caught by |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in doc["rows"]:
        m, n = r["median_minutes_to_detect"], r["median_candidate_requests_to_detect"]
        what = "false rollbacks " if r["healthy"] else ""
        gates = ", ".join(f"{g} {k}" for g, k in sorted(r["gates"].items(), key=lambda x: -x[1]))
        out.append(
            f"| `{r['scenario']}` ({r['description']}) | {r['runs']:,} | {what}"
            f"{r['rolled_back'] * 100:.1f} % ({r['ci95'][0] * 100:.1f}-{r['ci95'][1] * 100:.1f})"
            f" | {'-' if m is None else f'{m:.0f} min'} | {'-' if n is None else f'{n:,.0f}'}"
            f" | {gates or '-'} |"
        )
    return out


def line(r: dict[str, Any]) -> str:
    what = "false rollbacks" if r["healthy"] else "detected"
    m = r["median_minutes_to_detect"]
    n = r["median_candidate_requests_to_detect"]
    return (
        f"{r['scenario']:24} {what} {r['rolled_back'] * 100:5.1f} % "
        f"(95 % CI {r['ci95'][0] * 100:.1f}-{r['ci95'][1] * 100:.1f}) "
        f"median {'-' if m is None else f'{m:.0f} min'}, "
        f"{'-' if n is None else f'{n:,.0f}'} candidate requests; gates {r['gates']}; "
        f"{r['outcomes']}; "
        f"{r['seconds']} s"
    )


if __name__ == "__main__":
    sys.exit(main())
