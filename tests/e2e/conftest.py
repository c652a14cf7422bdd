"""End-to-end fixtures: the Prometheus demo (real server + demo service) in a temp directory."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers.prometheus_server import PrometheusServer, free_port, require_binary

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "prometheus"


def env() -> dict[str, str]:
    """The subprocesses' environment: this checkout importable, no state store from the caller."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    e["PYTHONUNBUFFERED"] = "1"
    return e


class DemoService:
    """examples/prometheus/demo_service.py as a subprocess on 127.0.0.1:<free port>."""

    def __init__(self, workdir: Path, routes: Path, *args: str) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.log = workdir / f"demo-{self.port}.log"
        cmd = [
            sys.executable,
            str(EXAMPLE / "demo_service.py"),
            "--routes",
            str(routes),
            "--port",
            str(self.port),
            "--seed",
            "7",
            *args,
        ]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"demo service exited with {self.proc.returncode}: {self.log.read_text()}"
                )
            try:
                if (
                    "llm_requests_total"
                    in httpx.get(f"http://{self.target}/metrics", timeout=2).text
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"demo service did not serve /metrics within 60s: {self.log.read_text()}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Demo:
    workdir: Path
    plan: Path
    routes: Path
    service: DemoService
    prometheus: PrometheusServer

    def rollout(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`python -m rollout ARGS --var prometheus_url=...` in the demo directory."""
        cmd = [
            sys.executable,
            "-m",
            "rollout",
            *args,
            "--var",
            f"prometheus_url={self.prometheus.url}",
        ]
        return subprocess.run(
            cmd, cwd=self.workdir, env=env(), capture_output=True, text=True, timeout=timeout
        )


def _require_runtime() -> None:
    for mod in ("rollout.client", "rollout.commands.apply", "prometheus_client"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not available yet")


@pytest.fixture
def demo_factory(tmp_path: Path) -> Iterator[object]:
    """demo_factory("--candidate", "bad") -> Demo, with everything stopped at the end."""
    require_binary()
    _require_runtime()
    started: list[tuple[DemoService, PrometheusServer]] = []

    def make(*service_args: str) -> Demo:
        shutil.copy(EXAMPLE / "plan.yaml", tmp_path / "plan.yaml")
        routes = tmp_path / ".rollout" / "routes" / "demo-chat.json"
        service = DemoService(tmp_path, routes, *service_args)
        try:
            prom = PrometheusServer(targets=[service.target]).start()
        except Exception:
            service.stop()
            raise
        started.append((service, prom))
        # Enough scrapes for increase()/rate() over the plan's 5s window to see baseline traffic.
        prom.wait_for('sum(increase(llm_requests_total{variant="baseline"}[5s])) > 0', timeout=90)
        return Demo(tmp_path, tmp_path / "plan.yaml", routes, service, prom)

    yield make
    for service, prom in started:
        service.stop()
        prom.stop()
