"""Retries with exponential backoff that honour Retry-After. Sleep is injected (tests pass a
fake)."""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from rollout import fencing
from rollout.errors import ProviderError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or an
    HTTP date)."""
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0)):
        v = headers.get(name)
        if v:
            try:
                return max(0.0, float(v) / scale)
            except ValueError:
                pass
    v = headers.get("retry-after")
    if not v:
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(v) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff for attempt 1, 2, ..."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def send_with_retry(
    send: Callable[[], Any],
    *,
    what: str,
    sleep: Callable[[float], None],
    attempts: int = 5,
    max_wait: float = 60.0,
    write: bool = False,
) -> Any:
    """Call `send()` (returns an httpx.Response) until it is not a retryable failure.

    Transport errors and 408/429/5xx are retried; Retry-After is honoured (capped at max_wait).
    The last response is returned as is (the caller maps status codes to errors); a transport
    error on the last attempt becomes ProviderError.
    """
    import httpx

    last_exc: Exception | None = None
    for attempt in range(1, attempts + 1):
        if write:
            fencing.check()  # a write that lost the race (abort, pause) is never sent
        try:
            resp = send()
        except httpx.TransportError as exc:
            last_exc = exc
            if attempt == attempts:
                break
            sleep(backoff(attempt))
            continue
        if resp.status_code not in RETRY_STATUS or attempt == attempts:
            return resp
        wait = retry_after_seconds(resp.headers)
        sleep(min(max_wait, wait if wait is not None else backoff(attempt)))
    raise ProviderError(
        f"{what}: {type(last_exc).__name__}: {last_exc} (after {attempts} attempts)"
    )
