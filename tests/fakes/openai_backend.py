"""A tiny OpenAI-compatible backend on 127.0.0.1: enough of `POST /v1/chat/completions` (and
`GET /v1/models`) for a gateway such as LiteLLM's proxy to call it. Each backend has a name and
counts the requests it served, so a test can see where the gateway sent each request.

    with OpenAIBackend("gpt4o") as a, OpenAIBackend("gpt41") as b:
        ... a.url ...         # http://127.0.0.1:<port>/v1
        ... a.served ...      # requests answered
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIBackend:
    def __init__(self, name: str) -> None:
        self.name = name
        self.served = 0
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._reply(200, {"object": "list", "data": [{"id": backend.name}]})
                else:
                    self._reply(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                request = json.loads(self.rfile.read(n) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with backend._lock:
                    backend.served += 1
                self._reply(200, completion(backend.name, request))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def completion(name: str, request: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion object (OpenAI's shape) whose text names the backend that served it."""
    return {
        "id": f"chatcmpl-{name}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(request.get("model") or name),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"served by {name}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }
