"""Deployment managers: make sure the variants' model deployments exist and can carry the
traffic they are about to get. A router moves traffic; this keeps the things behind it ready.

Plan section `deployments: {type: azure-openai, ...}` (registry kind "deployments"). The runner
calls, in order:

  preflight(weights)     in the preflight step, with the first stage's weights: each variant's
                         deployment exists with the expected model and version (or the candidate
                         is created when the plan says so) and the quota covers that stage.
  before_shift(weights)  before every router.set_weights(weights): a quota check when the
                         candidate gains traffic, and capacity scaling when capacity follows the
                         weights. Raises ProviderError to stop the shift (nothing changed);
                         towards all-baseline (a rollback) it never raises: it scales what it can
                         and returns notes for the event log.
  finalize()             after promote: the old baseline is kept, scaled down or deleted (at once
                         or after a grace period). Returns when to call again if it must wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rollout.records import Weights


class DeploymentManager(Protocol):
    # variant -> what was found or done
    # (e.g. "gpt41-support: gpt-4.1 2025-04-14, GlobalStandard x50, created").
    def preflight(self, weights: Weights) -> dict[str, str]: ...

    # Notes on what changed (capacity moves, skipped steps); [] when nothing was needed.
    def before_shift(self, weights: Weights) -> list[str]: ...

    # None when done; otherwise the time after which calling again does the rest.
    def finalize(self) -> datetime | None: ...
