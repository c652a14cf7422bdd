"""Decision roles on the cheaper-model template: what `rollout simulate` says per scenario.

plans/cheaper-model.yaml has cost as a goal (max_ratio 0.8: shown at least 20 % cheaper) and
quality, errors and throttling as guardrails. Per scenario: outcomes of --runs virtual rollouts
at the 20,000 requests/min the template is sized for (the engine path: goal gates are not on
the fast path). Writes benchmarks/decision_roles.json; docs/benchmarks.md quotes it.

    nice -n 10 .venv/bin/python benchmarks/decision_roles.py --runs 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "plans" / "cheaper-model.yaml"
SCENARIOS = ("cheaper-equal-quality", "healthy", "cost-2x", "quality-0.05", "error-2x")


def one(scenario: str, runs: int, seed: int) -> dict[str, object]:
    cmd = [sys.executable, "-m", "rollout", "simulate", str(PLAN), "--scenario", scenario]
    cmd += ["--runs", str(runs), "--seed", str(seed), "--traffic", "20000/min", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)["results"]  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated scenarios")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "decision_roles.json"))
    a = ap.parse_args()
    names = [s for s in a.only.split(",") if s] or list(SCENARIOS)
    path = Path(a.out)
    table = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        r = one(name, a.runs, a.seed)
        table[name] = {"runs": a.runs, "seed": a.seed, **r}
        path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
        print(name, json.dumps(r.get("outcomes")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
