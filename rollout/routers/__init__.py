"""Routers move traffic between the variants. Keep the protocol this small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rollout.records import Weights

if TYPE_CHECKING:
    from rollout.metrics import Window


class Router(Protocol):
    # The truth about where traffic goes now: the runner compares it with what it recorded
    # (drift), and abort verifies the baseline through it.
    def get_weights(self) -> Weights: ...

    # Idempotent: setting the same weights twice is harmless. Raises ProviderError when the
    # change could not be made (after the provider's own retries).
    def set_weights(self, weights: Weights) -> None: ...


@runtime_checkable
class ServedSplit(Protocol):
    """Optional, beside Router: what the provider actually served, not what it was told.

    A gateway can hold weights it does not serve (an APIM candidate in a lower priority group,
    a feature flag whose filters turn users away, a tripped breaker). The sample-ratio check
    compares `served` with the weights set and, when they disagree, prints `causes()`.
    """

    # The split served in the window (measured counts, or what the provider's configuration
    # serves when it exposes no counts); None when it cannot tell for this window.
    def served(self, window: Window) -> Weights | None: ...

    # What can make the served split differ from the weights, in words naming the provider
    # ("APIM: the candidate backend ... is in priority group 2 ..."); [] when nothing does.
    def causes(self) -> list[str]: ...
