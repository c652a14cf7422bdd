"""Built-in LLM signals against real servers: an app instrumented with the OpenTelemetry SDK
(rollout.client.Telemetry) serves its Prometheus exporter on 127.0.0.1, the real Prometheus
server scrapes it, and `rollout apply` (a subprocess) gates a plan whose gates name signals
only, no query written. A healthy candidate is promoted; one failing 5x as often, or throttled,
is rolled back. Slow by nature (real processes, real bakes); no timing is asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.prometheus_server import PrometheusServer, free_port, require_binary

pytestmark = [pytest.mark.slow, pytest.mark.prometheus]

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "tests" / "llm" / "otel_app.py"

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: otel-llm
variants:
  baseline:  {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4o, model_version: "2024-11-20"}
router: {type: file, path: .rollout/routes/otel-llm.json}
metrics: {type: prometheus, url: "{{ prometheus_url }}", timeout: 5}
gates:                                   # signals only: the catalog writes every query
  - {name: errors,    signal: error-rate,     max_ratio: 2.0}
  - {name: throttled, signal: throttled-rate, max: 0.05}
  - {name: latency,   signal: latency,        max_ratio: 1.5}
  - {name: ttft,      signal: ttft,           max_ratio: 1.5}
  - {name: slow,      signal: latency-p95-exceedance, threshold: 2560, max_increase: 0.05}
  - {name: tokens,    signal: output-tokens-per-request, max_ratio: 1.5}
  - {name: cost,      signal: cost-per-request, max_ratio: 1.5}
  - {name: quality,   signal: quality-score,  max_decrease: 0.1}
stages:
  - {name: pilot,     weight: 20, bake: 15s}
  - {name: expansion, weight: 50, bake: 10s}
  - {name: full,      weight: 100}
analysis: {interval: 5s, method: sequential, alpha: 0.01, on_inconclusive: proceed}
"""


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def explain(r: Any) -> str:
    return f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"


@dataclass
class Setup:
    workdir: Path
    routes: Path
    prometheus: PrometheusServer
    app_log: Path

    def rollout(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [
            sys.executable,
            "-m",
            "rollout",
            *args,
            "--var",
            f"prometheus_url={self.prometheus.url}",
        ]
        return subprocess.run(
            cmd, cwd=self.workdir, env=env(), capture_output=True, text=True, timeout=600
        )

    def weights(self) -> dict[str, int]:
        doc = json.loads(self.routes.read_text())
        return {v["name"]: v["weight"] for v in doc["variants"]}


class App:
    def __init__(self, workdir: Path, routes: Path, candidate: str) -> None:
        self.port = free_port()
        self.log = workdir / f"app-{self.port}.log"
        cmd = [sys.executable, str(APP), "--routes", str(routes), "--port", str(self.port)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [*cmd, "--candidate", candidate],
                cwd=workdir,
                env=env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                body = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
                if "gen_ai_client_operation_duration_seconds_count" in body:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"app did not serve /metrics within 60s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Any]:
    require_binary()
    for mod in ("opentelemetry.sdk", "opentelemetry.exporter.prometheus", "prometheus_client"):
        try:
            __import__(mod)
        except ImportError:
            if os.environ.get("ROLLOUT_REQUIRE_PROMETHEUS"):
                pytest.fail(f"{mod} is not installed (pip install -e '.[dev]')")
            pytest.skip(f"{mod} is not installed")
    started: list[tuple[App, PrometheusServer]] = []

    def make(candidate: str) -> Setup:
        (tmp_path / "plan.yaml").write_text(PLAN)
        routes = tmp_path / ".rollout" / "routes" / "otel-llm.json"
        app = App(tmp_path, routes, candidate)
        try:
            prom = PrometheusServer(targets=[f"127.0.0.1:{app.port}"]).start()
        except Exception:
            app.stop()
            raise
        started.append((app, prom))
        prom.wait_for(
            'sum(increase(gen_ai_client_operation_duration_seconds_count{variant="baseline"}[5s]))'
            " > 0",
            timeout=90,
        )
        return Setup(tmp_path, routes, prom, app.log)

    yield make
    for app, prom in started:
        app.stop()
        prom.stop()


def test_every_signal_query_runs_on_the_real_server(setup: Any) -> None:
    s = setup("healthy")
    r = s.rollout("check", "plan.yaml", "--output", "json")
    assert r.returncode == 0, explain(r)
    doc = json.loads(r.stdout)
    base = {(x["gate"], x["role"]): x for x in doc["results"] if x["variant"] == "baseline"}
    # Every role of every gate came back as a number for the baseline: PromQL that parses
    # and metric names and labels that match what the OpenTelemetry exporter wrote.
    assert len(base) == 21, sorted(base)  # 3 proportion gates x 2 roles + 5 means x 3
    bad = {k: (v["status"], v.get("error")) for k, v in base.items() if v["status"] != "ok"}
    assert not bad, bad
    assert base[("errors", "total")]["value"] > 0
    assert 0 < base[("errors", "events")]["value"] < base[("errors", "total")]["value"]
    assert base[("throttled", "events")]["value"] == 0  # no 429s from the baseline
    cost = base[("cost", "sum")]["value"] / base[("cost", "count")]["value"]
    # gpt-4o 2024-08-06: ~700 input x $0.0025/1k + ~250 output x $0.01/1k ~ $0.0045 a call
    assert 0.002 < cost < 0.008, cost
    # Tokens are gated on their geometric mean (~250), from the histogram's buckets.
    tokens = math.exp(base[("tokens", "sum")]["value"] / base[("tokens", "count")]["value"])
    assert 100 < tokens < 600, tokens


def test_healthy_candidate_is_promoted_on_signals_alone(setup: Any) -> None:
    s = setup("healthy")
    r = s.rollout("apply", "plan.yaml", "--state", f"sqlite:///{s.workdir}/state.db")
    assert r.returncode == 0, explain(r)
    assert s.weights() == {"baseline": 0, "candidate": 100}
    seen = s.prometheus.query(
        'sum(gen_ai_client_operation_duration_seconds_count{variant="candidate"})'
    )
    assert seen and float(seen[0]["value"][1]) > 0


@pytest.mark.parametrize("gate", ["errors", "throttled"])
def test_bad_candidate_is_rolled_back_by_its_signal(setup: Any, gate: str) -> None:
    s = setup(gate)  # the app's candidate profile of the same name
    r = s.rollout("apply", "plan.yaml", "--state", f"sqlite:///{s.workdir}/state.db")
    assert r.returncode == 3, explain(r)
    assert s.weights() == {"baseline": 100, "candidate": 0}
    # The verdict that rolled it back is the bad signal's own (throttling is never "errors").
    out = r.stdout + r.stderr
    failed = [ln for ln in out.splitlines() if "verdict" in ln and ln.rstrip().endswith(": fail")]
    assert any(f" {gate}: " in ln for ln in failed), explain(r)
    other = "throttled" if gate == "errors" else "errors"
    assert not any(f" {other}: " in ln for ln in failed), explain(r)


LITELLM_PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: litellm-signals
variants:
  baseline:  {model: gpt-4o, model_version: "2024-08-06", target: gpt4o-id}
  candidate: {model: gpt-4o, model_version: "2024-11-20", target: gpt4o-new-id}
router: {type: file, path: .rollout/routes/litellm-signals.json}
metrics: {type: prometheus, url: "{{ prometheus_url }}", timeout: 5, signals: litellm}
gates:
  - {name: errors,    signal: error-rate,     max_ratio: 2.0}
  - {name: throttled, signal: throttled-rate, max: 0.05}
  - {name: filtered,  signal: content-filtered-rate, max_increase: 0.01}
  - {name: latency,   signal: latency,        max_ratio: 1.5}
  - {name: ttft,      signal: ttft,           max_ratio: 1.5}
  - {name: slow,      signal: latency-p95-exceedance, threshold: 5000, max_increase: 0.05}
stages:
  - {name: pilot, weight: 20, bake: 15s}
  - {name: full,  weight: 100}
analysis: {interval: 5s}
"""


def test_litellm_signal_queries_parse_on_the_real_server(setup: Any) -> None:
    """No LiteLLM proxy here: its metric names match nothing, but every generated query must be
    valid PromQL that the real server answers with no data (a gap), never with an error."""
    s = setup("healthy")
    (s.workdir / "litellm.yaml").write_text(LITELLM_PLAN)
    r = s.rollout("check", "litellm.yaml", "--output", "json")
    doc = json.loads(r.stdout)
    statuses = {(x["gate"], x["role"], x["variant"]): x["status"] for x in doc["results"]}
    assert len(statuses) == 2 * (4 * 2 + 2 * 3), sorted(statuses)
    errors = {k: v for k, v in statuses.items() if v not in ("no_data", "ok")}
    assert not errors, (errors, r.stdout)
    # `or vector(0)` makes a missing failure counter 0 events; the totals stay no data.
    assert statuses[("errors", "events", "baseline")] == "ok"
    assert statuses[("errors", "total", "baseline")] == "no_data"
