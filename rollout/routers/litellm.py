"""Router `litellm`: the weights of two deployments in one model group of a LiteLLM proxy.

    router:
      type: litellm
      url: http://127.0.0.1:4000           # the proxy
      model_group: support-bot             # the model_name clients call
      api_key_env: LITELLM_MASTER_KEY      # a key allowed to manage models (never literal)
      members: {baseline: gpt4o-support, candidate: gpt41-support}   # optional

Each variant's deployment is the group member whose `model_info.id` (or `litellm_params.model`)
is `members[v]`, else the variant's `target`. Endpoints, read from LiteLLM's proxy source
(litellm/proxy/proxy_server.py, management_endpoints/model_management_endpoints.py,
router_settings_endpoints.py; release 1.82.6):

    GET   /model/info               -> {"data": [{model_name, litellm_params, model_info}]}
    GET   /router/settings          -> {"current_values": {"routing_strategy": ...}}
    PATCH /model/{model_id}/update  {"litellm_params": {"weight": w}}   (merged into the model)
    GET   /metrics/                 Prometheus text (with `callbacks: ["prometheus"]`)

What LiteLLM serves, from its router (litellm/router_strategy/simple_shuffle.py): only the
`simple-shuffle` strategy honours `weight`, relative within the group, and only when the first
healthy deployment has one (else rpm/tpm, else an even pick). So both members always carry a
weight, other members of the group that would take traffic are refused, and any other routing
strategy is refused with the reason. A deployment LiteLLM has put in cooldown (after
`allowed_fails`) gets nothing until the cooldown ends: that shows in `served`, which counts
`litellm_deployment_total_requests` per model_id from the proxy's own metrics.

LiteLLM changes a model only if it is stored in the proxy's database (`STORE_MODEL_IN_DB=True`,
models added with `/model/new`); models from its config file are read-only, and a proxy
without a database refuses every change. Both come back as an error that says so.
Writes lower the weight that falls first, so a half-applied shift (one PATCH of two) always
serves a split between the old and the new one; each PATCH attempt is fenced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

WEIGHTED = {"simple-shuffle", None}
METRIC = "litellm_deployment_total_requests"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1)
    model_group: str = Field(min_length=1)
    api_key_env: str | None = None
    members: dict[Literal["baseline", "candidate"], str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=4, ge=1, le=20)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be the proxy's http(s):// base URL, e.g. http://127.0.0.1:4000")
        return v.rstrip("/")


class LiteLLMRouter:
    def __init__(
        self,
        config: Config,
        targets: dict[str, str],
        http: Any,
        sleep: Callable[[float], None],
        headers: dict[str, str],
    ) -> None:
        self.config = config
        self.targets = targets  # variant -> model id (or litellm_params.model)
        self.http = http  # httpx.Client
        self.sleep = sleep
        self.headers = headers
        self.what = f"LiteLLM proxy {config.url} model group {config.model_group!r}"
        self._last: dict[str, float] | None = None  # counters at the last served() call

    # -- Router ----------------------------------------------------------------------------
    def get_weights(self) -> Weights:
        self._check_strategy()
        return self._weights_of(self._group())

    def set_weights(self, weights: Weights) -> None:
        self._check_strategy()
        group = self._group()
        index = self._members(group)
        self._check_others(group, index)
        wanted = {v: getattr(weights, v) for v in VARIANTS}
        have = {v: group[i]["litellm_params"].get("weight") for v, i in index.items()}
        todo = [v for v in VARIANTS if have[v] != wanted[v]]
        # The weight that falls goes first: a half-applied shift serves a split in between.
        todo.sort(key=lambda v: wanted[v] - _num(have[v]))
        for v in todo:
            model_id = str((group[index[v]].get("model_info") or {}).get("id"))
            self._request(
                "PATCH",
                f"/model/{model_id}/update",
                what=f"set weight {wanted[v]} on {v} deployment {model_id}",
                json={"litellm_params": {"weight": wanted[v]}},
                write=True,
            )

    # -- what is served ----------------------------------------------------------------------
    def served(self, window: Any = None) -> Weights | None:
        """The split served since the last call, from the proxy's Prometheus counters of
        requests per deployment (None when no request reached either member meanwhile)."""
        counts = self.request_counts()
        last, self._last = self._last, counts
        if last is None:
            last = {}
        delta = {v: counts.get(v, 0.0) - last.get(v, 0.0) for v in VARIANTS}
        total = delta["baseline"] + delta["candidate"]
        if total <= 0:
            return None
        return Weights.of(round(100 * delta["candidate"] / total))

    def request_counts(self) -> dict[str, float]:
        """Requests LiteLLM sent to each member so far (its `litellm_deployment_total_requests`
        counter, summed over the other labels)."""
        group = self._group()
        ids = {
            str((group[i].get("model_info") or {}).get("id")): v
            for v, i in self._members(group).items()
        }
        text = self._request("GET", "/metrics/", what="read metrics", ok=(200,)).text
        counts = {v: 0.0 for v in VARIANTS}
        found = False
        for line in text.splitlines():
            m = _SAMPLE.match(line)
            if not m or m["name"] not in (METRIC, METRIC + "_total"):
                continue
            found = True
            labels = dict(_LABEL.findall(m["labels"] or ""))
            if labels.get("requested_model") not in (None, self.config.model_group):
                continue
            v = ids.get(labels.get("model_id", ""))
            if v is not None:
                counts[v] += float(m["value"])
        if not found and METRIC not in text:
            raise ProviderError(
                f"{self.what}: its /metrics has no {METRIC}; enable LiteLLM's Prometheus "
                'metrics (litellm_settings: callbacks: ["prometheus"])'
            )
        return counts

    def causes(self) -> list[str]:
        out: list[str] = []
        try:
            self._check_strategy()
        except ProviderError as exc:
            out.append(f"LiteLLM: {exc}")
        settings = self._settings()
        if settings and not settings.get("disable_cooldowns"):
            out.append(
                f"LiteLLM: a deployment that fails {settings.get('allowed_fails')} times in a "
                f"minute is cooled down for {settings.get('cooldown_time')} s and gets no traffic "
                "meanwhile, whatever its weight"
            )
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        ok: tuple[int, ...] = (200,),
        write: bool = False,
        **kwargs: Any,
    ) -> Any:
        from rollout.retry import send_with_retry

        url = self.config.url + path

        def send() -> Any:
            return self.http.request(method, url, headers=self.headers, **kwargs)

        resp = send_with_retry(
            send,
            what=f"{self.what}: {what}",
            sleep=self.sleep,
            attempts=self.config.attempts,
            write=write,
        )
        if resp.status_code not in ok:
            raise ProviderError(f"{self.what}: {what}: {_error(resp)}")
        return resp

    def _settings(self) -> dict[str, Any] | None:
        resp = self._request("GET", "/router/settings", what="read router settings", ok=(200, 404))
        if resp.status_code == 404:
            return None  # proxies before /router/settings: simple-shuffle unless configured
        values = _json(resp, self.what).get("current_values")
        return values if isinstance(values, dict) else {}

    def _check_strategy(self) -> None:
        settings = self._settings()
        strategy = (settings or {}).get("routing_strategy")
        if strategy not in WEIGHTED:
            raise ProviderError(
                f"{self.what}: routing_strategy is {strategy!r}, which ignores deployment "
                "weights (only simple-shuffle honours them); set router_settings: "
                "routing_strategy: simple-shuffle"
            )

    def _group(self) -> list[dict[str, Any]]:
        body = _json(self._request("GET", "/model/info", what="read models"), self.what)
        data = body.get("data")
        if not isinstance(data, list):
            raise ProviderError(f"{self.what}: /model/info answered no data list")
        group = [
            d
            for d in data
            if isinstance(d, dict) and d.get("model_name") == self.config.model_group
        ]
        if not group:
            names = sorted({str(d.get("model_name")) for d in data if isinstance(d, dict)})
            raise ProviderError(
                f"{self.what}: no such model group (the proxy has: {', '.join(names) or 'none'})"
            )
        for d in group:
            d.setdefault("litellm_params", {})
        return group

    def _members(self, group: list[dict[str, Any]]) -> dict[str, int]:
        index: dict[str, int] = {}
        for v in VARIANTS:
            t = self.targets[v]
            for i, d in enumerate(group):
                if str((d.get("model_info") or {}).get("id")) == t:
                    index[v] = i
                    break
            else:
                by_model = [i for i, d in enumerate(group) if d["litellm_params"].get("model") == t]
                if len(by_model) != 1:
                    ids = ", ".join(str((d.get("model_info") or {}).get("id")) for d in group)
                    raise ProviderError(
                        f"{self.what} has no deployment {t!r} for variant {v} (model ids: "
                        f"{ids}); set members.{v} (or variants.{v}.target) to one of them"
                    )
                index[v] = by_model[0]
        if index["baseline"] == index["candidate"]:
            raise ProviderError(f"{self.what}: baseline and candidate are the same deployment")
        return index

    def _check_others(self, group: list[dict[str, Any]], index: dict[str, int]) -> None:
        ours = set(index.values())
        busy = [
            str((d.get("model_info") or {}).get("id"))
            for i, d in enumerate(group)
            if i not in ours and _num(d["litellm_params"].get("weight", 1)) > 0
        ]
        if busy:
            raise ProviderError(
                f"{self.what} has deployments outside the plan that take traffic: "
                f"{', '.join(busy)}; give them weight 0 or move them to another model group"
            )

    def _weights_of(self, group: list[dict[str, Any]]) -> Weights:
        index = self._members(group)
        self._check_others(group, index)
        raw = {v: group[i]["litellm_params"].get("weight") for v, i in index.items()}
        if all(w is None for w in raw.values()):
            if any(
                group[i]["litellm_params"].get(k) is not None
                for i in index.values()
                for k in ("rpm", "tpm")
            ):
                raise ProviderError(
                    f"{self.what}: no weights, so LiteLLM splits by rpm/tpm; set weights first"
                )
            return Weights(baseline=50, candidate=50)  # an even pick between the two
        if any(w is None for w in raw.values()):
            raise ProviderError(
                f"{self.what}: only one member has a weight, so what LiteLLM serves depends on "
                "which it lists first; set both"
            )
        b, c = _num(raw["baseline"]), _num(raw["candidate"])
        if b + c <= 0:
            raise ProviderError(f"{self.what}: both members have weight 0, so it serves nothing")
        return Weights.of(round(100 * c / (b + c)))


_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>[-+\deE.]+|NaN)"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _num(v: Any) -> float:
    try:
        return float(v or 0)
    except (TypeError, ValueError):
        return 0.0


def _json(resp: Any, what: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError as exc:
        raise ProviderError(f"{what}: the answer is not JSON: {resp.text[:200]!r}") from exc
    if not isinstance(body, dict):
        raise ProviderError(f"{what}: unexpected answer {str(body)[:200]!r}")
    return body


def _error(resp: Any) -> str:
    """LiteLLM's error bodies: {"detail": {"error": ...}} (HTTPException) or
    {"error": {"message", "type", "code"}} (ProxyException)."""
    text = resp.text[:300]
    try:
        body = resp.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(detail, dict):
            text = str(detail.get("error") or detail)
        elif isinstance(detail, str):
            text = detail
        elif isinstance(err, dict):
            text = str(err.get("message") or err)
        elif isinstance(err, str):
            text = err
    except ValueError:
        pass
    hint = ""
    low = text.lower()
    if "db not connected" in low or "no db connected" in low or "store_model_in_db" in low:
        hint = (
            "; LiteLLM changes models only in its database: run the proxy with DATABASE_URL "
            "and STORE_MODEL_IN_DB=True and add both deployments with /model/new"
        )
    elif "config-based model" in low:
        hint = "; the deployment comes from the proxy's config file: add it with /model/new"
    return f"HTTP {resp.status_code}: {text}{hint}"


def build(config: Config, ctx: BuildContext) -> LiteLLMRouter:
    import httpx

    from rollout.clock import SystemClock

    members: dict[str, str] = {str(k): v for k, v in config.members.items()}
    targets = {
        v: str(members.get(v) or (ctx.variants.get(v) or {}).get("target") or v) for v in VARIANTS
    }
    headers: dict[str, str] = {}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ProviderError(
                f"litellm: environment variable {config.api_key_env} (api_key_env) is not set"
            )
        headers["Authorization"] = f"Bearer {key}"
    http = httpx.Client(
        transport=ctx.extra.get("http_transport"),
        timeout=config.timeout,
        follow_redirects=True,
    )
    sleep: Callable[[float], None] = ctx.extra.get("sleep") or SystemClock().sleep
    return LiteLLMRouter(config, targets, http, sleep, headers)
