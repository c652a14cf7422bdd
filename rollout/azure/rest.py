"""A small Azure REST client over httpx: bearer tokens from azure-identity, retries that honour
Retry-After, and Azure's error body (code, message, request id) turned into ProviderError.

    client = AzureClient(scope="https://management.azure.com/.default")
    resp = client.request("GET", url, params={"api-version": "2024-05-01"})

Tests pass `credential=` (an object with get_token) and `transport=httpx.MockTransport(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollout.errors import ProviderError
from rollout.retry import send_with_retry

ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"


_DEFAULT: list[Any] = []  # the process's one DefaultAzureCredential, made on first use


def default_credential() -> Any:
    """DefaultAzureCredential: environment (service principal), workload identity (GitHub OIDC),
    managed identity, Azure CLI. Imported here, never at start-up; one per process, so that
    every client shares its token cache."""
    if _DEFAULT:
        return _DEFAULT[0]
    try:
        from azure.identity import DefaultAzureCredential
    except ModuleNotFoundError as exc:
        raise ProviderError(
            "Azure support needs the azure extra: pip install 'rollout-llm[azure]'"
        ) from exc
    _DEFAULT.append(DefaultAzureCredential(exclude_interactive_browser_credential=True))
    return _DEFAULT[0]


class AzureError(ProviderError):
    def __init__(
        self, status: int, code: str, message: str, request_id: str | None, what: str
    ) -> None:
        self.status, self.code, self.azure_message, self.request_id = (
            status,
            code,
            message,
            request_id,
        )
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{what}: HTTP {status} {code}: {message}{rid}")


def error_from(resp: Any, what: str) -> AzureError:
    code, message = "Unknown", resp.text[:300] if resp.content else resp.reason_phrase
    try:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or message)
        elif isinstance(body, dict) and body.get("title"):  # data planes answer with problem+json
            code, message = str(body["title"]), str(body.get("detail") or message)
    except ValueError:
        pass
    rid = (
        resp.headers.get("x-ms-request-id")
        or resp.headers.get("x-ms-correlation-request-id")
        or resp.headers.get("request-id")
    )
    return AzureError(resp.status_code, code, message, rid, what)


def json_object(resp: Any, what: str) -> dict[str, Any]:
    """The response body as a JSON object, or a ProviderError that says what came instead."""
    try:
        body = resp.json()
    except ValueError as exc:
        raise ProviderError(f"{what}: response is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderError(f"{what}: unexpected response body")
    return body


class AzureClient:
    def __init__(
        self,
        *,
        scope: str,
        credential: Any = None,
        transport: Any = None,
        sleep: Callable[[float], None] | None = None,
        attempts: int = 5,
        timeout: float = 30.0,
        now: Callable[[], float] | None = None,
    ) -> None:
        import httpx

        from rollout.clock import SystemClock

        self.scope = scope
        self._credential = credential
        self._http = httpx.Client(transport=transport, timeout=timeout)
        self._sleep = sleep or SystemClock().sleep
        self._attempts = attempts
        self._now = now  # seconds since the epoch, for token expiry (tests step it)

    @property
    def credential(self) -> Any:
        if self._credential is None:
            self._credential = default_credential()
        return self._credential

    def _token(self) -> str:
        from rollout.azure.tokens import tokens_for

        # One cached token per credential and scope, renewed before it expires.
        return tokens_for(self.credential, self._now).token(self.scope)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        write: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send with retries; a status outside `ok` raises AzureError. `write=True` (a request
        that changes traffic) consults the write fence before every attempt."""
        what = what or f"{method} {url.split('?')[0]}"
        headers = dict(kwargs.pop("headers", None) or {})

        def send() -> Any:
            headers["Authorization"] = f"Bearer {self._token()}"
            return self._http.request(method, url, headers=headers, **kwargs)

        resp = send_with_retry(
            send, what=what, sleep=self._sleep, attempts=self._attempts, write=write
        )
        if resp.status_code not in ok:
            raise error_from(resp, what)
        return resp

    def close(self) -> None:
        self._http.close()
