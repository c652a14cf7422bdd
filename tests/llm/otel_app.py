"""A small LLM app for the real-server test: each simulated model call picks its variant from
the routes file (rollout.client.Routes) and is recorded with rollout.client.Telemetry through
the OpenTelemetry SDK, whose Prometheus exporter serves /metrics on 127.0.0.1:PORT.

    python tests/llm/otel_app.py --routes ROUTES --port PORT --candidate healthy|errors|throttled

No model is called and nothing waits for one: outcomes, latencies and tokens are drawn from the
variant's profile. `--candidate errors` fails 5x as often as the baseline; `throttled` answers
20 % of calls with 429.
"""

from __future__ import annotations

import argparse
import math
import random
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PROFILES = {  # error rate, 429 rate, median latency (s)
    "healthy": (0.02, 0.0, 0.6),
    "errors": (0.10, 0.0, 0.6),
    "throttled": (0.02, 0.2, 0.6),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--routes", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=150.0, help="calls per second")
    p.add_argument("--candidate", choices=sorted(PROFILES), default="healthy")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)

    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import start_http_server

    from rollout.client import Routes, Telemetry

    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    telemetry = Telemetry("opentelemetry", meter_provider=provider)
    routes = Routes(args.routes, check_interval=0.2)
    start_http_server(args.port, addr="127.0.0.1")
    rng = random.Random(args.seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    profiles = {"baseline": PROFILES["healthy"], "candidate": PROFILES[args.candidate]}
    models = {"baseline": "gpt-4o", "candidate": "gpt-4o"}
    # Record a few baseline calls at once so Prometheus sees the series from the first scrape.
    batch = max(1, int(args.rate / 20))
    while not stop.is_set():
        for _ in range(batch):
            choice = routes.choose(str(rng.getrandbits(32)))
            err, thr, median = profiles[choice.variant]
            latency = rng.lognormvariate(math.log(median), 0.4)
            u = rng.random()
            if u < thr:
                telemetry.record(choice.variant, latency_s=0.05, status=429)
            elif u < thr + err:
                telemetry.record(choice.variant, latency_s=latency, status=500)
            else:
                telemetry.record(
                    choice.variant,
                    model=models[choice.variant],
                    latency_s=latency,
                    ttft_s=latency * 0.3,
                    input_tokens=int(rng.lognormvariate(math.log(700), 0.4)),
                    output_tokens=int(rng.lognormvariate(math.log(250), 0.4)),
                    status=200,
                )
                if rng.random() < 0.2:
                    telemetry.score(choice.variant, min(1.0, max(0.0, rng.gauss(0.8, 0.1))))
        if telemetry.last_error:
            print(telemetry.last_error, file=sys.stderr, flush=True)
            telemetry.last_error = None
        stop.wait(batch / args.rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
