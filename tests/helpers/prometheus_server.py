"""A real Prometheus server for tests: 127.0.0.1:<free port>, temp config and storage, 1s scrapes.

    with PrometheusServer(targets=["127.0.0.1:8000"]) as prom:
        prom.url                      # http://127.0.0.1:<port>
        prom.wait_for('up{job="demo"} == 1')

The binary is $ROLLOUT_TEST_PROMETHEUS, else `prometheus` on PATH, else /usr/bin/prometheus
(Debian: `apt-get install -y prometheus`). `require_binary()` skips the test when none exists.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

INSTALL_HINT = "install it with `apt-get install -y prometheus` or set ROLLOUT_TEST_PROMETHEUS"


def find_binary() -> str | None:
    explicit = os.environ.get("ROLLOUT_TEST_PROMETHEUS")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("prometheus")
    if found:
        return found
    return "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None


def require_binary() -> str:
    binary = find_binary()
    if binary is None:
        if os.environ.get("ROLLOUT_REQUIRE_PROMETHEUS"):  # CI: a missing server is a failure
            pytest.fail(f"no Prometheus server binary: {INSTALL_HINT}")
        pytest.skip(f"no Prometheus server binary: {INSTALL_HINT}")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrometheusServer:
    def __init__(
        self,
        targets: list[str] | None = None,
        *,
        job: str = "demo",
        scrape_interval: str = "1s",
        binary: str | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.binary = binary or require_binary()
        self.targets = targets or []
        self.job = job
        self.scrape_interval = scrape_interval
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None

    def config_text(self) -> str:
        # "self" scrapes this server's own /metrics (a target that exists without a demo).
        targets = ", ".join(
            f'"127.0.0.1:{self.port}"' if t == "self" else f'"{t}"' for t in self.targets
        )
        return (
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  evaluation_interval: {self.scrape_interval}\n"
            "scrape_configs:\n"
            f"  - job_name: {self.job}\n"
            f"    scrape_interval: {self.scrape_interval}\n"
            f"    scrape_timeout: {self.scrape_interval}\n"
            f"    static_configs:\n      - targets: [{targets}]\n"
        )

    def start(self) -> PrometheusServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="rollout-prom-")
        d = Path(self._tmp.name)
        (d / "prometheus.yml").write_text(self.config_text())
        self.log_path = d / "prometheus.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={d / 'prometheus.yml'}",
                    f"--storage.tsdb.path={d / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {self.ready_timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join((self.log_path or Path("/nonexistent")).read_text().splitlines()[-n:])
        except OSError:
            return "<no log>"

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(self.url + "/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()["data"]["result"]
        return result

    def wait_for(self, promql: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Poll until the query returns a non-empty vector (e.g. `up{job="demo"} == 1`)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = self.query(promql)
                if result:
                    return result
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{promql} stayed empty for {timeout}s; prometheus log: {self.log_tail()}"
                )
            time.sleep(0.5)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
