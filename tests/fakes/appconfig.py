"""An in-memory Azure App Configuration data plane (key-values) for httpx.MockTransport.

Shapes: shared/reference/azure-api-shapes.md §4. It checks what the service would: a bearer
token, the api-version, `label` as a query parameter, the key as one path segment (the `/` in
`.appconfig.featureflag/<name>` percent-encoded), the kv+json media type, ETag / If-Match /
If-None-Match (412 on mismatch), errors as application/problem+json. Failures are injected per
call; `concurrent_edit` moves a key's ETag on as if someone else wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

API_VERSIONS = {"2023-11-01", "2024-09-01", "2026-04-01"}
KV_TYPE = "application/vnd.microsoft.appconfig.kv+json"
FF_CONTENT_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"


@dataclass
class FakeAppConfig:
    items: dict[tuple[str, str | None], dict[str, Any]] = field(
        default_factory=dict
    )  # (key, label) -> KeyValue
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    down: int | None = None  # when set, every request fails with this status (an outage)
    injected: list[tuple[str, int, dict[str, str], int]] = field(
        default_factory=list
    )  # method, status, headers, times
    _n: int = 0

    def put_flag(self, name: str, flag: dict[str, Any], label: str | None = None) -> None:
        self._store(f".appconfig.featureflag/{name}", label, json.dumps(flag), FF_CONTENT_TYPE, {})

    def flag(self, name: str, label: str | None = None) -> dict[str, Any]:
        return dict(json.loads(self.items[(f".appconfig.featureflag/{name}", label)]["value"]))

    def etag(self, name: str, label: str | None = None) -> str:
        return str(self.items[(f".appconfig.featureflag/{name}", label)]["etag"])

    def concurrent_edit(self, name: str, label: str | None = None) -> None:
        kv = self.items[(f".appconfig.featureflag/{name}", label)]
        self._store(kv["key"], label, kv["value"], kv["content_type"], kv["tags"])

    def inject(
        self, method: str, status: int, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        self.injected.append((method, status, dict(headers or {}), times))

    def writes(self) -> int:
        return sum(1 for c in self.calls if c[0] == "PUT")

    def _store(
        self,
        key: str,
        label: str | None,
        value: str,
        content_type: str | None,
        tags: dict[str, str],
    ) -> dict[str, Any]:
        self._n += 1
        kv = {
            "etag": f"etag-{self._n}",
            "key": key,
            "label": label,
            "content_type": content_type,
            "value": value,
            "tags": tags,
            "locked": False,
            "last_modified": "2026-01-01T00:00:00+00:00",
        }
        self.items[(key, label)] = kv
        return kv

    def handler(self, request: Any) -> Any:
        import httpx

        def problem(status: int, title: str, detail: str) -> Any:
            return httpx.Response(
                status,
                headers={"Content-Type": "application/problem+json"},
                content=json.dumps(
                    {
                        "type": "https://azconfig.io/errors/x",
                        "title": title,
                        "detail": detail,
                        "status": status,
                    }
                ).encode(),
            )

        raw_path = request.url.raw_path.decode().split("?")[0]
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, raw_path, q, body))
        if self.down is not None:
            return problem(self.down, "Service Unavailable", "the service is unavailable")
        for i, (m, status, headers, times) in enumerate(self.injected):
            if m == request.method and times > 0:
                self.injected[i] = (m, status, headers, times - 1)
                return (
                    problem(status, "Injected", "injected failure")
                    if status != 429
                    else httpx.Response(429, headers=headers)
                )
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return problem(401, "Unauthorized", "no bearer token")
        if q.get("api-version") not in API_VERSIONS:
            return problem(
                400, "Invalid api-version", f"api-version {q.get('api-version')!r} is not supported"
            )
        if not raw_path.startswith("/kv/") or raw_path.count("/") != 2:
            return problem(
                404, "Not Found", f"no route {raw_path} (is the key's '/' percent-encoded?)"
            )
        key, label = unquote(raw_path[len("/kv/") :]), q.get("label")
        cur = self.items.get((key, label))
        if request.method == "GET":
            if cur is None:
                return problem(404, "Not Found", f"key {key!r} label {label!r} does not exist")
            return httpx.Response(
                200, headers={"Content-Type": KV_TYPE, "ETag": f'W/"{cur["etag"]}"'}, json=cur
            )
        if request.method == "PUT":
            if KV_TYPE not in request.headers.get(
                "content-type", ""
            ) and "application/json" not in request.headers.get("content-type", ""):
                return problem(
                    415, "Unsupported Media Type", request.headers.get("content-type", "")
                )
            if_match, if_none = (
                request.headers.get("if-match"),
                request.headers.get("if-none-match"),
            )
            if if_none == "*" and cur is not None:
                return problem(412, "Precondition Failed", "key exists")
            if (
                if_match
                and if_match != "*"
                and (cur is None or if_match.removeprefix("W/") != f'"{cur["etag"]}"')
            ):
                return problem(412, "Precondition Failed", "etag mismatch")
            if not isinstance(body, dict) or set(body) - {"value", "content_type", "tags"}:
                return problem(400, "Invalid request", f"unexpected KeyValue body {body!r}")
            kv = self._store(
                key, label, body.get("value"), body.get("content_type"), body.get("tags") or {}
            )
            return httpx.Response(
                200, headers={"Content-Type": KV_TYPE, "ETag": f'W/"{kv["etag"]}"'}, json=kv
            )
        return problem(405, "Method Not Allowed", request.method)


def percentile(user: str, seed: str) -> float:
    """Microsoft.FeatureManagement's percentile for a user (FeatureManagement 2.2.0 evaluation)."""
    import hashlib

    h = hashlib.sha256(f"{user}\n{seed}".encode()).digest()
    return int.from_bytes(h[:4], "little") / (2**32 - 1) * 100


def assigned(flag: dict[str, Any], user: str) -> str | None:
    """Which variant the Feature Management library gives `user` (percentile allocation only)."""
    alloc = flag.get("allocation") or {}
    if not flag.get("enabled"):
        return alloc.get("default_when_disabled")
    seed = alloc.get("seed") or f"allocation\n{flag['id']}"
    p = percentile(user, seed)
    for r in alloc.get("percentile") or []:
        if r["from"] <= p < r["to"] or (p == 100 and r["to"] == 100):
            return str(r["variant"])
    return alloc.get("default_when_enabled")
