"""One cached token per credential and scope, renewed before expiry (issue 13, point 5)."""

from __future__ import annotations

from typing import Any

import httpx

from rollout.azure.rest import ARM_SCOPE, AzureClient
from rollout.azure.tokens import REFRESH_MARGIN, TokenCache


class ExpiringCredential:
    """Tokens valid for an hour from the injected clock; counts the calls."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls: list[str] = []

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls.extend(scopes)
        return AccessToken(f"tok-{len(self.calls)}", int(self.clock[0] + 3600))


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"auth": request.headers["authorization"]})


def test_eleven_requests_fetch_one_token() -> None:
    clock = [1_000_000.0]
    cred = ExpiringCredential(clock)
    client = AzureClient(
        scope=ARM_SCOPE, credential=cred, transport=httpx.MockTransport(ok), now=lambda: clock[0]
    )
    url = "https://management.azure.com/x"
    seen = {client.request("GET", url).json()["auth"] for _ in range(11)}
    assert cred.calls == [ARM_SCOPE]
    assert seen == {"Bearer tok-1"}


def test_token_is_renewed_before_it_expires_not_after() -> None:
    clock = [1_000_000.0]
    cred = ExpiringCredential(clock)
    cache = TokenCache(cred, now=lambda: clock[0])
    assert cache.token(ARM_SCOPE) == "tok-1"
    clock[0] += 3600 - REFRESH_MARGIN - 1  # still comfortably valid
    assert cache.token(ARM_SCOPE) == "tok-1"
    clock[0] += 2  # inside the margin: renewed while the old one still works
    assert cache.token(ARM_SCOPE) == "tok-2"
    assert cache.fetches == 2


def test_one_token_per_scope_and_clients_share_the_cache() -> None:
    clock = [1_000_000.0]
    cred = ExpiringCredential(clock)
    clients = [
        AzureClient(
            scope=s, credential=cred, transport=httpx.MockTransport(ok), now=lambda: clock[0]
        )
        for s in ("https://a/.default", "https://b/.default", "https://a/.default")
    ]
    a, b, a2 = clients
    for c in (a, b, a2, a, b):
        c.request("GET", "https://h/x")
    assert sorted(cred.calls) == ["https://a/.default", "https://b/.default"]


def test_refresh_on_is_honoured() -> None:
    from azure.core.credentials import AccessTokenInfo

    clock = [0.0]
    calls: list[int] = []

    class Cred:
        def get_token(self, *scopes: str, **_: Any) -> Any:
            calls.append(1)
            return AccessTokenInfo(f"t{len(calls)}", 10_000, refresh_on=100)

    cache = TokenCache(Cred(), now=lambda: clock[0])
    assert cache.token("s") == "t1"
    clock[0] = 101
    assert cache.token("s") == "t2"
