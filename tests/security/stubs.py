"""A hostile gateway and a hostile Prometheus, on loopback, for the secrets test.

Both echo the request's credentials back in their error replies — the behaviour that leaked
secrets into state, stderr and history (issue #11) — so a test can check that nothing the tool
writes carries them. `mode` switches behaviour: "ok" serves weights and numbers; "fail-gateway"
makes every gateway call a 500 that quotes the Authorization and X-Api-Key headers and the
URL, "fail-put" only the calls that change weights; "fail-prometheus" makes every query a
Prometheus `bad_data` error that quotes them.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Stub:
    def __init__(self) -> None:
        self.mode = "ok"
        self.candidate = 0
        self.seen_tokens: list[str] = []  # what arrived: proof the secrets were really sent
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _echo(self) -> str:
                return (
                    f"auth={self.headers.get('Authorization')} "
                    f"key={self.headers.get('X-Api-Key')} url={self.path}"
                )

            def _send(self, code: int, body: Any) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                stub.seen_tokens.append(self.headers.get("Authorization") or "")
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if stub.mode in ("fail-gateway", "fail-put"):
                    self._send(500, f"upstream rejected the change: {self._echo()}")
                    return
                stub.candidate = int(body.get("candidate", 0))
                self._send(200, {"ok": True})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/api/v1/query":
                    self._prometheus(parse_qs(url.query).get("query", [""])[0])
                    return
                stub.seen_tokens.append(self.headers.get("Authorization") or "")
                if stub.mode == "fail-gateway":
                    self._send(500, f"upstream is unhappy: {self._echo()}")
                    return
                self._send(200, {"c": stub.candidate})

            def _prometheus(self, query: str) -> None:
                stub.seen_tokens.append(self.headers.get("Authorization") or "")
                if stub.mode == "fail-prometheus" and query != "vector(1)":
                    self._send(
                        400,
                        {
                            "status": "error",
                            "errorType": "bad_data",
                            "error": f"parse error: unexpected {self._echo()}",
                        },
                    )
                    return
                value = "1" if query == "vector(1)" else ("2" if "errors" in query else "1000")
                self._send(
                    200,
                    {
                        "status": "success",
                        "data": {
                            "resultType": "vector",
                            "result": [{"metric": {}, "value": [0, value]}],
                        },
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
