"""An in-memory LiteLLM proxy management API for httpx.MockTransport, as LiteLLM 1.82.6 does it.

Read from the proxy's source (litellm/proxy/proxy_server.py `/model/info`,
management_endpoints/model_management_endpoints.py `PATCH /model/{id}/update`,
router_settings_endpoints.py `/router/settings`, integrations/prometheus.py) and checked
against the real proxy in tests/routers/test_litellm_proxy.py:

* every route needs the master key as a bearer token (401 otherwise);
* `PATCH /model/{id}/update` merges `litellm_params` into a model stored in the database; a
  model from the config file answers 400 "Cannot edit config-based model...", a proxy without
  a database 500 {"detail": {"error": "DB not connected..."}}, an unknown id 404;
* `/model/info` lists {model_name, litellm_params, model_info: {id, db_model}};
* `route(group, n)` picks deployments as litellm/router_strategy/simple_shuffle.py does: by
  `weight` when the first healthy deployment has one (missing weights count 0), else by rpm,
  tpm, else evenly; cooled-down deployments are skipped; each pick counts in
  `litellm_deployment_total_requests` (served at `/metrics/` in Prometheus text).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

MASTER_KEY = "sk-fake-master"


@dataclass
class FakeLiteLLM:
    models: list[dict[str, Any]] = field(default_factory=list)
    database: bool = True
    routing_strategy: str = "simple-shuffle"
    cooled_down: set[str] = field(default_factory=set)  # model ids in cooldown
    down: int | None = None  # every request answers this status (an outage)
    requests: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, id) -> count
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def add(self, group: str, model_id: str, weight: float | None, db_model: bool = True) -> None:
        params: dict[str, Any] = {"model": f"openai/{model_id}", "api_base": "http://x/v1"}
        if weight is not None:
            params["weight"] = weight
        self.models.append(
            {
                "model_name": group,
                "litellm_params": params,
                "model_info": {"id": model_id, "db_model": db_model},
            }
        )

    def weight(self, model_id: str) -> Any:
        return next(m for m in self.models if m["model_info"]["id"] == model_id)[
            "litellm_params"
        ].get("weight")

    def route(self, group: str, n: int, seed: int = 0) -> dict[str, int]:
        rng = random.Random(seed)
        healthy = [
            m
            for m in self.models
            if m["model_name"] == group and m["model_info"]["id"] not in self.cooled_down
        ]
        counts = {m["model_info"]["id"]: 0 for m in self.models if m["model_name"] == group}
        if not healthy:
            return counts
        for _ in range(n):
            pick = self._shuffle(healthy, rng)
            mid = pick["model_info"]["id"]
            counts[mid] += 1
            self.requests[(group, mid)] = self.requests.get((group, mid), 0) + 1
        return counts

    @staticmethod
    def _shuffle(healthy: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
        for by in ("weight", "rpm", "tpm"):
            if healthy[0]["litellm_params"].get(by) is not None:
                weights = [m["litellm_params"].get(by, 0) for m in healthy]
                total = sum(weights)  # LiteLLM divides by it: all zero raises there
                return healthy[rng.choices(range(len(healthy)), [w / total for w in weights])[0]]
        return rng.choice(healthy)

    def metrics(self) -> str:
        name = "litellm_deployment_total_requests"
        lines = [
            f"# HELP {name} Total LLM Deployment Requests",
            f"# TYPE {name} counter",
        ]
        for (group, mid), count in sorted(self.requests.items()):
            lines.append(
                f'{name}_total{{api_base="http://x/v1",api_provider="openai",'
                f'litellm_model_name="openai/{mid}",model_id="{mid}",'
                f'requested_model="{group}"}} {float(count)}'
            )
        return "\n".join(lines) + "\n"

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, path, body))
        if self.down is not None:
            return httpx.Response(self.down, json={"detail": "proxy unavailable"})
        if request.headers.get("authorization") != f"Bearer {MASTER_KEY}":
            return httpx.Response(
                401, json={"error": {"message": "Authentication Error", "type": "auth_error"}}
            )
        if request.method == "GET" and path in ("/model/info", "/v1/model/info"):
            return httpx.Response(200, json={"data": json.loads(json.dumps(self.models))})
        if request.method == "GET" and path == "/router/settings":
            values = {
                "routing_strategy": self.routing_strategy,
                "allowed_fails": 3,
                "cooldown_time": 5,
            }
            return httpx.Response(200, json={"fields": [], "current_values": values})
        if request.method == "GET" and path == "/metrics":
            return httpx.Response(307, headers={"location": str(request.url) + "/"})
        if request.method == "GET" and path == "/metrics/":
            return httpx.Response(200, text=self.metrics())
        if request.method == "PATCH" and path.startswith("/model/") and path.endswith("/update"):
            return self._patch(path[len("/model/") : -len("/update")], body)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _patch(self, model_id: str, body: Any) -> httpx.Response:
        if not self.database:
            return httpx.Response(
                500,
                json={
                    "detail": {
                        "error": "DB not connected. See "
                        "https://docs.litellm.ai/docs/proxy/virtual_keys"
                    }
                },
            )
        model = next((m for m in self.models if m["model_info"]["id"] == model_id), None)
        if model is None:
            return _proxy_error(404, f"Model {model_id} not found on proxy.", "not_found_error")
        if not model["model_info"].get("db_model"):
            return _proxy_error(
                400,
                "Cannot edit config-based model. Store model in DB via /model/new first.",
                "validation_error",
            )
        params = (body or {}).get("litellm_params") or {}
        model["litellm_params"].update({k: v for k, v in params.items() if v is not None})
        return httpx.Response(200, json={"model_id": model_id, **model})


def _proxy_error(status: int, message: str, kind: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": kind, "param": None, "code": str(status)}},
    )
