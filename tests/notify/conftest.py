"""Local webhook endpoints on 127.0.0.1: one that answers (and keeps what it got), one that
accepts the connection and never answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Endpoint:
    url: str
    got: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200

    def kinds(self) -> list[str]:
        return [r.body.get("kind") for r in self.got]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n) or b"null")
            ep.got.append(Received(self.path, dict(self.headers.items()), body))
            status = ep.statuses.pop(0) if ep.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ep.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0SECRET/B0SECRET/xoxtoken123"
    yield ep
    server.shutdown()
    server.server_close()


@dataclass
class Silent:
    """Accepts connections, reads nothing, answers nothing."""

    url: str
    accepted: list[Any] = field(default_factory=list)  # what on_accept returned, per connection
    on_accept: Callable[[], Any] = lambda: None


@pytest.fixture
def silent() -> Iterator[Silent]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    s = Silent(url=f"http://127.0.0.1:{port}/hooks/never-answers-secret-token")
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never answered
            s.accepted.append(s.on_accept())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    sock.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; the endpoints here are on loopback."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


from tests.commands.conftest import ws  # noqa: E402, F401  (the in-process command harness)
