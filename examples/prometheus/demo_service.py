"""A small service that simulates LLM calls and exports Prometheus metrics, for the rollout demo.

Every request picks its variant from the routes file that `rollout apply` writes (router `file`)
with `rollout.client.Routes(path).choose(user)`, then "calls the model": it draws a status code
and a latency from the variant's profile (no real model, no real waiting) and records

    llm_requests_total{variant, code}           counter
    llm_latency_seconds{variant}                histogram

on http://127.0.0.1:PORT/metrics for Prometheus to scrape. The candidate is healthy by default;
`--candidate bad` (or DEMO_CANDIDATE=bad) makes it fail 30 % of calls and run ~6x slower, and
`--candidate-error-rate` / `--candidate-latency` set any mix.

    python examples/prometheus/demo_service.py --routes .rollout/routes/demo-chat.json --port 8000
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# Run from a checkout without installing: make `rollout` importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from prometheus_client import Counter, Histogram, start_http_server

from rollout.client import Routes

BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)
PROFILES = {"healthy": (0.01, 0.5), "bad": (0.30, 3.0)}  # (error rate, median latency seconds)

REQUESTS = Counter("llm_requests_total", "Simulated LLM calls", ["variant", "code"])
LATENCY = Histogram(
    "llm_latency_seconds", "Simulated LLM call latency", ["variant"], buckets=BUCKETS
)


@dataclass
class Profile:
    error_rate: float
    latency_median: float
    latency_sigma: float = 0.3

    def call(self, rng: random.Random) -> tuple[str, float]:
        latency = rng.lognormvariate(math.log(self.latency_median), self.latency_sigma)
        if rng.random() < self.error_rate:
            return ("429" if rng.random() < 0.3 else "500"), latency
        return "200", latency


def _env_float(name: str, default: float | None) -> float | None:
    v = os.environ.get(name)
    return float(v) if v else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--routes",
        default=os.environ.get("DEMO_ROUTES", ".rollout/routes/demo-chat.json"),
        help="the routes file rollout writes (router `file` path)",
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
    p.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
    p.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("DEMO_RATE", "1000")),
        help="simulated requests per second (all variants)",
    )
    p.add_argument(
        "--candidate", choices=sorted(PROFILES), default=os.environ.get("DEMO_CANDIDATE", "healthy")
    )
    p.add_argument(
        "--candidate-error-rate", type=float, default=_env_float("DEMO_CANDIDATE_ERROR_RATE", None)
    )
    p.add_argument(
        "--candidate-latency",
        type=float,
        default=_env_float("DEMO_CANDIDATE_LATENCY", None),
        help="median latency of the candidate, seconds",
    )
    p.add_argument(
        "--baseline-error-rate", type=float, default=_env_float("DEMO_BASELINE_ERROR_RATE", 0.01)
    )
    p.add_argument(
        "--baseline-latency", type=float, default=_env_float("DEMO_BASELINE_LATENCY", 0.5)
    )
    p.add_argument(
        "--users", type=int, default=5000, help="distinct user keys (choices are sticky per user)"
    )
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args(argv)


def profiles(args: argparse.Namespace) -> dict[str, Profile]:
    err, lat = PROFILES[args.candidate]
    return {
        "baseline": Profile(args.baseline_error_rate, args.baseline_latency),
        "candidate": Profile(
            err if args.candidate_error_rate is None else args.candidate_error_rate,
            lat if args.candidate_latency is None else args.candidate_latency,
        ),
    }


def serve(args: argparse.Namespace, stop: threading.Event) -> None:
    rng = random.Random(args.seed)
    routes = Routes(args.routes)
    profs = profiles(args)
    for v in (
        profs
    ):  # export every series from the start: a counter that appears later loses its first increase
        for code in ("200", "429", "500"):
            REQUESTS.labels(variant=v, code=code)
        LATENCY.labels(variant=v)
    period = 1.0 / args.rate
    next_at = time.monotonic()
    while not stop.is_set():
        choice = routes.choose(f"user-{rng.randrange(args.users)}")
        code, latency = profs[choice.variant].call(rng)
        REQUESTS.labels(variant=choice.variant, code=code).inc()
        LATENCY.labels(variant=choice.variant).observe(latency)
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -1.0:  # fell far behind (suspended laptop): do not burst to catch up
            next_at = time.monotonic()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_http_server(args.port, addr=args.host)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    p = profiles(args)["candidate"]
    print(
        f"demo service: metrics on http://{args.host}:{args.port}/metrics; {args.rate:g} req/s; "
        f"routes {args.routes}; candidate error rate {p.error_rate:g},"
        f" median latency {p.latency_median:g}s",
        flush=True,
    )
    serve(args, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
