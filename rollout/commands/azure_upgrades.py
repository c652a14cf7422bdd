"""`rollout azure upgrades list|plan`: Azure's own model upgrades, found and canaried.

`list` reads an Azure OpenAI account's deployments and model list and names each deployment
Azure has a newer default version for, or will move on its own (`versionUpgradeOption`,
retirement dates, scheduled replacements): the work is `rollout.azure.upgrades`. `plan
DEPLOYMENT` writes the canary plan for one of them: the candidate deployment created at the new
version with NoAutoUpgrade, the baseline pinned, the LLM gates; review it, then `rollout apply`.
Read-only against Azure: nothing is created or changed until the plan is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_OK, InvalidInput, ProviderError, RolloutError
from rollout.views import azure_upgrade_plan as plan_view
from rollout.views import azure_upgrades as view


def management_client(subscription: str) -> Any:
    """A CognitiveServicesManagementClient with the default credential (OIDC, CLI, managed
    identity). Tests replace this function with one bound to a fake ARM."""
    try:
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    except ModuleNotFoundError as exc:
        raise ProviderError(
            "rollout azure upgrades needs the azure extra: pip install 'rollout-llm[azure]'"
        ) from exc
    from rollout.azure.rest import default_credential

    return CognitiveServicesManagementClient(default_credential(), subscription)


def _find(subscription: str, resource_group: str, account: str) -> list[Any]:
    from rollout.azure.upgrades import find_upgrades

    client = management_client(subscription)
    try:
        return find_upgrades(client, resource_group, account)
    except RolloutError:
        raise
    except Exception as exc:  # the SDK's errors: azure.core.exceptions.AzureError and kin
        if not any(c.__name__ == "AzureError" for c in type(exc).__mro__):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProviderError(
            f"could not read the deployments of account {account} in resource group "
            f"{resource_group}: {first}"
        ) from None


def run(
    action: str,
    subscription: str,
    resource_group: str,
    account: str,
    deployment: str | None = None,
    write: Path | None = None,
    force: bool = False,
    apim_service: str = "apim-llm",
    pool: str = "aoai-pool",
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    if action == "plan" and write is not None and Path(write).exists() and not force:
        raise InvalidInput(f"{write} already exists; pass --force to overwrite it")
    upgrades = _find(subscription, resource_group, account)
    if action == "list":
        views.show(view, output, upgrades, account)
        return EXIT_OK
    from rollout.azure.upgrades import canary_plan

    chosen = next((u for u in upgrades if u.deployment == deployment), None)
    if chosen is None:
        known = ", ".join(u.deployment for u in upgrades) or "none has one"
        raise InvalidInput(
            f"deployment {deployment!r} of account {account} has no upgrade to canary "
            f"(deployments with one: {known}); see `rollout azure upgrades list`"
        )
    text = canary_plan(
        chosen,
        subscription_id=subscription,
        resource_group=resource_group,
        account=account,
        apim_service=apim_service,
        pool=pool,
    )
    if write is not None:
        path = Path(write)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RolloutError(f"cannot write {path}: {exc.strerror or exc}") from None
    views.show(plan_view, output, chosen, text, write)
    return EXIT_OK
