"""Canary Azure's own model upgrades instead of taking them all at once.

Azure OpenAI moves a whole deployment to a new model version when its `versionUpgradeOption`
allows it: `OnceNewDefaultVersionAvailable` within weeks of a new default version,
`OnceCurrentVersionExpired` when the current version retires. Every user moves at once, with
no canary. This module finds the deployments of an account that have a newer default version
available or an upgrade coming (the account's model list: `isDefaultVersion`, `deprecation.
inference`, and with SDK 14 `replacementConfig`), and writes a plan that creates the candidate
deployment at the new version with `NoAutoUpgrade`, pins the baseline (`pin_baseline`), and
rolls out with the error-rate and latency gates of examples/azure/plan.yaml.

    upgrades = find_upgrades(client, resource_group, account)   # CognitiveServicesManagementClient
    print(describe(upgrades))
    text = canary_plan(upgrades[0], subscription_id=..., resource_group=..., account=...)

Versions of Azure OpenAI models are dates (`2024-08-06`), so "newer" compares them as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AUTO = {"OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired"}


@dataclass(frozen=True)
class Upgrade:
    deployment: str
    model: str
    version: str
    upgrade_option: str | None  # the deployment's versionUpgradeOption
    to_model: str
    to_version: str
    sku: str
    capacity: int
    reasons: tuple[str, ...] = field(default_factory=tuple)
    when: str | None = None  # when Azure moves it (ISO date), when known

    @property
    def automatic(self) -> bool:
        """Azure will move the whole deployment itself (no canary) unless something is done."""
        return self.upgrade_option in AUTO

    @property
    def candidate_name(self) -> str:
        base = self.deployment
        if self.to_model != self.model:
            base = f"{base}-{self.to_model}"
        return f"{base}-{self.to_version}".replace(".", "-")[:64]


def _day(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:10]


def find_upgrades(client: Any, resource_group: str, account: str) -> list[Upgrade]:
    """Deployments of `account` with a newer default version or a scheduled upgrade."""
    models = list(client.accounts.list_models(resource_group, account))
    out: list[Upgrade] = []
    for dep in client.deployments.list(resource_group, account):
        props = dep.properties
        if props is None or props.model is None:
            continue
        name, version = str(props.model.name), str(props.model.version or "")
        option = getattr(props, "version_upgrade_option", None)
        same = [m for m in models if str(m.name) == name]
        current = next((m for m in same if str(m.version) == version), None)
        default = next((m for m in same if getattr(m, "is_default_version", False)), None)
        reasons: list[str] = []
        to_model, to_version, when = name, "", None
        if default is not None and str(default.version) > version:
            to_version = str(default.version)
            reasons.append(f"{name} {to_version} is the new default version")
            if option == "OnceNewDefaultVersionAvailable":
                reasons.append(
                    "versionUpgradeOption OnceNewDefaultVersionAvailable: Azure moves the whole "
                    "deployment to it, with no canary"
                )
        retire = _day(getattr(getattr(current, "deprecation", None), "inference", None))
        if retire:
            reasons.append(f"{name} {version} retires for inference on {retire}")
            when = retire
            if option in AUTO:
                reasons.append(f"versionUpgradeOption {option}: Azure upgrades it by then")
        replacement = getattr(current, "replacement_config", None)
        if replacement is not None and getattr(replacement, "target_model_name", None):
            to_model = str(replacement.target_model_name)
            to_version = str(replacement.target_model_version or to_version)
            start = _day(getattr(replacement, "auto_upgrade_start_date", None))
            reasons.append(
                f"Azure schedules an upgrade to {to_model} {to_version}"
                + (f" from {start}" if start else "")
            )
            when = start or when
        if not reasons:
            continue
        if not to_version:  # retiring with no newer default known: the newest listed version
            newer = sorted((str(m.version) for m in same if str(m.version) > version), reverse=True)
            if not newer:
                reasons.append("no newer version is listed yet: nothing to canary")
                continue
            to_version = newer[0]
        out.append(
            Upgrade(
                deployment=str(dep.name),
                model=name,
                version=version,
                upgrade_option=option,
                to_model=to_model,
                to_version=to_version,
                sku=str(dep.sku.name),
                capacity=int(dep.sku.capacity or 1),
                reasons=tuple(reasons),
                when=when,
            )
        )
    return out


def describe(upgrades: list[Upgrade]) -> str:
    """One paragraph per deployment, for a terminal."""
    if not upgrades:
        return "no deployment has a newer model version available or an upgrade scheduled"
    lines = []
    for u in upgrades:
        head = f"{u.deployment}: {u.model} {u.version} -> {u.to_model} {u.to_version}"
        if u.automatic:
            head += " (Azure will do it itself, all traffic at once)"
        lines.append(head)
        lines += [f"  - {r}" for r in u.reasons]
        lines.append(f"  canary it: a plan creating {u.candidate_name} with NoAutoUpgrade")
    return "\n".join(lines)


def canary_plan(
    u: Upgrade,
    *,
    subscription_id: str,
    resource_group: str,
    account: str,
    apim_service: str = "apim-llm",
    pool: str = "aoai-pool",
) -> str:
    """A plan (YAML text) that canaries the upgrade: the candidate deployment at the new
    version, created with NoAutoUpgrade; the baseline pinned; the LLM gates."""
    arm = (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{account}"
    )
    target = "'{{ target }}'"
    return f"""\
# Canary of Azure's upgrade of {u.deployment}: {u.model} {u.version} -> {u.to_model} {u.to_version}
# {"; ".join(u.reasons)}
# Written by rollout; review the router members (APIM backends) before applying.
apiVersion: rollout/v1
kind: Plan
name: upgrade-{u.candidate_name}
description: canary of {u.to_model} {u.to_version} before Azure moves {u.deployment} itself
variants:
  baseline:  {{model: {u.model}, model_version: "{u.version}", target: {u.deployment}}}
  candidate: {{model: {u.to_model}, model_version: "{u.to_version}", target: {u.candidate_name}}}

router:
  type: azure-apim
  subscription_id: "{subscription_id}"
  resource_group: "{resource_group}"
  service: {apim_service}
  pool: {pool}
  members: {{baseline: {u.deployment}, candidate: {u.candidate_name}}}

deployments:
  type: azure-openai
  subscription_id: "{subscription_id}"
  resource_group: "{resource_group}"
  account: {account}
  create: true                     # the candidate, at the new version
  sku: {{name: {u.sku}, capacity: {u.capacity}}}
  version_upgrade: NoAutoUpgrade   # the candidate is never moved by Azure either
  pin_baseline: true               # the baseline stops following Azure's upgrade meanwhile
  finalize: {{keep_baseline: 24h, then: delete}}

metrics:
  type: azure-monitor
  resource_id: {arm}
  interval: PT1M
  lag: 3m

gates:
  - name: error-rate
    kind: proportion
    events: >-
      AzureOpenAIRequests:total where ModelDeploymentName = {target}
      and StatusCode in ('5*', '429') default 0
    total: AzureOpenAIRequests:total where ModelDeploymentName = {target}
    max_ratio: 1.25
    max: 0.05
  - name: time-to-response
    kind: value
    query: AzureOpenAITimeToResponse:average where ModelDeploymentName = {target}
    max_ratio: 1.3
    required: false

stages:
  - {{name: pilot,     weight: 5,          bake: 30m}}
  - {{name: expansion, weights: [25, 50],  bake: 1h, approval: true}}
  - {{name: full,      weight: 100,        bake: 30m}}

analysis: {{interval: 5m, method: sequential, alpha: 0.05, on_inconclusive: extend}}
"""
