"""An in-memory Azure App Configuration data plane (key-values), as faithful as the REST spec.

Shapes: shared/reference/azure-api-shapes.md §4 and the spec's examples
(specification/appconfiguration/data-plane/AppConfiguration/stable/*). One core, `handle`, serves
two front ends: `handler` for httpx.MockTransport and `adapter()` / `sdk_session()` for a
requests session, so the REAL azure-appconfiguration SDK runs through it (its SyncTokenPolicy,
HMAC signing and bearer policy included).

It checks what the service would: a bearer token (or a valid HMAC-SHA256 signature made with the
connection string's secret), every stable api-version, `label` as a query parameter, the key as
one path segment (the `/` of `.appconfig.featureflag/<name>` percent-encoded), the kv+json media
type, a KeyValue body (the fields the SDK sends: key, label, content_type, value, tags, and the
read-only ones it echoes), ETag / If-Match / If-None-Match (412 on mismatch), errors as
application/problem+json. Every write answers a `Sync-Token`; with `replica_lag=True` a read
that does not echo the newest token sees the value from before the last write (what a replica
behind the primary serves), so a client that drops Sync-Token reads stale data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

# Stable data-plane versions in azure-rest-api-specs (azure-appconfiguration 1.10 sends 2026-04-01).
API_VERSIONS = {"1.0", "2023-10-01", "2023-11-01", "2024-09-01", "2026-04-01"}
KV_TYPE = "application/vnd.microsoft.appconfig.kv+json"
FF_CONTENT_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"
KV_FIELDS = {"key", "label", "content_type", "value", "tags", "locked", "etag", "last_modified"}
KV_FIELDS_2026 = KV_FIELDS | {"description"}
SYNC_ID = "zAJw6V16"  # the sync-token id of this store (the spec example's)
HOST = "my-store.azconfig.io"


@dataclass
class FakeAppConfig:
    items: dict[tuple[str, str | None], dict[str, Any]] = field(
        default_factory=dict
    )  # (key, label) -> KeyValue
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    down: int | None = None  # when set, every request fails with this status (an outage)
    injected: list[tuple[str, int, dict[str, str], int]] = field(
        default_factory=list
    )  # method, status, headers, times
    hmac_id: str = "rollout-test-id"
    hmac_secret: str = base64.b64encode(b"fake-appconfig-secret").decode()
    replica_lag: bool = False
    _previous: dict[tuple[str, str | None], dict[str, Any] | None] = field(default_factory=dict)
    _sn: int = 0
    _n: int = 0

    @property
    def connection_string(self) -> str:
        return f"Endpoint=https://{HOST};Id={self.hmac_id};Secret={self.hmac_secret}"

    def put_flag(self, name: str, flag: dict[str, Any], label: str | None = None) -> None:
        key = f".appconfig.featureflag/{name}"
        self._store(key, label, json.dumps(flag), FF_CONTENT_TYPE, {})
        self._previous.pop((key, label), None)  # set-up: every replica has it already

    def flag(self, name: str, label: str | None = None) -> dict[str, Any]:
        return dict(json.loads(self.items[(f".appconfig.featureflag/{name}", label)]["value"]))

    def tags(self, name: str, label: str | None = None) -> dict[str, str]:
        return dict(self.items[(f".appconfig.featureflag/{name}", label)]["tags"])

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
        self._sn += 1
        self._previous[(key, label)] = self.items.get((key, label))
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

    def _sync_token(self) -> str:
        return f"{SYNC_ID}=v{self._sn};sn={self._sn}"

    def _caught_up(self, headers: dict[str, str]) -> bool:
        # The client echoes `id=value` (SyncTokenPolicy); our value names the sequence number.
        for part in headers.get("sync-token", "").split(","):
            tid, _, value = part.strip().partition("=")
            if tid == SYNC_ID and value == f"v{self._sn}":
                return True
        return False

    def _authorized(self, method: str, url: str, headers: dict[str, str], raw: bytes) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return True
        if not auth.startswith("HMAC-SHA256 "):
            return False
        # rest-api-authentication-hmac.md: sign VERB, path+query, x-ms-date;host;content hash.
        fields = dict(p.split("=", 1) for p in auth[len("HMAC-SHA256 ") :].split("&"))
        if fields.get("Credential") != self.hmac_id:
            return False
        if fields.get("SignedHeaders") != "x-ms-date;host;x-ms-content-sha256":
            return False
        content_hash = base64.b64encode(hashlib.sha256(raw).digest()).decode()
        if headers.get("x-ms-content-sha256") != content_hash:
            return False
        u = urlparse(url)
        path_query = u.path + (f"?{u.query}" if u.query else "")
        to_sign = (
            f"{method}\n{path_query}\n{headers.get('x-ms-date', '')};{u.netloc};{content_hash}"
        )
        want = base64.b64encode(
            hmac.new(base64.b64decode(self.hmac_secret), to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        return hmac.compare_digest(fields.get("Signature", ""), want)

    # -- the server ------------------------------------------------------------------------
    def handle(
        self, method: str, url: str, headers: dict[str, str], raw: bytes | None
    ) -> tuple[int, dict[str, str], Any]:
        h = {k.lower(): v for k, v in headers.items()}
        raw = raw or b""
        u = urlparse(url)
        raw_path = u.path
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        body = json.loads(raw) if raw else None
        self.calls.append((method, raw_path, q, body))
        self.headers_seen.append(h)

        def problem(status: int, title: str, detail: str) -> tuple[int, dict[str, str], Any]:
            return (
                status,
                {"Content-Type": "application/problem+json"},
                {
                    "type": "https://azconfig.io/errors/x",
                    "title": title,
                    "detail": detail,
                    "status": status,
                },
            )

        if self.down is not None:
            return problem(self.down, "Service Unavailable", "the service is unavailable")
        for i, (m, status, hdrs, times) in enumerate(self.injected):
            if m == method and times > 0:
                self.injected[i] = (m, status, hdrs, times - 1)
                if status == 429:
                    return 429, hdrs, None
                return problem(status, "Injected", "injected failure")
        if not self._authorized(method, url, h, raw):
            return problem(401, "Unauthorized", "no bearer token and no valid HMAC signature")
        version = q.get("api-version")
        if version not in API_VERSIONS:
            return problem(400, "Invalid api-version", f"api-version {version!r} is not supported")
        if not raw_path.startswith("/kv/") or raw_path.count("/") != 2:
            return problem(
                404, "Not Found", f"no route {raw_path} (is the key's '/' percent-encoded?)"
            )
        key, label = unquote(raw_path[len("/kv/") :]), q.get("label")
        if label == "":
            label = None  # `label=` is the null label, as `\0`
        cur = self.items.get((key, label))
        sync = {"Sync-Token": self._sync_token()}
        if method == "GET":
            if self.replica_lag and not self._caught_up(h) and (key, label) in self._previous:
                cur = self._previous[(key, label)]  # a replica that has not seen the last write
            if cur is None:
                return problem(404, "Not Found", f"key {key!r} label {label!r} does not exist")
            return 200, {"Content-Type": KV_TYPE, "ETag": f'W/"{cur["etag"]}"', **sync}, cur
        if method == "PUT":
            ctype = h.get("content-type", "")
            if KV_TYPE not in ctype and "application/json" not in ctype:
                return problem(415, "Unsupported Media Type", ctype)
            if_match, if_none = h.get("if-match"), h.get("if-none-match")
            if if_none == "*" and cur is not None:
                return problem(412, "Precondition Failed", "key exists")
            if (
                if_match
                and if_match != "*"
                and (cur is None or if_match.removeprefix("W/") != f'"{cur["etag"]}"')
            ):
                return problem(412, "Precondition Failed", "etag mismatch")
            allowed = KV_FIELDS_2026 if version == "2026-04-01" else KV_FIELDS
            if not isinstance(body, dict) or set(body) - allowed:
                return problem(400, "Invalid request", f"unexpected KeyValue body {body!r}")
            if body.get("key") not in (None, key) or body.get("label") not in (None, label):
                return problem(400, "Invalid request", "key/label in the body differ from the URL")
            kv = self._store(
                key, label, body.get("value"), body.get("content_type"), body.get("tags") or {}
            )
            sync = {"Sync-Token": self._sync_token()}
            return 200, {"Content-Type": KV_TYPE, "ETag": f'W/"{kv["etag"]}"', **sync}, kv
        return problem(405, "Method Not Allowed", method)

    # -- front ends ------------------------------------------------------------------------
    def handler(self, request: Any) -> Any:
        import httpx

        status, headers, out = self.handle(
            request.method, str(request.url), dict(request.headers), request.content
        )
        content = b"" if out is None else json.dumps(out).encode()
        return httpx.Response(status, headers=headers, content=content)

    def adapter(self) -> Any:
        from tests.fakes.arm import json_adapter

        return json_adapter(self.handle)


def sdk_session(store: FakeAppConfig) -> Any:
    """A requests.Session whose https:// traffic goes to `store`."""
    import requests

    s = requests.Session()
    s.mount("https://", store.adapter())
    return s


def percentile(user: str, seed: str) -> float:
    """Microsoft.FeatureManagement's percentile for a user (FeatureManagement 2.2.0 evaluation)."""
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
