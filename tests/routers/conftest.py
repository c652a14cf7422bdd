"""Fakes shared by the router tests: an HTTP gateway that stores weights, in process
(httpx.MockTransport) and as a real server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.registry import BuildContext

TOKEN = "s3cret-token-value"
ROUTE = "/api/routes/support-bot"
VARIANTS = {
    "baseline": {"model": "gpt-4o", "model_version": "2024-08-06", "target": "gpt4o-support"},
    "candidate": {"model": "gpt-4.1", "model_version": "2025-04-14", "target": "gpt41-support"},
}
FINGERPRINTS = {"baseline": "b" * 64, "candidate": "c" * 64}


class Gateway:
    """Stores weights under ROUTE. PUT {"primary": b, "canary": c}; GET {"data": {"weights": ...}}.

    `status` forces every reply to that status (a broken gateway); `script` is a list of
    (status, headers) replies served first (throttling, transient errors)."""

    def __init__(self) -> None:
        self.weights = {"primary": 100, "canary": 0}
        self.status: int | None = None
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def reply(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((method, path, headers, body))
        if self.script:
            status, hdrs = self.script.pop(0)
            return status, hdrs, b'{"error": "scripted"}'
        if self.status is not None:
            return self.status, {}, b'{"error": "gateway is down"}'
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, b'{"error": "unauthorized"}'
        if path != ROUTE:
            return 404, {}, b'{"error": "no such route"}'
        if method in ("PUT", "POST"):
            doc = json.loads(body)
            self.weights = {"primary": int(doc["primary"]), "canary": int(doc["canary"])}
        elif method != "GET":
            return 405, {}, b""
        return (
            200,
            {"content-type": "application/json"},
            json.dumps({"data": {"weights": self.weights}}).encode(),
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        status, out, body = self.reply(request.method, request.url.path, hdrs, request.content)
        return httpx.Response(status, headers=out, content=body)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def http_spec(base: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "http",
        "set": {
            "method": "PUT",
            "url": base + ROUTE,
            "headers": {"Authorization": "Bearer ${GW_TOKEN}"},
            "body": '{"primary": {{ weights.baseline }}, "canary": {{ weights.candidate }}, '
            '"backend": {{ targets.candidate | tojson }}}',
        },
        "get": {
            "url": base + ROUTE,
            "headers": {"Authorization": "Bearer ${GW_TOKEN}"},
            "weights_path": {
                "baseline": "data.weights.primary",
                "candidate": "data.weights.canary",
            },
        },
        "retries": 2,
    }
    spec.update(overrides)
    return spec


def context(plan_dir: Path, **extra: Any) -> BuildContext:
    return BuildContext(
        plan_dir=plan_dir,
        variants=VARIANTS,
        plan_name="support-bot",
        fingerprints=FINGERPRINTS,
        extra=extra,
    )


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("GW_TOKEN", TOKEN)
    return Gateway()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def real_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Gateway, str]]:
    """The same Gateway behind a real HTTP server on 127.0.0.1 (a free port).

    Yields (gateway, base URL).
    """
    monkeypatch.setenv("GW_TOKEN", TOKEN)
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n) if n else b""
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            status, out, payload = gw.reply(self.command, self.path, hdrs, body)
            self.send_response(status)
            for k, v in out.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield gw, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(name="http_spec")
def http_spec_fixture() -> Any:
    """The http router's plan options for a gateway at a base URL: http_spec(base, **overrides)."""
    return http_spec


@pytest.fixture(name="context")
def context_fixture(tmp_path: Path) -> Any:
    """A BuildContext for plan `support-bot` in tmp_path: context(**extra)."""
    return lambda **extra: context(tmp_path, **extra)
