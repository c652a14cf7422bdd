"""One cached bearer token per credential and scope, refreshed before it expires.

A rollout makes a request every tick to each of its Azure services; fetching a new token for
each would start an `az` process per request under the Azure CLI credential of CI, and hit
Entra ID's throttling under the others. So every AzureClient asks `tokens_for(credential)`,
which hands out the same token until `refresh_on` (when the credential gives one) or until
five minutes before `expires_on`, and only then asks the credential again.

The clock is injected (`now`, seconds since the epoch) so tests can step past an expiry.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from rollout.errors import ProviderError

REFRESH_MARGIN = 300.0  # seconds before expires_on at which a token is renewed


class TokenCache:
    """Bearer tokens of one credential, one per scope."""

    def __init__(self, credential: Any, now: Callable[[], float] = time.time) -> None:
        self.credential = credential
        self._now = now
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, renew at)
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the credential was asked (figures and tests)

    def token(self, scope: str) -> str:
        with self._lock:
            cached = self._tokens.get(scope)
            if cached is not None and self._now() < cached[1]:
                return cached[0]
            try:
                got = self.credential.get_token(scope)
            except ProviderError:
                raise
            except Exception as exc:  # azure-identity raises ClientAuthenticationError and kin
                raise ProviderError(f"Azure credentials: {type(exc).__name__}: {exc}") from exc
            self.fetches += 1
            expires = float(getattr(got, "expires_on", 0) or 0)
            refresh = getattr(got, "refresh_on", None)
            renew = float(refresh) if refresh else expires - REFRESH_MARGIN
            self._tokens[scope] = (str(got.token), renew)
            return str(got.token)


_CACHES: weakref.WeakKeyDictionary[Any, TokenCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def tokens_for(credential: Any, now: Callable[[], float] | None = None) -> TokenCache:
    """The process-wide cache of `credential` (one per credential object)."""
    with _CACHES_LOCK:
        try:
            cache = _CACHES.get(credential)
        except TypeError:  # not weak-referenceable: a private cache
            return TokenCache(credential, now or time.time)
        if cache is None:
            cache = TokenCache(credential, now or time.time)
            _CACHES[credential] = cache
        elif now is not None:
            cache._now = now
        return cache
