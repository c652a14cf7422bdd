"""Router `azure-apim`: weights on an Azure API Management backend pool.

    router:
      type: azure-apim
      subscription_id: 00000000-...
      resource_group: rg-llm
      service: apim-llm             # the API Management instance
      pool: aoai-pool               # a backend of type Pool; its members are Single backends
      members: {baseline: aoai-gpt4o, candidate: aoai-gpt41}   # optional

Each variant's pool member (backend id, e.g. `aoai-gpt41`, or the full ARM id) is `members[v]`,
else the variant's `target` (so `target` can stay the deployment name that metrics filter on). set_weights GETs the pool with its ETag, rewrites the members' `weight` and PUTs the
whole contract back under If-Match; a 412 (someone else changed the pool meanwhile) re-reads
and re-applies. Shapes: shared/reference/azure-api-shapes.md §3 (api-version 2024-05-01).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

API_VERSION = "2024-05-01"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_id: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    service: str = Field(min_length=1)
    pool: str = Field(min_length=1)
    members: dict[Literal["baseline", "candidate"], str] = Field(default_factory=dict)
    api_version: str = API_VERSION
    conflict_retries: int = Field(default=5, ge=1, le=20)  # 412s tolerated per set_weights


class ApimPoolRouter:
    def __init__(self, config: Config, targets: dict[str, str], client: Any) -> None:
        self.config = config
        self.targets = targets  # variant -> backend id or ARM id
        self.client = client  # rollout.azure.rest.AzureClient
        c = config
        self.url = (
            f"https://management.azure.com/subscriptions/{c.subscription_id}/resourceGroups/"
            f"{c.resource_group}/providers/Microsoft.ApiManagement/service/{c.service}/backends/{c.pool}"
        )
        self.what = f"APIM pool {c.service}/{c.pool}"

    # -- Router ----------------------------------------------------------------------------
    def get_weights(self) -> Weights:
        contract, _ = self._get()
        return self._weights_of(self._services(contract))

    def set_weights(self, weights: Weights) -> None:
        from rollout.azure.rest import AzureError

        for _ in range(self.config.conflict_retries):
            contract, etag = self._get()
            services = self._services(contract)
            index = self._members(services)
            wanted = {v: getattr(weights, v) for v in VARIANTS}
            if all(services[i].get("weight") == wanted[v] for v, i in index.items()):
                self._check_others(services, index)
                return  # already there: idempotent, no write
            new = copy.deepcopy(services)
            for v, i in index.items():
                # Weight 0 keeps the member in the pool (so the rollout can raise it again).
                new[i]["weight"] = wanted[v]
            self._check_others(new, index)
            props = dict(contract.get("properties") or {})
            props["pool"] = {**(props.get("pool") or {}), "services": new}
            try:
                self.client.request(
                    "PUT",
                    self.url,
                    what=f"update {self.what}",
                    params={"api-version": self.config.api_version},
                    headers={"If-Match": etag or "*"},
                    json={"properties": props},
                )
                return
            except AzureError as exc:
                if exc.status != 412:
                    raise
                # Someone else changed the pool since our GET: re-read and re-apply our weights.
        raise ProviderError(
            f"{self.what}: the pool kept changing under us (HTTP 412 {self.config.conflict_retries} times); "
            "is another tool editing it? Retry when it is quiet."
        )

    # -- helpers ---------------------------------------------------------------------------
    def _get(self) -> tuple[dict[str, Any], str | None]:
        from rollout.azure.rest import json_object

        resp = self.client.request(
            "GET",
            self.url,
            what=f"read {self.what}",
            params={"api-version": self.config.api_version},
            ok=(200,),
        )
        return json_object(resp, self.what), resp.headers.get("etag")

    def _services(self, contract: dict[str, Any]) -> list[dict[str, Any]]:
        props = contract.get("properties") or {}
        if props.get("type") != "Pool":
            raise ProviderError(
                f"{self.what} is a {props.get('type') or 'non-pool'} backend; the azure-apim router needs a backend of type Pool"
            )
        services = (props.get("pool") or {}).get("services")
        if not isinstance(services, list) or not services:
            raise ProviderError(f"{self.what} has no pool members")
        return services

    def _members(self, services: list[dict[str, Any]]) -> dict[str, int]:
        index: dict[str, int] = {}
        for v in VARIANTS:
            t = self.targets[v].lower()
            for i, s in enumerate(services):
                sid = str(s.get("id", "")).lower()
                if sid == t or sid.endswith(f"/backends/{t}"):
                    index[v] = i
                    break
            else:
                names = ", ".join(str(s.get("id", "?")).rsplit("/", 1)[-1] for s in services)
                raise ProviderError(
                    f"{self.what} has no member {self.targets[v]!r} for variant {v} (members: {names}); "
                    f"set members.{v} (or variants.{v}.target) to one of them, or add the backend to the pool"
                )
        return index

    def _check_others(self, services: list[dict[str, Any]], index: dict[str, int]) -> None:
        # Members outside the plan that carry weight would take traffic we cannot account for.
        ours = set(index.values())
        busy = [
            str(s.get("id", "?")).rsplit("/", 1)[-1]
            for i, s in enumerate(services)
            if i not in ours and (s.get("weight") or 0) > 0
        ]
        if busy:
            raise ProviderError(
                f"{self.what} has members outside the plan with weight > 0: {', '.join(busy)}; set their weight to 0 or remove them"
            )

    def _weights_of(self, services: list[dict[str, Any]]) -> Weights:
        index = self._members(services)
        self._check_others(services, index)
        raw = {v: services[i].get("weight") for v, i in index.items()}
        if any(w is None for w in raw.values()):
            # APIM spreads evenly when weights are absent: that is 50/50 between our two.
            return Weights(baseline=50, candidate=50)
        b, c = int(raw["baseline"] or 0), int(raw["candidate"] or 0)
        if b + c == 0:
            raise ProviderError(
                f"{self.what}: both members have weight 0, so the pool serves nothing"
            )
        # APIM weights are relative; convert to percent.
        cand = round(100 * c / (b + c))
        return Weights.of(cand)


def build(config: Config, ctx: BuildContext) -> ApimPoolRouter:
    from rollout.azure.rest import ARM_SCOPE, AzureClient

    members: dict[str, str] = {str(k): v for k, v in config.members.items()}
    targets = {
        v: str(members.get(v) or (ctx.variants.get(v) or {}).get("target") or v) for v in VARIANTS
    }
    sleep: Callable[[float], None] | None = ctx.extra.get("sleep")
    client = AzureClient(
        scope=ARM_SCOPE,
        credential=ctx.extra.get("azure_credential"),
        transport=ctx.extra.get("http_transport"),
        sleep=sleep,
    )
    return ApimPoolRouter(config, targets, client)
