"""Operating characteristics of the evaluate stage's paired test (rollout.evaluation.paired):
how often a candidate passes, fails or stays inconclusive, by its true mean difference, for
continuous scores (0..1, item effect shared by both variants) and pass/fail (0/1) scores.

    python benchmarks/paired_evaluation.py [--runs 2000]     # prints the docs/benchmarks.md table

Margin max_decrease 0.02, alpha 0.05. A candidate exactly at the margin must pass at most
alpha of the time (the level); below it, less.
"""

from __future__ import annotations

import argparse
import random

from rollout.evaluation.paired import judge
from rollout.evaluation.spec import EvalGate

GATE = EvalGate(name="quality", metric="score", max_decrease=0.02)


def one(rng: random.Random, n: int, delta: float, kind: str) -> str:
    base: dict[str, float | None] = {}
    cand: dict[str, float | None] = {}
    for i in range(n):
        if kind == "continuous":
            item = rng.uniform(0.2, 0.9)
            b = item + rng.gauss(0, 0.05)
            c = item + delta + rng.gauss(0, 0.05)
        else:  # pass/fail: the candidate loses an item w.p. lose, wins one w.p. win
            lose, win = 0.05 + max(0.0, -delta), 0.05 + max(0.0, delta)
            u = rng.random()
            if u < lose:
                b, c = 1.0, 0.0
            elif u < lose + win:
                b, c = 0.0, 1.0
            else:
                b = c = 1.0 if rng.random() < 0.8 else 0.0
        base[f"q{i}"], cand[f"q{i}"] = b, c
    r = judge(GATE, base, cand, alpha=0.05, min_items=10, max_missing=0.05)
    return r.status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print("| scores | n | true difference | pass | inconclusive | fail |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("continuous", "pass/fail"):
        for n in (20, 40, 200):
            for delta in (0.0, -0.02, -0.05):
                got = {"pass": 0, "inconclusive": 0, "fail": 0}
                for _ in range(args.runs):
                    got[one(rng, n, delta, kind)] += 1
                row = " | ".join(f"{100 * got[k] / args.runs:.1f} %" for k in got)
                print(f"| {kind} | {n} | {delta:+.2f} | {row} |")


if __name__ == "__main__":
    main()
