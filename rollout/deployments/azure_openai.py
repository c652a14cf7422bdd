"""Deployments `azure-openai`: the Azure OpenAI deployments behind the router (see __init__).

Options (full example in examples/azure/plan.yaml): subscription_id, resource_group, account;
create (make the candidate's deployment if missing, with `sku: {name, capacity}`); capacity:
fixed | follow-weight (each deployment gets ceil(sku.capacity * weight%) within min_capacity..
max_capacity); finalize: keep | scale_down | delete | {keep_baseline: 24h, then: ...}.
Each variant's `target` is its deployment name; `model` / `model_version` are checked against
it. Uses azure-mgmt-cognitiveservices (api-version pinned by the SDK) and DefaultAzureCredential;
Azure errors come out as AzureError (code, message, request id).

Quota is per subscription, region and model SKU, shared by every account in the region: the
region's model catalogue (`models.list(location)`) names each SKU's usage (`usageName`, e.g.
OpenAI.GlobalStandard.gpt-4o) and the subscription's regional usages (`usages.list(location)`)
say `limit - currentValue`, which must cover any capacity we add. The check is never skipped:
a SKU whose usage cannot be named, or a usage the region does not report, is an error that
names the plan field to set (`quota_usage.<variant>`). The same catalogue gives each SKU's
capacity rules (minimum, step, maximum - e.g. 50 and 50 PTU for ProvisionedManaged), and
follow-weight rounds every capacity up to the step and clamps it to the minimum and maximum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rollout.durations import parse_duration
from rollout.errors import ProviderError
from rollout.records import VARIANTS, Weights
from rollout.registry import BuildContext

DUE_TAG = "rollout-finalize-after"  # on the old baseline: when finalize may act (ISO time, UTC)


class Sku(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "GlobalStandard"
    capacity: int = Field(ge=1)


class Finalize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_baseline: Annotated[int, BeforeValidator(parse_duration)] = 0
    then: Literal["keep", "scale_down", "delete"] | None = None

    @property
    def action(self) -> str:
        # `{keep_baseline: 24h}` alone: keep it 24h, then delete it.
        return self.then or ("delete" if self.keep_baseline else "keep")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_id: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    account: str = Field(min_length=1)
    create: bool = False
    sku: Sku | None = None
    capacity: Literal["fixed", "follow-weight"] = "fixed"
    min_capacity: int = Field(default=1, ge=1)
    max_capacity: int | None = Field(default=None, ge=1)
    finalize: Annotated[
        Finalize, BeforeValidator(lambda v: {"then": v} if isinstance(v, str) else v)
    ] = Field(default_factory=Finalize)
    rai_policy: str | None = None  # raiPolicyName for a created deployment
    location: str | None = None  # the account's region (default: read from the account)
    # Set the baseline's versionUpgradeOption to NoAutoUpgrade in preflight, so Azure does not
    # move it to a new model version while the candidate is being canaried (see azure/upgrades).
    pin_baseline: bool = False
    # The quota usage each variant's SKU draws on, when the region's catalogue names none.
    quota_usage: dict[Literal["baseline", "candidate"], str] = Field(default_factory=dict)
    version_upgrade: Literal[
        "NoAutoUpgrade", "OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired"
    ] = "NoAutoUpgrade"

    @model_validator(mode="after")
    def _rules(self) -> Config:
        if (self.create or self.capacity == "follow-weight") and self.sku is None:
            raise ValueError("create: true and capacity: follow-weight need sku: {name, capacity}")
        if self.max_capacity is not None and self.max_capacity < self.min_capacity:
            raise ValueError(
                f"max_capacity ({self.max_capacity}) is below min_capacity ({self.min_capacity})"
            )
        return self


def azure_error(exc: Exception, what: str) -> ProviderError:
    """An azure-core exception as AzureError: Azure's code and message plus the request id."""
    from rollout.azure.rest import AzureError

    status = getattr(exc, "status_code", None)
    err = getattr(exc, "error", None)
    if status is None and err is None:  # no HTTP answer: credentials, network
        return ProviderError(
            f"{what}: {type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
        )
    code = getattr(err, "code", None) or "Unknown"
    message = getattr(err, "message", None) or str(getattr(exc, "message", None) or exc)
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    rid = headers.get("x-ms-request-id") or headers.get("x-ms-correlation-request-id")
    err = AzureError(int(status or 0), str(code), str(message), rid, what)
    if int(status or 0) < 400:  # a long-running operation that ended Failed/Canceled
        err.args = (
            f"{what}: the operation failed: {code}: {message}"
            + (f" (request id {rid})" if rid else ""),
        )
    return err


class AzureOpenAIDeployments:
    def __init__(
        self,
        config: Config,
        variants: dict[str, dict[str, Any]],
        client: Any,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.variants = variants
        self.client = client  # CognitiveServicesManagementClient
        self.now = now
        self.names = {v: str((variants.get(v) or {}).get("target") or "") for v in VARIANTS}
        if missing := [v for v, n in self.names.items() if not n]:
            raise ProviderError(
                f"deployments azure-openai: variants.{missing[0]}.target must name its deployment "
                f"in account {config.account}"
            )
        self._skus: dict[tuple[str, str, str], Any] | None = (
            None  # (model, version, sku) -> ModelSku
        )
        self._location: str | None = config.location
        self._deps: dict[str, Any] = {}  # variant -> Deployment last read (dropped on change)

    # -- SDK calls, errors mapped ------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], Any], missing_ok: bool = False) -> Any:
        from azure.core.exceptions import AzureError as CoreError
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return fn()
        except CoreError as exc:
            if missing_ok and isinstance(exc, ResourceNotFoundError):
                return None
            raise azure_error(exc, f"{what} (account {self.config.account})") from exc

    def _get(self, v: str) -> Any | None:
        rg, acct, name = self.config.resource_group, self.config.account, self.names[v]
        dep = self._call(
            f"read deployment {name}",
            lambda: self.client.deployments.get(rg, acct, name),
            missing_ok=True,
        )
        if dep is not None:
            self._deps[v] = dep
        return dep

    # -- DeploymentManager ---------------------------------------------------------------------
    def preflight(self, weights: Weights) -> dict[str, str]:
        out: dict[str, str] = {}
        for v in VARIANTS:
            dep, note = self._get(v), ""
            if dep is None:
                if v == "candidate" and self.config.create:
                    dep, note = self._create(v, weights), ", created"
                else:
                    hint = " (set create: true to create it)" if v == "candidate" else ""
                    raise ProviderError(
                        f"deployment {self.names[v]!r} for the {v} not found in account "
                        f"{self.config.account}{hint}"
                    )
            self._check_model(v, dep)
            if v == "baseline" and self.config.pin_baseline:
                note += self._pin(v, dep)
            out[v] = (
                f"{self.names[v]}: {dep.properties.model.name} {dep.properties.model.version}, "
                f"{dep.sku.name} x{dep.sku.capacity}{note}"
            )
        if self.config.capacity == "follow-weight":
            self._shortfall_check(
                self._plan(weights)
            )  # the first stage must fit before anything moves
        return out

    def before_shift(self, weights: Weights) -> list[str]:
        if self.config.capacity != "follow-weight":
            return []
        forward = weights.candidate > 0
        try:
            changes = self._plan(weights)
        except ProviderError as exc:
            if forward:
                raise
            return [f"capacity not followed for this rollback: {exc}"]  # the rollback goes on
        if forward:
            self._shortfall_check(changes)  # raises: the shift does not happen
        notes: list[str] = []
        # Shrink first, so quota freed by one deployment is there for the other.
        for v, (cur, want) in sorted(changes.items(), key=lambda kv: kv[1][1] - kv[1][0]):
            try:
                self._scale(v, want)
                notes.append(f"{self.names[v]}: capacity {cur} -> {want}")
            except ProviderError as exc:
                if forward:
                    raise
                notes.append(
                    f"{self.names[v]}: could not scale {cur} -> {want}: {exc}"
                )  # a rollback goes on
        return notes

    def finalize(self) -> datetime | None:
        fin = self.config.finalize
        if fin.action == "keep":
            return None
        dep = self._get("baseline")
        if dep is None:
            return None  # already gone
        if fin.keep_baseline:
            tags = dict(dep.tags or {})
            if DUE_TAG not in tags:  # the due time lives on the resource itself, not in our state
                tags[DUE_TAG] = (self.now() + timedelta(seconds=fin.keep_baseline)).isoformat()
                self._patch("baseline", tags=tags)
            due = datetime.fromisoformat(tags[DUE_TAG])
            if self.now() < due:
                return due
        if fin.action == "delete":
            rg, acct, name = self.config.resource_group, self.config.account, self.names["baseline"]
            self._call(
                f"delete deployment {name}",
                lambda: self.client.deployments.begin_delete(rg, acct, name).result(),
            )
        else:
            self._scale("baseline", self.config.min_capacity)
        return None

    # -- helpers -------------------------------------------------------------------------------
    def _check_model(self, v: str, dep: Any) -> None:
        spec, props = self.variants.get(v) or {}, dep.properties
        model, version = props.model.name, props.model.version
        if spec.get("model") and model != spec["model"]:
            raise ProviderError(
                f"deployment {self.names[v]!r} ({v}) serves model {model!r}, the plan says "
                f"{spec['model']!r}"
            )
        if spec.get("model_version") and version != spec["model_version"]:
            raise ProviderError(
                f"deployment {self.names[v]!r} ({v}) serves {model} version {version!r}, the plan "
                f"says {spec['model_version']!r}"
            )
        if (props.provisioning_state or "Succeeded") != "Succeeded":
            raise ProviderError(
                f"deployment {self.names[v]!r} ({v}) is {props.provisioning_state}, not Succeeded; "
                "wait for it or fix it in the portal"
            )

    def _want(self, v: str, weights: Weights, model: tuple[str, str, str] | None = None) -> int:
        assert self.config.sku is not None
        full = self.config.sku.capacity
        if self.config.capacity != "follow-weight":
            return full
        lo, step, hi = self._rules(model or self._key(v))
        want = math.ceil(full * getattr(weights, v) / 100)
        want = min(self.config.max_capacity or full, want)
        want = max(self.config.min_capacity, lo, want)
        want = lo + math.ceil((want - lo) / step) * step  # a count the SKU accepts
        if hi is not None and want > hi:
            want = lo + (hi - lo) // step * step
        return want

    def _rules(self, model: tuple[str, str, str]) -> tuple[int, int, int | None]:
        """(minimum, step, maximum) capacity of a model SKU in this region's catalogue."""
        sku = self._sku(*model)
        cap = getattr(sku, "capacity", None)
        lo = int(getattr(cap, "minimum", None) or 1)
        step = max(1, int(getattr(cap, "step", None) or 1))
        hi = getattr(cap, "maximum", None)
        return lo, step, (int(hi) if hi else None)

    def _plan(self, weights: Weights) -> dict[str, tuple[int, int]]:  # variant -> (now, wanted)
        out: dict[str, tuple[int, int]] = {}
        for v in VARIANTS:
            self._deps.pop(v, None)  # read afresh: someone may have scaled it by hand
            dep = self._dep(v)
            cur, want = int(dep.sku.capacity or 0), self._want(v, weights)
            if cur != want:
                out[v] = (cur, want)
        return out

    def _region(self) -> str:
        if self._location is None:
            rg, acct = self.config.resource_group, self.config.account
            account = self._call("read account", lambda: self.client.accounts.get(rg, acct))
            self._location = str(account.location)
        return self._location

    def _sku(self, model: str, version: str, sku: str) -> Any | None:
        """The region's catalogue entry (ModelSku) of a model version's SKU, or None."""
        if self._skus is None:
            region = self._region()
            listed = self._call(
                f"list models of region {region}",
                lambda: list(self.client.models.list(region)),
            )
            self._skus = {
                (str(m.model.name), str(m.model.version), str(s.name).lower()): s
                for m in listed
                if m.model is not None
                for s in m.model.skus or []
            }
        return self._skus.get((model, version, sku.lower()))

    def _usage_name(self, v: str, model: tuple[str, str, str]) -> str:
        if v in self.config.quota_usage:
            return self.config.quota_usage[v]
        found = self._sku(*model)
        if found is not None and found.usage_name:
            return str(found.usage_name)
        name, version, sku = model
        why = "names no usage for it" if found is not None else "does not list it"
        raise ProviderError(
            f"deployments.quota_usage.{v}: the model catalogue of region {self._region()} {why} "
            f"({name} {version}, SKU {sku}), so its quota cannot be checked; set "
            f"deployments.quota_usage.{v} to the usage it draws on "
            f"(e.g. OpenAI.{sku}.{name}, as `az cognitiveservices usage list -l "
            f"{self._region()}` shows)"
        )

    def _shortfall_check(
        self,
        adds: dict[str, tuple[int, int]],
        models: dict[str, tuple[str, str, str]] | None = None,
    ) -> None:
        """Raise ProviderError naming the quota and the shortfall if the added capacity does not
        fit in the subscription's regional quota (shared by all its accounts there)."""
        need: dict[str, list[tuple[str, int]]] = {}
        for v, (cur, want) in adds.items():
            usage = self._usage_name(v, (models or {}).get(v) or self._key(v))
            need.setdefault(usage, []).append((self.names[v], want - cur))
        if not any(sum(d for _, d in parts) > 0 for parts in need.values()):
            return
        region = self._region()
        listed = self._call(
            f"list quota usages of region {region}",
            lambda: list(self.client.usages.list(region)),
        )
        usages = {u.name.value: u for u in listed if u.name is not None}
        for usage, parts in need.items():
            extra = sum(d for _, d in parts)
            if extra <= 0:
                continue
            u = usages.get(usage)
            if u is None:
                raise ProviderError(
                    f"quota {usage}: region {region} of subscription "
                    f"{self.config.subscription_id} reports no such usage, so this step's "
                    f"{extra:g} capacity cannot be checked; check the name "
                    "(deployments.quota_usage) or the account's region (deployments.location)"
                )
            free = float(u.limit or 0) - float(u.current_value or 0)
            if extra > free:
                detail = ", ".join(f"{n} {d:+d}" for n, d in parts)
                raise ProviderError(
                    f"quota {usage} in region {region} is short by {extra - free:g}: this step "
                    f"adds {extra:g} capacity ({detail}) but only {free:g} is free (limit "
                    f"{u.limit:g}, in use {u.current_value:g} by all accounts of the "
                    "subscription there); request more quota or lower sku.capacity / "
                    "max_capacity"
                )

    def _dep(self, v: str) -> Any:
        dep = self._deps.get(v) or self._get(v)
        if dep is None:
            raise ProviderError(
                f"deployment {self.names[v]!r} ({v}) no longer exists in account "
                f"{self.config.account}"
            )
        return dep

    def _create(self, v: str, weights: Weights) -> Any:
        from azure.mgmt.cognitiveservices import models as m

        assert self.config.sku is not None
        spec = self.variants.get(v) or {}
        model = (str(spec.get("model")), str(spec.get("model_version") or ""), self.config.sku.name)
        capacity = self._want(v, weights, model)
        self._shortfall_check({v: (0, capacity)}, {v: model})
        body = m.Deployment(
            sku=m.Sku(name=self.config.sku.name, capacity=capacity),
            properties=m.DeploymentProperties(
                model=m.DeploymentModel(
                    format="OpenAI", name=spec.get("model"), version=spec.get("model_version")
                ),
                rai_policy_name=self.config.rai_policy,
                version_upgrade_option=self.config.version_upgrade,
            ),
        )
        rg, acct, name = self.config.resource_group, self.config.account, self.names[v]
        # begin_create_or_update is a long-running operation: result() polls it to the end.
        return self._call(
            f"create deployment {name}",
            lambda: self.client.deployments.begin_create_or_update(rg, acct, name, body).result(),
        )

    def _pin(self, v: str, dep: Any) -> str:
        """PUT the deployment back as it is, with versionUpgradeOption NoAutoUpgrade (PATCH
        cannot change it). Returns the note for preflight's summary."""
        if dep.properties.version_upgrade_option == "NoAutoUpgrade":
            return ", pinned"
        dep.properties.version_upgrade_option = "NoAutoUpgrade"
        rg, acct, name = self.config.resource_group, self.config.account, self.names[v]
        self._call(
            f"pin deployment {name} (versionUpgradeOption NoAutoUpgrade)",
            lambda: self.client.deployments.begin_create_or_update(rg, acct, name, dep).result(),
        )
        self._deps.pop(v, None)
        return ", pinned now (was auto-upgrading)"

    def _key(self, v: str) -> tuple[str, str, str]:
        d = self._dep(v)
        return str(d.properties.model.name), str(d.properties.model.version), str(d.sku.name)

    def _scale(self, v: str, capacity: int) -> None:
        self._patch(v, sku={"name": self._dep(v).sku.name, "capacity": capacity})

    def _patch(
        self, v: str, *, sku: dict[str, Any] | None = None, tags: dict[str, str] | None = None
    ) -> None:
        from azure.mgmt.cognitiveservices import models as m

        body = m.PatchResourceTagsAndSku(sku=m.Sku(**sku) if sku else None, tags=tags)
        rg, acct, name = self.config.resource_group, self.config.account, self.names[v]
        self._call(
            f"update deployment {name}",
            lambda: self.client.deployments.begin_update(rg, acct, name, body).result(),
        )
        self._deps.pop(v, None)


def build(config: Config, ctx: BuildContext) -> AzureOpenAIDeployments:
    try:
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    except ModuleNotFoundError as exc:
        raise ProviderError(
            "deployments azure-openai needs the azure extra: pip install 'rollout-llm[azure]'"
        ) from exc
    from rollout.azure.rest import default_credential
    from rollout.clock import SystemClock

    # Test hooks: an azure-core transport, or a requests session with a fake adapter mounted.
    kwargs: dict[str, Any] = dict(ctx.extra.get("azure_sdk_options") or {})
    if ctx.extra.get("azure_transport") is not None:
        kwargs["transport"] = ctx.extra["azure_transport"]
    elif ctx.extra.get("requests_session") is not None:
        from azure.core.pipeline.transport import RequestsTransport

        kwargs["transport"] = RequestsTransport(
            session=ctx.extra["requests_session"], session_owner=False
        )
    credential = ctx.extra.get("azure_credential") or default_credential()
    client = CognitiveServicesManagementClient(credential, config.subscription_id, **kwargs)
    clock = ctx.extra.get("clock") or SystemClock()
    return AzureOpenAIDeployments(config, ctx.variants, client, clock.now)
