"""Router `azure-apim`: weights on an Azure API Management backend pool.

    router:
      type: azure-apim
      subscription_id: 00000000-...
      resource_group: rg-llm
      service: apim-llm             # the API Management instance
      pool: aoai-pool               # a backend of type Pool; its members are Single backends
      members: {baseline: aoai-gpt4o, candidate: aoai-gpt41}   # optional

      priorities: refuse            # or `equalize`: put both members in the baseline's group

Each variant's pool member (backend id, e.g. `aoai-gpt41`, or the full ARM id) is `members[v]`,
else the variant's `target` (so `target` can stay the deployment name that metrics filter on).
set_weights GETs the pool with its ETag, rewrites the members' `weight` and PUTs the whole
contract back under If-Match; a 412 (someone else changed the pool meanwhile) re-reads and
re-applies. Shapes: shared/reference/azure-api-shapes.md §3 (api-version 2024-05-01, the only
stable version with pools; later ones are previews).

APIM weights apply only *within* a priority group: a lower group (a larger number) gets traffic
only when every backend of the groups above it is tripped by its circuit breaker. So a
candidate in group 2 serves nothing whatever its weight says. set_weights refuses such a pool
with the reason (or, with `priorities: equalize`, moves both members into the baseline's group),
and get_weights reports what such a pool serves (everything to the better group), so the
runner sees the drift instead of a weight that is not served. `causes()` lists what can make
the served split differ from the weights: priority groups and each member's breaker rules
(ARM shows the rules, not whether a breaker is tripped now: that shows in the served split).
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
    priorities: Literal["refuse", "equalize"] = "refuse"


class ApimPoolRouter:
    def __init__(self, config: Config, targets: dict[str, str], client: Any) -> None:
        self.config = config
        self.targets = targets  # variant -> backend id or ARM id
        self.client = client  # rollout.azure.rest.AzureClient
        c = config
        self.url = (
            f"https://management.azure.com/subscriptions/{c.subscription_id}/resourceGroups/"
            f"{c.resource_group}/providers/Microsoft.ApiManagement/service/{c.service}/backends/"
            f"{c.pool}"
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
            if all(services[i].get("weight") == wanted[v] for v, i in index.items()) and (
                _priority(services[index["baseline"]]) == _priority(services[index["candidate"]])
            ):
                self._check_others(services, index)
                return  # already there: idempotent, no write
            new = copy.deepcopy(services)
            for v, i in index.items():
                # Weight 0 keeps the member in the pool (so the rollout can raise it again).
                new[i]["weight"] = wanted[v]
            self._check_others(new, index)
            self._one_group(new, index)
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
                    write=True,  # each try (429, 5xx) and each 412 re-apply is fenced
                )
                return
            except AzureError as exc:
                if exc.status != 412:
                    raise
                # Someone else changed the pool since our GET: re-read and re-apply our weights.
        raise ProviderError(
            f"{self.what}: the pool kept changing under us "
            f"(HTTP 412 {self.config.conflict_retries} times); "
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
                f"{self.what} is a {props.get('type') or 'non-pool'} backend; "
                "the azure-apim router needs a backend of type Pool"
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
                    f"{self.what} has no member {self.targets[v]!r} for variant {v} "
                    f"(members: {names}); set members.{v} (or variants.{v}.target) to one of "
                    "them, or add the backend to the pool"
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
                f"{self.what} has members outside the plan with weight > 0: {', '.join(busy)}; "
                "set their weight to 0 or remove them"
            )

    def _one_group(self, services: list[dict[str, Any]], index: dict[str, int]) -> None:
        """Both members in one priority group, or (priorities: equalize) made so."""
        pb = _priority(services[index["baseline"]])
        pc = _priority(services[index["candidate"]])
        if pb == pc:
            return
        if self.config.priorities == "equalize":
            for i in index.values():
                services[i]["priority"] = pb  # the baseline's group is the one serving now
            return
        raise ProviderError(f"{self.what}: {self._split_groups_reason(services, index)}")

    def _split_groups_reason(self, services: list[dict[str, Any]], index: dict[str, int]) -> str:
        pb = _priority(services[index["baseline"]])
        pc = _priority(services[index["candidate"]])
        low = "candidate" if pc > pb else "baseline"
        return (
            f"the {low} backend {_name(services[index[low]])} is in priority group "
            f"{max(pb, pc)} and the other in group {min(pb, pc)}: APIM sends traffic to group "
            f"{max(pb, pc)} only when every backend of group {min(pb, pc)} is tripped, so the "
            "weights would not be served; put both in one group, or set priorities: equalize"
        )

    # -- what is served ----------------------------------------------------------------------
    def served(self, window: Any = None) -> Weights:
        """The split this pool's configuration serves: weights within the best priority group.
        ARM exposes no per-backend request counts; a tripped breaker shows in the metrics."""
        contract, _ = self._get()
        return self._weights_of(self._services(contract))

    def causes(self) -> list[str]:
        """What can make the served split differ from the weights, in words."""
        contract, _ = self._get()
        services = self._services(contract)
        index = self._members(services)
        out: list[str] = []
        if _priority(services[index["baseline"]]) != _priority(services[index["candidate"]]):
            out.append(f"APIM: {self._split_groups_reason(services, index)}")
        for v, i in index.items():
            for rule in self._breaker_rules(str(services[i].get("id", ""))):
                out.append(f"APIM: the {v} backend {_name(services[i])} has {rule}")
        return out

    def _breaker_rules(self, backend_id: str) -> list[str]:
        from rollout.azure.rest import json_object

        if backend_id.lower().startswith("/subscriptions/"):
            url = f"https://management.azure.com{backend_id}"
        else:
            url = f"{self.url.rsplit('/backends/', 1)[0]}/backends/{backend_id}"
        resp = self.client.request(
            "GET",
            url,
            what=f"read APIM backend {backend_id.rsplit('/', 1)[-1]}",
            params={"api-version": self.config.api_version},
            ok=(200,),
        )
        props = json_object(resp, self.what).get("properties") or {}
        rules = (props.get("circuitBreaker") or {}).get("rules") or []
        return [_describe_rule(r) for r in rules if isinstance(r, dict)]

    def _weights_of(self, services: list[dict[str, Any]]) -> Weights:
        index = self._members(services)
        self._check_others(services, index)
        pb = _priority(services[index["baseline"]])
        pc = _priority(services[index["candidate"]])
        if pb != pc:  # only the better group is served (while none of its breakers trips)
            return Weights.of(100 if pc < pb else 0)
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


def _priority(service: dict[str, Any]) -> int:
    p = service.get("priority")
    return int(p) if isinstance(p, int) else 1  # absent: the default group


def _name(service: dict[str, Any]) -> str:
    return str(service.get("id", "?")).rsplit("/", 1)[-1]


def _describe_rule(rule: dict[str, Any]) -> str:
    cond = rule.get("failureCondition") or {}
    codes = ", ".join(f"{r.get('min')}-{r.get('max')}" for r in cond.get("statusCodeRanges") or [])
    limit = (
        f"{cond['count']} failures" if cond.get("count") is not None else None
    ) or f"{cond.get('percentage')} % failures"
    return (
        f"circuit breaker {rule.get('name') or '?'}: trips on {limit}"
        + (f" (status {codes})" if codes else "")
        + f" within {cond.get('interval') or '?'}, for {rule.get('tripDuration') or '?'}; "
        "while tripped its traffic goes to the other members"
    )


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
