"""Routers move traffic between the variants. Keep the protocol this small."""

from __future__ import annotations

from typing import Protocol

from rollout.records import Weights


class Router(Protocol):
    # The truth about where traffic goes now: the runner compares it with what it recorded
    # (drift), and abort verifies the baseline through it.
    def get_weights(self) -> Weights: ...

    # Idempotent: setting the same weights twice is harmless. Raises ProviderError when the
    # change could not be made (after the provider's own retries).
    def set_weights(self, weights: Weights) -> None: ...
