"""Clustered traffic for gate benchmarks: sticky users who differ and send bursts (issue #16).

A rollout assigns *users* (sticky keys) to arms, not requests. This generator draws a user
population once per run and then, minute by minute, the requests those users send:

* each user has a request rate (lognormal, `rate_sigma`), an error propensity (logit-normal
  around the base rate, `propensity_sigma`), a routing hash (the candidate gets the users whose
  hash is below the weight, as a sticky router does) and a bucket (an independent hash of the
  key into `buckets` buckets, the label a source can group by);
* requests come in bursts: a burst is one user's `~burst` requests (geometric) in the same
  minute, all with that user's propensity; bursts arrive at random (Poisson), a user's share of
  them proportional to its rate.

`minute()` returns what a metrics source would report for one minute: per variant the totals
(events, total) and the same split per bucket. The generator imports nothing from rollout.

    from benchmarks.clustered import Setting, Population

Run as a script it measures the issue's table on healthy candidates (false rollbacks and
split-check halts, without and with bucket readings) through `gate_validity.clustered_run`,
one row after another, each row written to the JSON file as soon as it is done:

    nice -n 10 .venv/bin/python benchmarks/clustered.py [--runs 1000] [--rpms 1000,10000]
        [--settings 0,1,2,3] [--out benchmarks/clustered.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Setting:
    name: str
    users: int
    burst: float  # mean requests per burst (1: single requests)
    rate_sigma: float  # lognormal sd of the users' request rates
    propensity_sigma: float  # logit-normal sd of the users' error propensities
    buckets: int = 64


# The four settings of issue #16's table (the independent one is the reference).
SETTINGS = (
    Setting("bursts of ~5 requests per user, mild heterogeneity", 100_000, 5.0, 0.5, 0.5),
    Setting("bursts of ~20 requests per user, strong heterogeneity", 100_000, 20.0, 0.5, 1.5),
    Setting(
        "20,000 sticky users, lognormal request rates, strong heterogeneity", 20_000, 1.0, 1.5, 1.5
    ),
    Setting("200,000 sticky users, mild heterogeneity", 200_000, 1.0, 0.5, 0.5),
)
INDEPENDENT = Setting("independent requests", 1_000_000, 1.0, 0.0, 0.0)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


class Population:
    """One run's users; `arm(w)` fixes who is on the candidate at weight w (sticky)."""

    def __init__(self, s: Setting, base: float, rng: np.random.Generator) -> None:
        self.s = s
        self.rng = rng
        u = s.users
        rate = rng.lognormal(0.0, s.rate_sigma, u) if s.rate_sigma else np.ones(u)
        self.rate = rate / rate.sum()
        z = rng.normal(0.0, 1.0, u) if s.propensity_sigma else np.zeros(u)
        self.p = 1.0 / (1.0 + np.exp(-(_logit(base) + s.propensity_sigma * z)))
        self.hash = rng.random(u)
        self.bucket = rng.integers(0, s.buckets, u)
        self._w: float | None = None

    def arm(self, w: float) -> None:
        if w == self._w:
            return
        self._w = w
        on = self.hash < w
        self.idx = (np.flatnonzero(~on), np.flatnonzero(on))  # baseline, candidate
        self.cum = tuple(np.cumsum(self.rate[i]) for i in self.idx)

    def minute(
        self, rpm: float, w: float, ratio: float = 1.0
    ) -> tuple[dict[str, dict[str, float]], dict[str, list[dict[str, float]]]]:
        """(readings, buckets) for one minute at weight w; the candidate's errors x ratio."""
        self.arm(w)
        rng, s = self.rng, self.s
        readings: dict[str, dict[str, float]] = {}
        buckets: dict[str, list[dict[str, float]]] = {}
        for variant, idx, cum, mult in (
            ("baseline", self.idx[0], self.cum[0], 1.0),
            ("candidate", self.idx[1], self.cum[1], ratio),
        ):
            share = float(cum[-1]) if len(cum) else 0.0
            k = int(rng.poisson(rpm * share / s.burst))
            if k and len(idx):
                who = idx[np.minimum(np.searchsorted(cum, rng.random(k) * share), len(idx) - 1)]
                size = rng.geometric(1.0 / s.burst, k) if s.burst > 1 else np.ones(k, dtype=int)
                ev = rng.binomial(size, np.minimum(1.0, self.p[who] * mult))
                b = self.bucket[who]
                n_b = np.bincount(b, weights=size, minlength=s.buckets)
                e_b = np.bincount(b, weights=ev, minlength=s.buckets)
            else:
                n_b = e_b = np.zeros(s.buckets)
            readings[variant] = {"events": float(e_b.sum()), "total": float(n_b.sum())}
            buckets[variant] = [
                {"events": float(e), "total": float(n)} for e, n in zip(e_b, n_b, strict=True)
            ]
        return readings, buckets


def main() -> None:
    ap = argparse.ArgumentParser(description="issue #16's clustered table, healthy candidates")
    ap.add_argument("--runs", type=int, default=1000, help="runs per row")
    ap.add_argument("--rpms", default="1000,10000", help="requests per minute")
    ap.add_argument("--settings", default="0,1,2,3", help="rows of SETTINGS")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("clustered.json"))
    a = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from benchmarks.gate_validity import ci, clustered_run
    from rollout.spec import Gate

    g = Gate(name="errors", kind="proportion", events="e", total="t", max_ratio=1.0)
    modes = ("requests", "buckets")
    data = json.loads(a.out.read_text()) if a.out.exists() else {"rows": []}
    print(
        "| traffic | requests/min | FRR, requests | FRR, buckets | SRM halts, requests "
        "| SRM halts, buckets |\n|---|---|---|---|---|---|",
        flush=True,
    )
    for i in (int(x) for x in a.settings.split(",")):
        s = SETTINGS[i]
        for rpm in (float(x) for x in a.rpms.split(",")):
            t0 = time.monotonic()
            # the same streams as `gate_validity.py clustered` (seed, rpm, setting)
            rng = np.random.default_rng([a.seed, int(rpm), i])
            fails = dict.fromkeys(modes, 0)
            halts = dict.fromkeys(modes, 0)
            for _ in range(a.runs):
                res = clustered_run(g, Population(s, 0.01, rng), rpm, 1.0, modes)
                for m in modes:
                    fails[m] += res[m][0] is not None
                    halts[m] += res[m][1]
            row = {
                "setting": s.name,
                "rpm": rpm,
                "runs": a.runs,
                "seed": a.seed,
                "false_rollbacks": fails,
                "srm_halts": halts,
                "seconds": round(time.monotonic() - t0),
            }
            data["rows"] = [
                r for r in data["rows"] if (r["setting"], r["rpm"]) != (s.name, rpm)
            ] + [row]
            a.out.write_text(json.dumps(data, indent=1) + "\n")
            print(
                f"| {s.name} | {rpm:,.0f} | {ci(fails['requests'], a.runs)} | "
                f"{ci(fails['buckets'], a.runs)} | {ci(halts['requests'], a.runs)} | "
                f"{ci(halts['buckets'], a.runs)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
