"""Metrics sources answer a gate's queries for one variant over one window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Window:
    """The half-open time range [start, end) a query covers: one analysis tick."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return max(1, round((self.end - self.start).total_seconds()))

    @property
    def promql(self) -> str:
        return f"{self.seconds}s"


class MetricsSource(Protocol):
    # One number for an already-rendered query over the window. Raises NoData when the
    # source has no samples (gates read that as inconclusive) and ProviderError on failure.
    def query(self, query: str, window: Window) -> float: ...

    # Reachable, and credentials work? Called by preflight before the first shift.
    def check(self) -> None: ...
