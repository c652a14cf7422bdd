"""Metrics source `prometheus`: PromQL instant queries over the HTTP API.

    metrics:
      type: prometheus
      url: http://localhost:9090        # the server root (or an API prefix such as .../api/prom)
      timeout: 10                       # seconds per request
      bearer_token_env: PROM_TOKEN      # or username_env + password_env (basic auth)
      headers: {X-Scope-OrgID: team-a}  # plain, non-secret headers
      headers_env: {X-Api-Key: PROM_KEY}  # header -> environment variable holding its value

Each query is evaluated at the window's end (`time=`); write the window into the query
itself: `sum(increase(llm_requests_total{variant="{{ variant }}"}[{{ window }}]))`.
A query must come back as one number: an empty vector or NaN is NoData (inconclusive), more
than one series is an error (wrap the query in `sum(...)`), anything else that is not a
Prometheus success response is a ProviderError. Credentials are read from the environment
when the source is built, join the known secrets (rollout.secrets) at once, and never appear
in messages: every text taken from a reply (Prometheus' own `error` field, a body snippet) is
masked before it goes into an exception.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rollout import secrets
from rollout.errors import InvalidInput, NoData, ProviderError
from rollout.metrics import Window
from rollout.redact import redact_text
from rollout.registry import BuildContext


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, pattern=r"^https?://")
    timeout: float = Field(default=10.0, gt=0, le=600)
    method: Literal["GET", "POST"] = "GET"  # POST for very long queries
    retries: int = Field(default=4, ge=1, le=10)  # attempts per query, with backoff
    bearer_token_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True
    # whose metric names built-in LLM signals (rollout.llm.catalog) query: an app's
    # OpenTelemetry GenAI metrics, or a LiteLLM proxy's own
    signals: Literal["opentelemetry", "litellm"] = "opentelemetry"

    @model_validator(mode="after")
    def _auth(self) -> Config:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("basic auth needs both username_env and password_env")
        if self.bearer_token_env is not None and self.username_env is not None:
            raise ValueError("give bearer_token_env or username_env/password_env, not both")
        return self


def _env(name: str, what: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if not value:
        raise InvalidInput(
            f"metrics {what} names the environment variable {name}, which is not set"
        )
    secrets.register(value)  # before anything can quote it
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"metrics {what}: the environment variable {name} holds a newline or another "
            "control character, which a header cannot carry (its value is not shown)"
        )
    return value


def auth_headers(config: Config, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Request headers, with credentials read from the environment now."""
    import base64

    env = os.environ if env is None else env
    headers = dict(config.headers)
    for header, var in config.headers_env.items():
        headers[header] = _env(var, f"headers_env.{header}", env)
    if config.bearer_token_env:
        headers["Authorization"] = "Bearer " + _env(
            config.bearer_token_env, "bearer_token_env", env
        )
    if config.username_env and config.password_env:
        user = _env(config.username_env, "username_env", env)
        password = _env(config.password_env, "password_env", env)
        secrets.register_basic(user, password)
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        )
    return headers


class PrometheusSource:
    def __init__(
        self,
        config: Config,
        *,
        headers: dict[str, str] | None = None,
        transport: Any = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import httpx

        self.config = config
        secrets.register_url(config.url)
        self.base = config.url.rstrip("/")
        if sleep is None:
            from rollout.clock import SystemClock

            sleep = SystemClock().sleep
        self.sleep = sleep
        self.client = httpx.Client(
            headers=headers if headers is not None else auth_headers(config),
            timeout=config.timeout,
            transport=transport,
            verify=config.verify_tls,
            follow_redirects=True,
        )

    # -- the MetricsSource protocol -----------------------------------------------------------
    def query(self, query: str, window: Window) -> float:
        data = self._api({"query": query, "time": f"{window.end.timestamp():.3f}"}, query)
        return _one_number(data, query)

    def query_by(self, query: str, window: Window, label: str) -> dict[str, float]:
        """One number per value of `label` (e.g. a hash bucket of the sticky key): the query
        must keep that label, e.g. `sum by (bucket) (increase(errors_total{...}[1m]))`.
        Values are used as they are (increase() is fractional); NaN series are left out."""
        data = self._api({"query": query, "time": f"{window.end.timestamp():.3f}"}, query)
        return _by_label(data, query, label)

    def check(self) -> None:
        """The server answers the query API with these credentials (`vector(1)` is 1)."""
        data = self._api({"query": "vector(1)"}, "vector(1)")
        try:
            value = _one_number(data, "vector(1)")
        except NoData:
            value = math.nan
        if value != 1.0:
            raise ProviderError(
                f"prometheus {redact_text(self.base)}: vector(1) returned {value}, not 1; "
                "is this a Prometheus API?"
            )

    def close(self) -> None:
        self.client.close()

    # -- HTTP -----------------------------------------------------------------------------------
    def _api(self, params: dict[str, str], query: str) -> dict[str, Any]:
        from rollout.retry import send_with_retry

        url = self.base + "/api/v1/query"
        if self.config.method == "POST":

            def send() -> Any:
                return self.client.post(url, data=params)
        else:

            def send() -> Any:
                return self.client.get(url, params=params)

        where = f"prometheus {redact_text(self.base)}"
        try:
            resp = send_with_retry(send, what=where, sleep=self.sleep, attempts=self.config.retries)
        except ProviderError as exc:
            raise ProviderError(f"{redact_text(str(exc))} (query: {_short(query)})") from None
        return _body(resp, where, query)


def _body(resp: Any, where: str, query: str) -> dict[str, Any]:
    """The decoded response, or a ProviderError saying what went wrong in words."""
    status = resp.status_code
    try:
        doc = json.loads(resp.content)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("status") == "error":
        # Prometheus's own explanation: bad_data (a PromQL mistake), timeout, execution, ...
        kind = _snippet(str(doc.get("errorType") or "error"), 40)
        why = _snippet(str(doc.get("error") or ""), 300)
        raise ProviderError(
            f"{where} rejected the query ({kind}): {why} (HTTP {status}; query: {_short(query)})"
        )
    if status in (401, 403):
        raise ProviderError(
            f"{where}: HTTP {status}: not authorised; "
            "check bearer_token_env / username_env / password_env"
        )
    if status != 200:
        raise ProviderError(
            f"{where}: HTTP {status}: {_snippet(resp.text)} (query: {_short(query)})"
        )
    if (
        not isinstance(doc, dict)
        or doc.get("status") != "success"
        or not isinstance(doc.get("data"), dict)
    ):
        raise ProviderError(
            f"{where} did not answer like the Prometheus query API ({_snippet(resp.text)}); "
            "url should be the server root, e.g. http://localhost:9090"
        )
    data: dict[str, Any] = doc["data"]
    return data


def _one_number(data: dict[str, Any], query: str) -> float:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar":
        return _sample(result, query)
    if kind == "vector" and isinstance(result, list):
        if not result:
            raise NoData(f"no series for {_short(query)}")
        if len(result) > 1:
            labels = ", ".join(_labels(s) for s in result[:3]) + (
                ", ..." if len(result) > 3 else ""
            )
            raise ProviderError(
                f"the query returned {len(result)} series ({labels}); a gate needs one number: "
                f"wrap it in sum(...) (query: {_short(query)})"
            )
        series = result[0]
        return _sample(series.get("value") if isinstance(series, dict) else None, query)
    if kind == "matrix":
        raise ProviderError(
            "the query returned a range vector; a gate needs one number, e.g. "
            f"sum(increase(x[{{{{ window }}}}])) (query: {_short(query)})"
        )
    raise ProviderError(f"unexpected Prometheus result type {kind!r} (query: {_short(query)})")


def _by_label(data: dict[str, Any], query: str, label: str) -> dict[str, float]:
    result = data.get("result")
    if data.get("resultType") != "vector" or not isinstance(result, list):
        raise ProviderError(
            f"a bucket_by gate needs an instant vector with one series per {label!r} "
            f"(query: {_short(query)})"
        )
    out: dict[str, float] = {}
    for series in result:
        metric = series.get("metric", {}) if isinstance(series, dict) else {}
        key = metric.get(label) if isinstance(metric, dict) else None
        if not isinstance(key, str):
            raise ProviderError(
                f"a series without the label {label!r} ({_labels(series)}): keep it, e.g. "
                f"sum by ({label}) (...) (query: {_short(query)})"
            )
        if key in out:
            raise ProviderError(
                f"two series for {label}={key!r}: sum by ({label}) (...) (query: {_short(query)})"
            )
        try:
            value = _sample(series.get("value"), query)
        except NoData:
            continue
        out[key] = value
    if not out:
        raise NoData(f"no series for {_short(query)}")
    return out


def _sample(pair: Any, query: str) -> float:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError, KeyError):
        raise ProviderError(
            f"malformed Prometheus sample {_snippet(json.dumps(pair))} (query: {_short(query)})"
        ) from None
    if math.isnan(value):
        raise NoData(f"NaN for {_short(query)} (no samples in the window, or 0/0)")
    return value


def _labels(series: Any) -> str:
    metric = series.get("metric", {}) if isinstance(series, dict) else {}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(text: str, limit: int = 200) -> str:
    """Masked first, then cut: a cut must never leave half a secret unmasked."""
    return _short(redact_text(" ".join((text or "<empty body>").split())), limit)


def build(config: Config, ctx: BuildContext) -> PrometheusSource:
    # Test hooks: an httpx transport and a sleep function (no real waiting in unit tests).
    return PrometheusSource(
        config,
        transport=ctx.extra.get("httpx_transport"),
        sleep=ctx.extra.get("sleep"),
    )
