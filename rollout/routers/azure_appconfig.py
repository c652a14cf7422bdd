"""Router `azure-appconfig`: a variant feature flag in Azure App Configuration.

    router:
      type: azure-appconfig
      endpoint: https://my-store.azconfig.io
      flag: support-bot-model        # key .appconfig.featureflag/support-bot-model
      label: prod                    # optional
      create: false                  # create the flag if it is missing

The flag follows the Microsoft Feature Management schema (v2): `variants` named by each
variant's `target` (default: baseline / candidate) and `allocation.percentile` ranges
[{variant, from, to}], which is what an app using the Feature Management library evaluates.
Users stay on their variant across steps: the library hashes user id + `allocation.seed`, and we
keep the seed stable (set to the rollout name when absent) and grow the candidate's range from
the top (baseline [0, b), candidate [b, 100)), so the candidate's users only ever gain members.
Writes are optimistic: GET with ETag, PUT under If-Match, re-read and re-apply on 412.
Shapes: shared/reference/azure-api-shapes.md §4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

API_VERSION = "2023-11-01"  # azure-appconfiguration's default; stable
FF_PREFIX = ".appconfig.featureflag/"
FF_CONTENT_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"
KV_TYPE = "application/vnd.microsoft.appconfig.kv+json"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1)  # https://<store>.azconfig.io
    flag: str = Field(min_length=1)
    label: str | None = None
    create: bool = False
    api_version: str = API_VERSION
    scope: str | None = None  # default: https://azconfig.io/.default for *.azconfig.io
    conflict_retries: int = Field(default=5, ge=1, le=20)

    @field_validator("endpoint")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(
                "must be an https:// App Configuration endpoint, e.g. https://my-store.azconfig.io"
            )
        return v.rstrip("/")


def default_scope(endpoint: str) -> str:
    # As azure-appconfiguration infers the audience (reference §4.3).
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    return (
        "https://azconfig.io/.default"
        if host.endswith(".azconfig.io")
        else "https://appconfig.azure.com/.default"
    )


class AppConfigFlagRouter:
    def __init__(
        self,
        config: Config,
        names: dict[str, str],
        variants: dict[str, dict[str, Any]],
        seed: str,
        client: Any,
    ) -> None:
        self.config = config
        self.names = names  # rollout variant -> flag variant name
        self.variants = variants
        self.seed = seed
        self.client = client
        self.url = f"{config.endpoint}/kv/{quote(FF_PREFIX + config.flag, safe='')}"
        self.what = f"feature flag {config.flag!r}" + (
            f" (label {config.label})" if config.label else ""
        )

    def _params(self) -> dict[str, str]:
        p = {"api-version": self.config.api_version}
        if self.config.label is not None:
            p["label"] = self.config.label
        return p

    # -- Router ----------------------------------------------------------------------------
    def get_weights(self) -> Weights:
        kv = self._get()
        if kv is None:
            if self.config.create:
                return Weights.all_baseline()  # nothing yet: the app serves its default
            raise ProviderError(
                f"{self.what} not found in {self.config.endpoint}; create it or set create: true"
            )
        return self._weights_of(self._flag(kv))

    def set_weights(self, weights: Weights) -> None:
        from rollout.azure.rest import AzureError

        for _ in range(self.config.conflict_retries):
            kv = self._get()
            if kv is None and not self.config.create:
                raise ProviderError(
                    f"{self.what} not found in {self.config.endpoint}; create it or set create: true"
                )
            flag = self._flag(kv) if kv is not None else {"id": self.config.flag, "enabled": True}
            new = self._apply(json.loads(json.dumps(flag)), weights)
            if new == flag:
                return  # already there: idempotent, no write
            headers = {"Content-Type": KV_TYPE}
            if kv is None:
                headers["If-None-Match"] = "*"
            else:
                headers["If-Match"] = f'"{kv.get("etag")}"'
            body = {
                "value": json.dumps(new),
                "content_type": FF_CONTENT_TYPE,
                "tags": (kv or {}).get("tags") or {},
            }
            try:
                self._request(
                    "PUT", f"update {self.what}", headers=headers, json=body, ok=(200, 201)
                )
                return
            except AzureError as exc:
                if exc.status != 412:
                    raise
                # Changed (or created) by someone else since our GET: re-read and re-apply.
        raise ProviderError(
            f"{self.what}: kept changing under us (HTTP 412 {self.config.conflict_retries} times); retry when it is quiet"
        )

    # -- helpers ---------------------------------------------------------------------------
    def _request(self, method: str, what: str, **kwargs: Any) -> Any:
        # App Configuration answers errors as problem+json {title, detail}; AzureClient maps them.
        return self.client.request(method, self.url, what=what, params=self._params(), **kwargs)

    def _get(self) -> dict[str, Any] | None:
        resp = self._request("GET", f"read {self.what}", ok=(200, 404))
        if resp.status_code == 404:
            return None
        from rollout.azure.rest import json_object

        return json_object(resp, self.what)

    def _flag(self, kv: dict[str, Any]) -> dict[str, Any]:
        try:
            flag = json.loads(kv.get("value") or "")
        except ValueError as exc:
            raise ProviderError(f"{self.what}: value is not a feature flag (not JSON)") from exc
        if not isinstance(flag, dict):
            raise ProviderError(f"{self.what}: value is not a feature flag object")
        return flag

    def _weights_of(self, flag: dict[str, Any]) -> Weights:
        alloc = flag.get("allocation") or {}
        by_name = {n: v for v, n in self.names.items()}
        if not flag.get("enabled"):
            # A disabled flag gives everyone default_when_disabled, whatever the percentiles say.
            return Weights.of(
                100 if alloc.get("default_when_disabled") == self.names["candidate"] else 0
            )
        share = {v: 0.0 for v in VARIANTS}
        covered = 0.0
        for r in alloc.get("percentile") or []:
            try:
                width = float(r["to"]) - float(r["from"])
                variant = str(r["variant"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderError(
                    f"{self.what}: malformed allocation.percentile entry {r!r}"
                ) from exc
            if width <= 0:
                continue
            if variant not in by_name:
                raise ProviderError(
                    f"{self.what}: allocation gives {width:g}% to variant {variant!r}, which is not in the plan "
                    f"(plan variants: {', '.join(self.names.values())})"
                )
            share[by_name[variant]] += width
            covered += width
        # Users outside every range get default_when_enabled (the library's rule).
        default = by_name.get(str(alloc.get("default_when_enabled")), "baseline")
        share[default] += max(0.0, 100.0 - covered)
        return Weights.of(round(share["candidate"]))

    def _apply(self, flag: dict[str, Any], weights: Weights) -> dict[str, Any]:
        b, c = self.names["baseline"], self.names["candidate"]
        flag.setdefault("id", self.config.flag)
        # The rollout owns this flag while it runs: a disabled flag would ignore the allocation.
        flag["enabled"] = True
        have = {str(v.get("name")) for v in flag.get("variants") or [] if isinstance(v, dict)}
        variants = list(flag.get("variants") or [])
        for v, name in (("baseline", b), ("candidate", c)):
            if name not in have:
                spec = self.variants.get(v) or {}
                value = {
                    k: spec.get(k)
                    for k in ("model", "model_version", "target")
                    if spec.get(k) is not None
                }
                variants.append({"name": name, "configuration_value": value})
        flag["variants"] = variants
        alloc = dict(flag.get("allocation") or {})
        # Keep the seed: changing it would reshuffle every user between variants.
        alloc["seed"] = alloc.get("seed") or self.seed
        alloc.setdefault("default_when_enabled", b)
        alloc.setdefault("default_when_disabled", b)
        ranges = [(b, 0, weights.baseline), (c, weights.baseline, 100)]
        alloc["percentile"] = [
            {"variant": n, "from": lo, "to": hi} for n, lo, hi in ranges if hi > lo
        ]
        flag["allocation"] = alloc
        return flag


def build(config: Config, ctx: BuildContext) -> AppConfigFlagRouter:
    from rollout.azure.rest import AzureClient

    names = {v: str((ctx.variants.get(v) or {}).get("target") or v) for v in VARIANTS}
    if names["baseline"] == names["candidate"]:
        raise ProviderError(
            f"azure-appconfig: both variants map to flag variant {names['baseline']!r}; give them different targets"
        )
    sleep: Callable[[float], None] | None = ctx.extra.get("sleep")
    client = AzureClient(
        scope=config.scope or default_scope(config.endpoint),
        credential=ctx.extra.get("azure_credential"),
        transport=ctx.extra.get("http_transport"),
        sleep=sleep,
    )
    return AppConfigFlagRouter(config, names, ctx.variants, ctx.plan_name, client)
