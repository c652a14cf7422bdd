"""A tiny weights gateway on 127.0.0.1 for the http router, with a log of every request.

PUT {"baseline": b, "candidate": c} sets the weights (unless `refuse(c)` says to answer 429
with Retry-After), GET returns {"weights": {...}}. Every PUT is logged with the monotonic time
it arrived, the candidate weight asked for and the status answered, so a test can say what
reached the gateway after a given moment.

Plan options: `router_yaml(base)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Put:
    at: float  # time.monotonic() when it arrived
    candidate: int
    status: int


class Gateway:
    def __init__(self, refuse: Callable[[int, int], bool] = lambda current, asked: False) -> None:
        self.weights = {"baseline": 100, "candidate": 0}
        self.puts: list[Put] = []
        self.refuse = refuse  # (current candidate, asked candidate) -> answer 429?
        self.retry_after = "1"
        self._lock = threading.Lock()
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                with gw._lock:
                    doc = {"weights": dict(gw.weights)}
                self._reply(200, doc)

            def do_PUT(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                asked = int(body["candidate"])
                with gw._lock:
                    if gw.refuse(gw.weights["candidate"], asked):
                        gw.puts.append(Put(time.monotonic(), asked, 429))
                        status = 429
                    else:
                        gw.weights = {"baseline": int(body["baseline"]), "candidate": asked}
                        gw.puts.append(Put(time.monotonic(), asked, 200))
                        status = 200
                if status == 429:
                    self._reply(429, {"error": "slow down"}, {"retry-after": gw.retry_after})
                else:
                    self._reply(200, {"ok": True})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def candidate(self) -> int:
        with self._lock:
            return self.weights["candidate"]

    def log(self) -> list[Put]:
        with self._lock:
            return list(self.puts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def router_yaml(base: str, retries: int = 4) -> str:
    """The plan's `router:` block (flow style, one line) for a Gateway at `base`."""
    return (
        f"{{type: http, retries: {retries}, timeout: 5s, "
        f"set: {{method: PUT, url: '{base}/routes'}}, "
        f"get: {{url: '{base}/routes', weights_path: {{baseline: weights.baseline, "
        "candidate: weights.candidate}}}"
    )
