"""An in-memory Azure Resource Manager for tests: Cognitive Services deployments, usages and
models, and API Management backends. Shapes follow shared/reference/azure-api-shapes.md §1, §3,
§7.

One core (`FakeArm.handle`) serves two front ends:
  * `FakeArm.adapter()`  - a requests BaseAdapter, so the REAL azure-mgmt-cognitiveservices SDK
    runs through it (RequestsTransport(session=...)), LRO polling and retries included;
  * `FakeArm.httpx_handler` - for httpx.MockTransport (rollout.azure.rest.AzureClient).

It checks what real ARM would: a bearer token, the api-version each provider accepts, bodies
against the schema (unknown/illegal fields rejected with ARM's error envelope), ETag/If-Match on
APIM backends (412 on mismatch). Failures are injected per call (`inject`), the LRO depth and
outcome are configurable, and quota usage is computed from the deployments that exist.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

# Every stable api-version the supported SDK range sends: azure-mgmt-cognitiveservices 13.7.0
# and 14.0.0 pin 2025-06-01, 14.1.0 pins 2025-09-01 (pyproject: >=13.7,<15).
COGNITIVE_APIS = frozenset({"2025-06-01", "2025-09-01"})


def _sdk_api_version() -> str:
    """The api-version the installed SDK sends (what the tests expect to see on the wire)."""
    try:
        from azure.mgmt.cognitiveservices._configuration import (
            CognitiveServicesManagementClientConfiguration as Conf,
        )

        return str(Conf(credential=object(), subscription_id="s").api_version)
    except Exception:  # SDK absent: the newest
        return "2025-09-01"


COGNITIVE_API = _sdk_api_version()
APIM_API = "2024-05-01"
HOST = "https://management.azure.com"
CS = "/providers/Microsoft.CognitiveServices/accounts/"
APIM = "/providers/Microsoft.ApiManagement/service/"
DEPLOYMENT_TYPE = "Microsoft.CognitiveServices/accounts/deployments"


class FakeCredential:
    """azure-identity shaped: get_token and get_token_info; records the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kw: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("fake-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self.scopes.append(scopes)
        return AccessTokenInfo("fake-token", int(time.time()) + 3600)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Injected:
    method: str
    path_contains: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int


def arm_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}


@dataclass
class FakeArm:
    subscription: str = "sub-1"
    resource_group: str = "rg"
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> Deployment body
    models: list[dict[str, Any]] = field(default_factory=list)  # AccountModel items
    quota: dict[str, float] = field(default_factory=dict)  # usage name -> regional limit
    # Quota is per subscription, region and usage name, shared by every account in the region:
    # capacity that other accounts (or other resource groups) hold there.
    used_elsewhere: dict[str, float] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # account name -> location
    location: str = "eastus"  # of accounts not named in `accounts`
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"properties"}
    etags: dict[str, int] = field(default_factory=dict)
    lro_polls: int = 1  # InProgress answers before the terminal status
    lro_error: dict[str, str] | None = None  # {"code", "message"}: the next LRO ends Failed
    calls: list[Call] = field(default_factory=list)
    down: int | None = None  # when set, every request fails with this status (an outage)
    injected: list[Injected] = field(default_factory=list)
    tripped: set[str] = field(default_factory=set)  # backend ids (lower case) whose breaker tripped
    _ops: dict[str, dict[str, Any]] = field(default_factory=dict)
    _rid: int = 0

    # -- setup helpers ---------------------------------------------------------------------
    def account_path(self, account: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}{CS}{account}"
        )

    def add_model(
        self,
        name: str,
        version: str,
        sku: str,
        usage_name: str | None,
        minimum: int = 1,
        step: int = 1,
        maximum: int = 1000,
        **lifecycle: Any,
    ) -> None:
        """A model in the region's catalogue (ListLocationModels shape). Provisioned SKUs have
        a minimum and a step (e.g. 50 and 50 PTU); usage_name None is a SKU naming no usage.
        `lifecycle` adds AccountModel fields as the spec names them (isDefaultVersion,
        deprecation {inference, deprecationStatus}, lifecycleStatus, replacementConfig
        {targetModelName, targetModelVersion, autoUpgradeStartDate, ...})."""
        model_sku: dict[str, Any] = {
            "name": sku,
            "capacity": {"default": minimum, "minimum": minimum, "maximum": maximum, "step": step},
        }
        if usage_name is not None:
            model_sku["usageName"] = usage_name
        self.models.append(
            {
                "format": "OpenAI",
                "name": name,
                "version": version,
                "maxCapacity": maximum,
                "skus": [model_sku],
                **lifecycle,
            }
        )

    def add_deployment(
        self,
        account: str,
        name: str,
        model: str,
        version: str,
        sku: str = "GlobalStandard",
        capacity: int = 10,
        upgrade: str | None = None,
    ) -> None:
        self.deployments[name] = {
            "id": f"{self.account_path(account)}/deployments/{name}",
            "name": name,
            "type": DEPLOYMENT_TYPE,
            "sku": {"name": sku, "capacity": capacity},
            "properties": {
                "model": {"format": "OpenAI", "name": model, "version": version},
                "provisioningState": "Succeeded",
            },
        }
        if upgrade is not None:  # versionUpgradeOption
            self.deployments[name]["properties"]["versionUpgradeOption"] = upgrade

    def backend_id(self, service: str, backend: str) -> str:
        rg = f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
        return f"{rg}{APIM}{service}/backends/{backend}"

    def add_backend(
        self, service: str, backend: str, url: str, breaker: dict[str, Any] | None = None
    ) -> None:
        props: dict[str, Any] = {"type": "Single", "url": url, "protocol": "http"}
        if breaker is not None:  # BackendCircuitBreaker {rules: [...]}, as in the spec
            props["circuitBreaker"] = breaker
        self.backends[self.backend_id(service, backend)] = {"properties": props}
        self.etags[self.backend_id(service, backend)] = 1

    def add_pool(
        self,
        service: str,
        pool: str,
        members: dict[str, int],
        priorities: dict[str, int] | None = None,
    ) -> None:
        services = [
            {
                "id": self.backend_id(service, m),
                "priority": (priorities or {}).get(m, 1),
                "weight": w,
            }
            for m, w in members.items()
        ]
        self.backends[self.backend_id(service, pool)] = {
            "properties": {
                "title": None,
                "type": "Pool",
                "url": None,
                "protocol": None,
                "description": "LLM pool",
                "pool": {"services": services},
            }
        }
        self.etags[self.backend_id(service, pool)] = 1

    def pool_weights(self, service: str, pool: str) -> dict[str, int]:
        svcs = self.backends[self.backend_id(service, pool)]["properties"]["pool"]["services"]
        return {s["id"].rsplit("/", 1)[1]: s.get("weight") for s in svcs}

    def trip(self, service: str, backend: str) -> None:
        """The gateway's breaker for `backend` trips (runtime state: ARM does not show it)."""
        self.tripped.add(self.backend_id(service, backend).lower())

    def route(self, service: str, pool: str, n: int, seed: int = 0) -> dict[str, int]:
        """Send n requests through the pool as the APIM gateway does (docs: backends.md):
        the best priority group (lowest number) with an available member serves; within it,
        members are chosen by relative weight (evenly when no member has a weight); tripped
        members are skipped. Returns requests per backend name."""
        import random

        rng = random.Random(seed)
        svcs = self.backends[self.backend_id(service, pool)]["properties"]["pool"]["services"]
        up = [s for s in svcs if s["id"].lower() not in self.tripped]
        counts = {s["id"].rsplit("/", 1)[1]: 0 for s in svcs}
        if not up:
            return counts
        best = min(s.get("priority") or 1 for s in up)
        group = [s for s in up if (s.get("priority") or 1) == best]
        weights = [s.get("weight") for s in group]
        if all(w is None for w in weights):
            weights = [1] * len(group)
        w = [float(x or 0) for x in weights]
        if sum(w) == 0:
            return counts
        for s in rng.choices(group, weights=w, k=n):
            counts[s["id"].rsplit("/", 1)[1]] += 1
        return counts

    def concurrent_edit(self, service: str, backend: str) -> None:
        """Someone else changed the backend: its ETag moves on, so a stale If-Match gets 412."""
        self.etags[self.backend_id(service, backend)] += 1

    def inject(
        self,
        method: str,
        path_contains: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        self.injected.append(
            Injected(method, path_contains, status, body, dict(headers or {}), times)
        )

    def usage(self, usage_name: str, account: str | None = None) -> float:
        """Capacity in use under `usage_name`: in one account, or (None) the whole region."""
        total = 0.0 if account is not None else self.used_elsewhere.get(usage_name, 0.0)
        for d in self.deployments.values():
            if account is not None and f"{CS}{account}/" not in d["id"]:
                continue
            if self._usage_name(d) == usage_name:
                total += d["sku"].get("capacity") or 0
        return total

    def _sku_rules(self, dep: dict[str, Any]) -> dict[str, Any] | None:
        m = dep["properties"]["model"]
        for am in self.models:
            if am["name"] == m["name"] and am["version"] == m.get("version"):
                for s in am["skus"]:
                    if s["name"].lower() == dep["sku"]["name"].lower():
                        return dict(s.get("capacity") or {})
        return None

    def _capacity_problem(self, dep: dict[str, Any]) -> str | None:
        rules, cap = self._sku_rules(dep), dep["sku"].get("capacity")
        if rules is None or cap is None:
            return None
        lo, step, hi = rules.get("minimum", 1), rules.get("step", 1), rules.get("maximum")
        if cap < lo or (hi is not None and cap > hi) or (cap - lo) % step:
            return (
                f"The capacity {cap} is invalid for SKU {dep['sku']['name']}: it must be at "
                f"least {lo}, at most {hi} and a multiple of {step}."
            )
        return None

    def _usage_name(self, dep: dict[str, Any]) -> str | None:
        m = dep["properties"]["model"]
        for am in self.models:
            if am["name"] == m["name"] and am["version"] == m.get("version"):
                for s in am["skus"]:
                    if s["name"].lower() == dep["sku"]["name"].lower():
                        return s.get("usageName")
        return None

    # -- the server ------------------------------------------------------------------------
    def handle(
        self, method: str, url: str, headers: dict[str, str], raw: bytes | None
    ) -> tuple[int, dict[str, str], Any]:
        u = urlparse(url)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        h = {k.lower(): v for k, v in headers.items()}
        body = json.loads(raw) if raw else None
        self.calls.append(Call(method, u.path, q, h, body))
        self._rid += 1
        rid = {"x-ms-request-id": f"req-{self._rid}"}
        if self.down is not None:
            return self.down, rid, arm_error("InternalServerError", "the service is unavailable")
        for inj in self.injected:
            if inj.times > 0 and inj.method == method and inj.path_contains in u.path:
                inj.times -= 1
                return inj.status, {**rid, **inj.headers}, inj.body
        if not h.get("authorization", "").startswith("Bearer "):
            return 401, rid, arm_error("AuthenticationFailed", "no bearer token")
        status, hdrs, out = self._route(method, u.path, q, h, body)
        return status, {**rid, **hdrs}, out

    def _route(
        self, method: str, path: str, q: dict[str, str], h: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if path.startswith("/fake/operations/"):
            return self._op_status(path.rsplit("/", 1)[1])
        if APIM in path:
            if q.get("api-version") != APIM_API:
                return (
                    400,
                    {},
                    arm_error(
                        "InvalidApiVersionParameter",
                        f"api-version {q.get('api-version')!r} not supported",
                    ),
                )
            return self._apim(method, path, h, body)
        if "/providers/Microsoft.CognitiveServices/" in path:
            if q.get("api-version") not in COGNITIVE_APIS:
                return (
                    400,
                    {},
                    arm_error(
                        "InvalidApiVersionParameter",
                        f"api-version {q.get('api-version')!r} not supported",
                    ),
                )
            return self._cognitive(method, path, q, body)
        return 404, {}, arm_error("InvalidResourceType", f"no route for {path}")

    # Cognitive Services ------------------------------------------------------------------
    def _cognitive(
        self, method: str, path: str, q: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if "/locations/" in path and method == "GET":
            return self._location(path)
        account_path = path.split("/deployments")[0].split("/usages")[0].split("/models")[0]
        account = account_path.rsplit("/", 1)[1]
        names = sorted({s["usageName"] for m in self.models for s in m["skus"] if "usageName" in s})
        if path.endswith("/usages") and method == "GET":
            # Accounts_ListUsages: this account's own use only (not the regional quota).
            return (
                200,
                {},
                {"value": [self._usage_item(n, self.usage(n, account)) for n in names]},
            )
        if path.endswith("/models") and method == "GET":
            # Accounts_ListModels: as the spec example (ListAccountModels.json), no skus at all.
            plain = [{k: v for k, v in m.items() if k != "skus"} for m in self.models]
            return 200, {}, {"value": plain}
        if path == account_path and method == "GET":
            loc = self.accounts.get(account, self.location)
            return (
                200,
                {},
                {
                    "id": account_path,
                    "name": account,
                    "type": "Microsoft.CognitiveServices/accounts",
                    "kind": "OpenAI",
                    "location": loc,
                    "sku": {"name": "S0"},
                    "properties": {
                        "endpoint": f"https://{account}.openai.azure.com/",
                        "provisioningState": "Succeeded",
                    },
                },
            )
        if "/deployments/" not in path:
            if path.endswith("/deployments") and method == "GET":
                return 200, {}, {"value": list(self.deployments.values())}
            return 404, {}, arm_error("NotFound", path)
        name = path.rsplit("/", 1)[1]
        dep = self.deployments.get(name)
        if method == "GET":
            if dep is None:
                return 404, {}, arm_error("DeploymentNotFound", f"Deployment '{name}' not found.")
            return 200, {}, dep
        if method == "PUT":
            problem = _check_deployment(body)
            if problem:
                return 400, {}, arm_error("InvalidRequestContent", problem)
            new = {
                "id": f"{account_path}/deployments/{name}",
                "name": name,
                "type": DEPLOYMENT_TYPE,
                "sku": body["sku"],
                "properties": {**body["properties"], "provisioningState": "Accepted"},
            }
            if problem := self._capacity_problem(new):
                return 400, {}, arm_error("InvalidCapacity", problem)
            if self.lro_error is not None:
                op = self._new_op(name, "Failed", None)
            else:
                self.deployments[name] = new
                op = self._new_op(name, "Succeeded", name)
            return (
                201,
                {
                    "Azure-AsyncOperation": f"{HOST}/fake/operations/{op}"
                    f"?api-version={COGNITIVE_API}",
                    "Retry-After": "0",
                },
                new,
            )
        if method == "PATCH":
            if dep is None:
                return 404, {}, arm_error("DeploymentNotFound", f"Deployment '{name}' not found.")
            extra = set(body or {}) - {"sku", "tags"}
            if extra or not body:
                return (
                    400,
                    {},
                    arm_error(
                        "InvalidRequestContent",
                        f"PATCH takes only sku and tags, got {sorted(extra)}",
                    ),
                )
            if "sku" in body:
                trial = {**dep, "sku": {**dep["sku"], **body["sku"]}}
                if problem := self._capacity_problem(trial):
                    return 400, {}, arm_error("InvalidCapacity", problem)
                dep["sku"] = trial["sku"]
            if "tags" in body:
                dep["tags"] = body["tags"]
            op = self._new_op(name, "Succeeded", None)
            return (
                202,
                {
                    "Azure-AsyncOperation": f"{HOST}/fake/operations/{op}"
                    f"?api-version={COGNITIVE_API}",
                    "Retry-After": "0",
                },
                None,
            )
        if method == "DELETE":
            if dep is None:
                return 204, {}, None
            del self.deployments[name]
            op = self._new_op(name, "Succeeded", None)
            return (
                202,
                {
                    "Azure-AsyncOperation": f"{HOST}/fake/operations/{op}"
                    f"?api-version={COGNITIVE_API}",
                    "Retry-After": "0",
                },
                None,
            )
        return 405, {}, arm_error("MethodNotAllowed", method)

    def _usage_item(self, name: str, current: float) -> dict[str, Any]:
        return {
            "name": {"value": name, "localizedValue": name},
            "currentValue": current,
            "limit": self.quota.get(name, 0.0),
            "unit": "Count",
            "status": "Included",
        }

    def _location(self, path: str) -> tuple[int, dict[str, str], Any]:
        """Usages_List and Models_List of a subscription's region (pageable: {value})."""
        loc = path.split("/locations/", 1)[1].split("/", 1)[0]
        known = set(self.accounts.values()) | {self.location}
        if loc.lower() not in {k.lower() for k in known}:
            return 200, {}, {"value": []}
        if path.endswith("/usages"):
            names = sorted(
                {s["usageName"] for m in self.models for s in m["skus"] if "usageName" in s}
                | set(self.quota)
            )
            return 200, {}, {"value": [self._usage_item(n, self.usage(n)) for n in names]}
        if path.endswith("/models"):
            wrapped = [{"kind": "OpenAI", "skuName": "S0", "model": m} for m in self.models]
            return 200, {}, {"value": wrapped}
        return 404, {}, arm_error("NotFound", path)

    def _new_op(self, name: str, outcome: str, resource: str | None) -> str:
        op = str(len(self._ops) + 1)
        self._ops[op] = {
            "polls": 0,
            "outcome": outcome,
            "error": self.lro_error,
            "resource": resource,
        }
        self.lro_error = None
        return op

    def _op_status(self, op_id: str) -> tuple[int, dict[str, str], Any]:
        op = self._ops[op_id]
        op["polls"] += 1
        base = {"id": f"/fake/operations/{op_id}", "name": op_id}
        if op["polls"] <= self.lro_polls:
            return 200, {"Retry-After": "0"}, {**base, "status": "InProgress"}
        if op["outcome"] == "Failed":
            return 200, {}, {**base, "status": "Failed", "error": op["error"]}
        if op["resource"] and op["resource"] in self.deployments:
            self.deployments[op["resource"]]["properties"]["provisioningState"] = "Succeeded"
        return 200, {}, {**base, "status": "Succeeded"}

    # API Management ----------------------------------------------------------------------
    def _apim(
        self, method: str, path: str, h: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        key = next((k for k in self.backends if k.lower() == path.lower()), path)
        cur = self.backends.get(key)
        if method == "GET":
            if cur is None:
                return 404, {}, arm_error("ResourceNotFound", "Backend not found.")
            return 200, {"ETag": f'"{self.etags[key]}"'}, self._backend_body(key)
        if method == "PUT":
            if cur is not None:
                if_match = h.get("if-match")
                if if_match is None:
                    return (
                        400,
                        {},
                        arm_error("ValidationError", "If-Match header is required when updating"),
                    )
                if if_match != "*" and if_match != f'"{self.etags[key]}"':
                    return (
                        412,
                        {},
                        arm_error(
                            "PreconditionFailed",
                            "The entity's ETag does not match the If-Match header.",
                        ),
                    )
            problem = self._check_backend(body)
            if problem:
                return 400, {}, arm_error("ValidationError", problem)
            self.backends[key] = {"properties": body["properties"]}
            self.etags[key] = self.etags.get(key, 0) + 1
            return (
                (200 if cur is not None else 201),
                {"ETag": f'"{self.etags[key]}"'},
                self._backend_body(key),
            )
        return 405, {}, arm_error("MethodNotAllowed", method)

    def _backend_body(self, key: str) -> dict[str, Any]:
        return {
            "id": key,
            "type": "Microsoft.ApiManagement/service/backends",
            "name": key.rsplit("/", 1)[1],
            "properties": json.loads(json.dumps(self.backends[key]["properties"])),
        }

    def _check_backend(self, body: Any) -> str | None:
        if not isinstance(body, dict) or set(body) - {"properties"}:
            return "body must be {properties: ...}"
        props = body["properties"]
        if props.get("type") != "Pool":
            return _check_breaker(props.get("circuitBreaker"))
        services = (props.get("pool") or {}).get("services") or []
        if not services:
            return "pool.services needs at least one item"
        for s in services:
            if set(s) - {"id", "weight", "priority"}:
                extra = sorted(set(s) - {"id", "weight", "priority"})
                return f"unknown BackendPoolItem fields {extra}"
            member = next(
                (v for k, v in self.backends.items() if k.lower() == str(s.get("id", "")).lower()),
                None,
            )
            if member is None or member["properties"].get("type") != "Single":
                return f"pool member {s.get('id')!r} is not an existing Single backend"
            for f in ("weight", "priority"):
                v = s.get(f)
                if v is not None and (not isinstance(v, int) or not 0 <= v <= 100):
                    return f"{f} must be an integer 0..100, got {v!r}"
        return None

    # -- front ends ------------------------------------------------------------------------
    def httpx_handler(self, request: Any) -> Any:
        import httpx

        status, headers, out = self.handle(
            request.method, str(request.url), dict(request.headers), request.content
        )
        return (
            httpx.Response(status, headers=headers, json=out)
            if out is not None
            else httpx.Response(status, headers=headers)
        )

    def adapter(self) -> Any:
        return _adapter(self)


def _check_breaker(cb: Any) -> str | None:
    """BackendCircuitBreaker (2024-05-01): rules[] (max 15) of {name, failureCondition {count |
    percentage, interval, statusCodeRanges [{min, max} in 200..599], errorReasons},
    tripDuration, acceptRetryAfter}."""
    if cb is None:
        return None
    rules = cb.get("rules") if isinstance(cb, dict) else None
    if not isinstance(rules, list) or len(rules) > 15:
        return "circuitBreaker.rules must be a list of at most 15 rules"
    for r in rules:
        extra = set(r) - {"name", "failureCondition", "tripDuration", "acceptRetryAfter"}
        if extra:
            return f"unknown CircuitBreakerRule fields {sorted(extra)}"
        for rng in (r.get("failureCondition") or {}).get("statusCodeRanges") or []:
            if not (200 <= rng.get("min", 0) <= rng.get("max", 0) <= 599):
                return f"statusCodeRanges {rng!r} must lie in 200..599"
    return None


def _check_deployment(body: Any) -> str | None:
    if not isinstance(body, dict) or set(body) - {"sku", "properties", "tags"}:
        extra = sorted(set(body or {}) - {"sku", "properties", "tags"})
        return f"unexpected Deployment fields: {extra}"
    if not (body.get("sku") or {}).get("name"):
        return "sku.name is required"
    model = (body.get("properties") or {}).get("model") or {}
    if not model.get("name") or not model.get("format"):
        return "properties.model.name and properties.model.format are required"
    return None


Handle = Callable[[str, str, dict[str, str], bytes | None], tuple[int, dict[str, str], Any]]


def _make_adapter_class() -> type:
    import requests
    import urllib3
    from requests.adapters import BaseAdapter

    class JsonAdapter(BaseAdapter):  # type: ignore[misc]
        """A requests adapter over a fake's `handle(method, url, headers, raw)` -> JSON reply."""

        def __init__(self, handle: Handle) -> None:
            super().__init__()
            self.handle = handle

        def send(self, request: Any, **kw: Any) -> Any:
            raw = request.body.encode() if isinstance(request.body, str) else request.body
            status, headers, out = self.handle(
                request.method, request.url, dict(request.headers), raw
            )
            data = b"" if out is None else json.dumps(out).encode()
            h = dict(headers)
            if out is not None and not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = "application/json; charset=utf-8"
            h["Content-Length"] = str(len(data))
            # azure-core streams from .raw and sets raw.enforce_content_length: needs a real one.
            resp = requests.Response()
            resp.status_code, resp.request, resp.url = status, request, request.url
            resp.raw = urllib3.HTTPResponse(
                body=io.BytesIO(data), headers=h, status=status, preload_content=False
            )
            resp.headers = requests.structures.CaseInsensitiveDict(h)
            return resp

        def close(self) -> None:
            pass

    return JsonAdapter


def json_adapter(handle: Handle) -> Any:
    # The class is made on first use: importing this module needs neither requests nor urllib3.
    return _make_adapter_class()(handle)


def _adapter(arm: FakeArm) -> Any:
    return json_adapter(arm.handle)


def sdk_session(arm: FakeArm) -> Any:
    """A requests.Session whose https:// traffic goes to `arm`."""
    import requests

    s = requests.Session()
    s.mount("https://", arm.adapter())
    return s
