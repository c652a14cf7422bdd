"""Router `azure-appconfig`: a variant feature flag in Azure App Configuration.

    router:
      type: azure-appconfig
      endpoint: https://my-store.azconfig.io
      flag: support-bot-model        # key .appconfig.featureflag/support-bot-model
      label: prod                    # optional
      create: false                  # create the flag if it is missing
      audience: null                 # Entra ID audience; default inferred from the endpoint
      connection_string_env: null    # or: the env var holding a connection string (HMAC)
      take_over_filters: false       # true: clear the flag's client filters while rolling out

The flag follows the Microsoft Feature Management schema (v2): `variants` named by each
variant's `target` (default: baseline / candidate) and `allocation.percentile` ranges
[{variant, from, to}], which is what an app using the Feature Management library evaluates.
Users stay on their variant across steps: the library hashes user id + `allocation.seed`, and we
keep the seed stable (set to the rollout name when absent) and grow the candidate's range from
the top (baseline [0, b), candidate [b, 100)), so the candidate's users only ever gain members.

The data plane goes through Microsoft's `azure-appconfiguration` SDK: it echoes `Sync-Token`
(so a read after our write is not served stale by a replica), infers the Entra ID audience of
sovereign clouds from the endpoint (`audience:` overrides it) and signs with HMAC when a
connection string is given. Writes are optimistic: If-Match on the ETag we read, re-read and
re-apply on 412; each PUT attempt is fenced. Retries (429, 5xx) are ours, with the injected
sleep; the SDK's own are off.

Client filters: the library applies `conditions.client_filters` *before* the allocation: a user
the filters turn away gets `default_when_disabled`. With a 50 % Targeting filter and the
allocation at 25 %, the candidate gets 12.5 %. So a flag with filters is refused with that
reason, or (`take_over_filters: true`) its filters are cleared on the first write and kept in
the tag `rollout-taken-over-filters` so a person can put them back. get_weights reports what a
filtered flag serves when it can tell (Microsoft.Targeting's default rollout percentage) and
says why when it cannot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout import fencing
from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

FF_PREFIX = ".appconfig.featureflag/"
FF_CONTENT_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"
TAKEN_OVER_TAG = "rollout-taken-over-filters"
TARGETING = {"microsoft.targeting", "targeting"}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str | None = None  # https://<store>.azconfig.io
    flag: str = Field(min_length=1)
    label: str | None = None
    create: bool = False
    api_version: str | None = None  # default: the SDK's
    audience: str | None = None  # e.g. https://appconfig.azure.us for Azure Government
    connection_string_env: str | None = None  # name of the env var; never the string itself
    take_over_filters: bool = False
    conflict_retries: int = Field(default=5, ge=1, le=20)
    attempts: int = Field(default=5, ge=1, le=20)  # per request: 429 and 5xx retried

    @field_validator("endpoint")
    @classmethod
    def _https(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("https://"):
            raise ValueError(
                "must be an https:// App Configuration endpoint, e.g. https://my-store.azconfig.io"
            )
        return v.rstrip("/") if v else v

    @field_validator("audience")
    @classmethod
    def _audience(cls, v: str | None) -> str | None:
        # The SDK appends ".default" to the audience as given: make it end in one "/".
        return v.rstrip("/") + "/" if v else v

    @model_validator(mode="after")
    def _one_way_in(self) -> Config:
        if not self.endpoint and not self.connection_string_env:
            raise ValueError("give endpoint (Entra ID) or connection_string_env (HMAC)")
        return self


def _filters(flag: dict[str, Any]) -> list[dict[str, Any]]:
    conditions = flag.get("conditions") or {}
    return [f for f in conditions.get("client_filters") or [] if isinstance(f, dict)]


def _describe_filters(filters: list[dict[str, Any]]) -> str:
    parts = []
    for f in filters:
        params = f.get("parameters") or {}
        pct = (params.get("Audience") or {}).get("DefaultRolloutPercentage")
        parts.append(f"{f.get('name')}" + (f" ({pct} %)" if pct is not None else ""))
    return ", ".join(parts)


def _enabled_share(flag: dict[str, Any]) -> float | None:
    """Share of users the flag's filters let through, when it can be told (else None)."""
    filters = _filters(flag)
    if not filters:
        return 1.0
    if len(filters) != 1 or str(filters[0].get("name", "")).lower() not in TARGETING:
        return None  # several filters, custom or time-window filters: not knowable here
    audience = (filters[0].get("parameters") or {}).get("Audience") or {}
    if audience.get("Users") or audience.get("Groups") or audience.get("Exclusion"):
        return None  # named users and groups change the share by who they are
    try:
        return min(1.0, max(0.0, float(audience.get("DefaultRolloutPercentage", 0)) / 100))
    except (TypeError, ValueError):
        return None


class AppConfigFlagRouter:
    def __init__(
        self,
        config: Config,
        names: dict[str, str],
        variants: dict[str, dict[str, Any]],
        seed: str,
        client: Any,
        sleep: Callable[[float], None],
        take_over_filters: bool = False,
    ) -> None:
        self.config = config
        self.names = names  # rollout variant -> flag variant name
        self.variants = variants
        self.seed = seed
        self.client = client  # azure.appconfiguration.AzureAppConfigurationClient
        self.sleep = sleep
        self.take_over = take_over_filters or config.take_over_filters
        self.key = FF_PREFIX + config.flag
        where = config.endpoint or "the store of the connection string"
        self.where = where
        self.what = f"feature flag {config.flag!r}" + (
            f" (label {config.label})" if config.label else ""
        )

    # -- Router ----------------------------------------------------------------------------
    def get_weights(self) -> Weights:
        setting = self._get()
        if setting is None:
            if self.config.create:
                return Weights.all_baseline()  # nothing yet: the app serves its default
            raise ProviderError(
                f"{self.what} not found in {self.where}; create it or set create: true"
            )
        return self._weights_of(self._flag(setting))

    def set_weights(self, weights: Weights) -> None:
        for _ in range(self.config.conflict_retries):
            setting = self._get()
            if setting is None and not self.config.create:
                raise ProviderError(
                    f"{self.what} not found in {self.where}; create it or set create: true"
                )
            flag = (
                self._flag(setting)
                if setting is not None
                else {"id": self.config.flag, "enabled": True}
            )
            tags = dict(getattr(setting, "tags", None) or {})
            filters = _filters(flag)
            if filters and not self.take_over:
                raise ProviderError(f"{self.what}: {self._filters_reason(flag)}")
            new = self._apply(json.loads(json.dumps(flag)), weights)
            if filters:
                new.setdefault("conditions", {})["client_filters"] = []
                tags.setdefault(TAKEN_OVER_TAG, json.dumps(filters, separators=(",", ":")))
            if new == flag:
                return  # already there: idempotent, no write
            try:
                self._write(self._setting(new, tags), None if setting is None else setting.etag)
                return
            except _Conflict:
                continue  # changed (or created) by someone else since our GET: re-apply
        raise ProviderError(
            f"{self.what}: kept changing under us "
            f"(HTTP 412 {self.config.conflict_retries} times); retry when it is quiet"
        )

    def _write(self, out: Any, etag: str | None) -> None:
        """Create (If-None-Match: *) or update (If-Match: etag); 412 raises _Conflict."""
        from azure.core import MatchConditions

        if etag is None:
            self._call(
                f"create {self.what}",
                lambda: self.client.add_configuration_setting(out),
                write=True,
            )
        else:
            self._call(
                f"update {self.what}",
                lambda: self.client.set_configuration_setting(
                    out, match_condition=MatchConditions.IfNotModified, etag=etag
                ),
                write=True,
            )

    # -- what is served ----------------------------------------------------------------------
    def served(self, window: Any = None) -> Weights:
        """The split the Feature Management library serves from this flag (filters included)."""
        return self.get_weights()

    def causes(self) -> list[str]:
        setting = self._get()
        if setting is None:
            return []
        flag = self._flag(setting)
        out = []
        if _filters(flag):
            out.append(f"App Configuration: {self.what}: {self._filters_reason(flag)}")
        if not flag.get("enabled"):
            out.append(
                f"App Configuration: {self.what} is disabled: everyone gets default_when_disabled"
            )
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _filters_reason(self, flag: dict[str, Any]) -> str:
        filters = _filters(flag)
        share = _enabled_share(flag)
        effect = (
            f"only {share * 100:g} % of users reach the allocation, so the candidate gets "
            f"{share:g} x its weight"
            if share is not None
            else "which users reach the allocation depends on them"
        )
        return (
            f"the flag has client filters ({_describe_filters(filters)}); the Feature "
            "Management library applies them before the allocation and gives everyone they "
            f"turn away default_when_disabled: {effect}. Remove the filters, or set "
            "take_over_filters: true to clear them while the rollout owns the flag"
        )

    def _call(self, what: str, fn: Callable[[], Any], write: bool = False) -> Any:
        """fn() with retries on 429/5xx and transport errors; Azure errors as ProviderError."""
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ServiceRequestError,
            ServiceResponseError,
        )

        from rollout.retry import RETRY_STATUS, backoff, retry_after_seconds

        attempts = self.config.attempts
        for attempt in range(1, attempts + 1):
            if write:
                fencing.check()  # a write that lost the race (abort, pause) is never sent
            try:
                return fn()
            except (ResourceModifiedError, ResourceExistsError) as exc:
                raise _Conflict() from exc
            except (ServiceRequestError, ServiceResponseError) as exc:
                if attempt == attempts:
                    raise ProviderError(
                        f"{what}: {type(exc).__name__}: {exc} (after {attempts} attempts)"
                    ) from exc
                self.sleep(backoff(attempt))
            except HttpResponseError as exc:
                status = int(exc.status_code or 0)
                if status == 412:
                    raise _Conflict() from exc
                if status in RETRY_STATUS and attempt < attempts:
                    headers = getattr(exc.response, "headers", None) or {}
                    wait = retry_after_seconds(headers)
                    self.sleep(min(60.0, wait if wait is not None else backoff(attempt)))
                    continue
                raise ProviderError(f"{what} in {self.where}: {_problem(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self) -> Any | None:
        from azure.core.exceptions import ResourceNotFoundError

        def read() -> Any:
            try:
                return self.client.get_configuration_setting(key=self.key, label=self.config.label)
            except ResourceNotFoundError:
                return None

        return self._call(f"read {self.what}", read)

    def _setting(self, flag: dict[str, Any], tags: dict[str, str]) -> Any:
        from azure.appconfiguration import ConfigurationSetting

        # A plain setting keeps our JSON as written (the SDK's FeatureFlag model rewrites it).
        return ConfigurationSetting(
            key=self.key,
            label=self.config.label,
            value=json.dumps(flag),
            content_type=FF_CONTENT_TYPE,
            tags=tags,
        )

    def _flag(self, setting: Any) -> dict[str, Any]:
        try:
            flag = json.loads(setting.value or "")
        except ValueError as exc:
            raise ProviderError(f"{self.what}: value is not a feature flag (not JSON)") from exc
        if not isinstance(flag, dict):
            raise ProviderError(f"{self.what}: value is not a feature flag object")
        # The SDK's FeatureFlag model adds null display_name / description / client_filters
        # when the stored flag has none: null means absent.
        for k in ("display_name", "description"):
            if k in flag and flag[k] is None:
                del flag[k]
        cond = flag.get("conditions")
        if isinstance(cond, dict) and cond.get("client_filters") is None:
            cond.pop("client_filters", None)
            if not cond:
                del flag["conditions"]
        return flag

    def _weights_of(self, flag: dict[str, Any]) -> Weights:
        alloc = flag.get("allocation") or {}
        by_name = {n: v for v, n in self.names.items()}
        disabled_to = by_name.get(str(alloc.get("default_when_disabled")), "baseline")
        if not flag.get("enabled"):
            # A disabled flag gives everyone default_when_disabled, whatever the percentiles say.
            return Weights.of(100 if disabled_to == "candidate" else 0)
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
                    f"{self.what}: allocation gives {width:g}% to variant {variant!r}, which "
                    f"is not in the plan (plan variants: {', '.join(self.names.values())})"
                )
            share[by_name[variant]] += width
            covered += width
        # Users outside every range get default_when_enabled (the library's rule).
        default = by_name.get(str(alloc.get("default_when_enabled")), "baseline")
        share[default] += max(0.0, 100.0 - covered)
        enabled = _enabled_share(flag)
        if enabled is None:
            raise ProviderError(
                f"{self.what}: cannot tell the split it serves: " + (self._filters_reason(flag))
            )
        cand = enabled * share["candidate"] + (1 - enabled) * (
            100.0 if disabled_to == "candidate" else 0.0
        )
        return Weights.of(round(cand))

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


class _Conflict(Exception):
    """HTTP 412: the flag changed (or appeared) since we read it."""


def _problem(exc: Any) -> str:
    """Azure's problem+json {title, detail} (or the SDK's message) with the status."""
    status = getattr(exc, "status_code", None)
    text = ""
    try:
        body = json.loads(exc.response.text())
        text = ": ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
    except Exception:  # no body, not JSON: the SDK's own message below
        pass
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    rid = headers.get("x-ms-request-id") or headers.get("x-ms-correlation-request-id")
    msg = text or str(getattr(exc, "message", None) or exc).splitlines()[0]
    return f"HTTP {status} {msg}" + (f" (request id {rid})" if rid else "")


def build(config: Config, ctx: BuildContext) -> AppConfigFlagRouter:
    try:
        from azure.appconfiguration import AzureAppConfigurationClient
    except ModuleNotFoundError as exc:
        raise ProviderError(
            "azure-appconfig needs the azure extra: pip install 'rollout-llm[azure]'"
        ) from exc
    from rollout.clock import SystemClock

    names = {v: str((ctx.variants.get(v) or {}).get("target") or v) for v in VARIANTS}
    if names["baseline"] == names["candidate"]:
        raise ProviderError(
            f"azure-appconfig: both variants map to flag variant {names['baseline']!r}; "
            "give them different targets"
        )
    # Test hooks as for deployments: an azure-core transport, or a requests session.
    kwargs: dict[str, Any] = {"retry_total": 0}  # we retry, with the injected sleep
    kwargs.update(ctx.extra.get("azure_sdk_options") or {})
    if ctx.extra.get("azure_transport") is not None:
        kwargs["transport"] = ctx.extra["azure_transport"]
    elif ctx.extra.get("requests_session") is not None:
        from azure.core.pipeline.transport import RequestsTransport

        kwargs["transport"] = RequestsTransport(
            session=ctx.extra["requests_session"], session_owner=False
        )
    if config.api_version:
        kwargs["api_version"] = config.api_version
    if config.connection_string_env:
        conn = os.environ.get(config.connection_string_env)
        if not conn:
            raise ProviderError(
                f"azure-appconfig: environment variable {config.connection_string_env} "
                "(connection_string_env) is not set"
            )
        client = AzureAppConfigurationClient.from_connection_string(conn, **kwargs)
    else:
        from rollout.azure.rest import default_credential

        assert config.endpoint is not None
        credential = ctx.extra.get("azure_credential") or default_credential()
        if config.audience:
            kwargs["audience"] = config.audience
        client = AzureAppConfigurationClient(config.endpoint, credential, **kwargs)
    sleep: Callable[[float], None] = ctx.extra.get("sleep") or SystemClock().sleep
    return AppConfigFlagRouter(
        config,
        names,
        ctx.variants,
        ctx.plan_name,
        client,
        sleep,
        take_over_filters=bool(ctx.extra.get("take_over_filters")),
    )
