"""A fake azure-identity credential: hands out tokens and records which scopes were asked for.

    cred = FakeCredential()
    ...
    assert cred.scopes == ["https://management.azure.com/.default"]

Implements both `get_token` and `get_token_info`, as azure-core's bearer policy uses either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXPIRES_ON = 4_102_444_800  # 2100-01-01: never expires inside a test


@dataclass(frozen=True)
class _Token:
    token: str
    expires_on: int
    token_type: str = "Bearer"
    refresh_on: int | None = None


def _token_types() -> tuple[Any, Any]:
    try:
        from azure.core.credentials import AccessToken, AccessTokenInfo

        return AccessToken, AccessTokenInfo
    except ImportError:  # azure-core absent: same attributes, plain dataclass
        return None, None


class FakeCredential:
    def __init__(self, token: str = "fake-token", *, error: Exception | None = None) -> None:
        self.token = token
        self.error = error  # raised on every call, e.g. ClientAuthenticationError("no login")
        self.calls: list[tuple[str, ...]] = []  # scopes of every call, in order

    @property
    def scopes(self) -> list[str]:
        return [s for call in self.calls for s in call]

    def _issue(self, scopes: tuple[str, ...]) -> None:
        if len(scopes) != 1:  # AzureCliCredential rejects several scopes; so do we
            raise ValueError(f"exactly one scope per call, got {scopes!r}")
        self.calls.append(scopes)
        if self.error is not None:
            raise self.error

    def get_token(self, *scopes: str, **_: Any) -> Any:
        self._issue(scopes)
        access_token, _info = _token_types()
        if access_token is None:
            return _Token(self.token, EXPIRES_ON)
        return access_token(self.token, EXPIRES_ON)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        self._issue(scopes)
        _at, info = _token_types()
        if info is None:
            return _Token(self.token, EXPIRES_ON)
        return info(self.token, EXPIRES_ON)

    def close(self) -> None:
        return None
