"""Router `http`: a generic webhook for any gateway that can take weights over HTTP.

    router:
      type: http
      set:
        method: PUT
        url: https://gateway.internal/api/routes/support-bot
        headers: {Authorization: "Bearer ${GATEWAY_TOKEN}"}   # from the environment only
        body: '{% raw %}{"primary": {{ baseline }}, "canary": {{ candidate }}}{% endraw %}'
      get:
        url: https://gateway.internal/api/routes/support-bot
        headers: {Authorization: "Bearer ${GATEWAY_TOKEN}"}
        weights_path: {candidate: canary}                      # dotted path into the JSON reply
      timeout: 10s
      retries: 4

The body is a jinja2 template (sandboxed, StrictUndefined) rendered with `baseline` and
`candidate` (ints), `weights` ({baseline, candidate}), `targets` ({variant: target}),
`variants` ({variant: {model, model_version, target, ...}}) and `rollout` (the plan name); the
`tojson` filter is there for JSON bodies. The plan file itself is rendered with jinja2 first,
so in plan.yaml wrap the body in `{% raw %}...{% endraw %}` to keep it for this router.

Header values (and URLs) take `${NAME}` from the environment when a request is sent; a header
that carries a credential (Authorization, *key*, *token*, ...) must come from the environment,
and a literal token in a URL is refused at load (rollout.loading.checks), so a secret never
lands in the plan or the state store. Every value taken from the environment joins the known
secrets (rollout.secrets) before it is sent, so a gateway that echoes a header in its error
body, or httpx quoting a bad header value, is masked wherever the message is written; messages
here name the URL as written in the plan (with `${NAME}`), never the expanded one. A value with
a newline or another control character is refused without being shown.

`set_weights` sends the same body for the same weights, so the gateway call must be idempotent
(PUT semantics) for a retry to be safe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout import secrets
from rollout.durations import parse_duration
from rollout.errors import InvalidInput, ProviderError
from rollout.records import Weights
from rollout.registry import BuildContext

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_HEADER = re.compile(r"(authorization|key|token|secret|password|cookie|signature)", re.I)


def _headers(v: dict[str, str]) -> dict[str, str]:
    for name, value in v.items():
        if _SECRET_HEADER.search(name) and not _ENV.search(value):
            raise ValueError(
                f"header {name!r} carries a credential: take it from the environment, "
                f'e.g. {name}: "Bearer ${{GATEWAY_TOKEN}}" (secrets never go in the plan)'
            )
    return v


class SetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["PUT", "POST", "PATCH"] = "PUT"
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = '{"baseline": {{ baseline }}, "candidate": {{ candidate }}}'
    content_type: str = "application/json"

    @field_validator("headers")
    @classmethod
    def _no_literal_secrets(cls, v: dict[str, str]) -> dict[str, str]:
        return _headers(v)


class WeightsPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baseline: str | None = None
    candidate: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WeightsPath:
        if self.baseline is None and self.candidate is None:
            raise ValueError(
                "give a path for candidate, baseline or both (e.g. candidate: data.weights.canary)"
            )
        return self


class GetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    weights_path: WeightsPath

    @field_validator("headers")
    @classmethod
    def _no_literal_secrets(cls, v: dict[str, str]) -> dict[str, str]:
        return _headers(v)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    set_: SetSpec = Field(alias="set")
    get: GetSpec
    timeout: float = Field(default=10.0, gt=0)  # seconds per request, or a duration like "10s"
    retries: int = Field(
        default=4, ge=0, le=10
    )  # extra attempts on 408/429/5xx and transport errors

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, str) else v


def expand_env(value: str, where: str, env: dict[str, str] | None = None) -> str:
    """`${NAME}` -> the environment variable; a missing one is an error that names it.

    Each value joins the known secrets; one with a control character (a newline would split
    the header, and httpx would quote it in its error) is refused without being shown.
    """
    source = os.environ if env is None else env

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in source:
            raise ProviderError(f"{where} needs the environment variable {name}, which is not set")
        got = source[name]
        secrets.register(got)
        if any(ord(c) < 32 or ord(c) == 127 for c in got):
            raise ProviderError(
                f"{where}: the environment variable {name} holds a newline or another control "
                "character, which a header or URL cannot carry (its value is not shown)"
            )
        return got

    return _ENV.sub(sub, value)


def _register_configured(config: Config, env: dict[str, str] | None = None) -> None:
    """Every environment value the router's headers and URLs name joins the known secrets."""
    source = os.environ if env is None else env
    texts = [config.set_.url, config.get.url, *config.set_.headers.values()]
    texts += list(config.get.headers.values())
    for text in texts:
        for name in _ENV.findall(text):
            secrets.register(source.get(name))


def lookup(data: Any, path: str) -> Any:
    """`data.weights.0.canary` into parsed JSON: dict keys, and list indexes as numbers."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif (
            isinstance(cur, list)
            and part.lstrip("-").isdigit()
            and -len(cur) <= int(part) < len(cur)
        ):
            cur = cur[int(part)]
        else:
            raise KeyError(part)
    return cur


def _percent(value: Any, path: str, url: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(f"GET {url}: {path} is {value!r}, not a weight")
    try:
        f = float(value)
    except ValueError:
        raise ProviderError(f"GET {url}: {path} is {value!r}, not a weight") from None
    if f != int(f) or not 0 <= f <= 100:
        raise ProviderError(f"GET {url}: {path} is {value!r}; expected a whole percent 0..100")
    return int(f)


class HttpRouter:
    def __init__(
        self,
        config: Config,
        *,
        variants: dict[str, dict[str, Any]] | None = None,
        name: str = "",
        transport: Any = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import httpx
        import jinja2

        from rollout.loading.template import bounded_environment

        self.config = config
        _register_configured(config)  # known before the first request, or a crash, can quote one
        self.variants = variants or {}
        self.name = name
        if sleep is None:
            from rollout.clock import SystemClock

            sleep = SystemClock().sleep
        self.sleep = sleep
        # The same bounded sandbox as plan files: no loops without end, no huge values, no
        # include/import/extends.
        self._env = bounded_environment(undefined=jinja2.StrictUndefined, autoescape=False)
        try:
            self.template = self._env.from_string(config.set_.body)
            self._render(Weights.all_baseline())  # unknown names fail now, not mid-rollout
        except Exception as exc:  # TemplateError, or a budget the template exceeded
            raise InvalidInput(f"router http: set.body template: {str(exc)[:300]}") from None
        self.client = httpx.Client(
            timeout=config.timeout, transport=transport, follow_redirects=False
        )

    def _render(self, weights: Weights) -> str:
        targets = {v: (m or {}).get("target") or v for v, m in self.variants.items()}
        self._env.iterations = 0
        return self.template.render(
            baseline=weights.baseline,
            candidate=weights.candidate,
            weights=weights.model_dump(),
            targets=targets,
            variants=self.variants,
            rollout=self.name,
        )

    def _send(self, method: str, url: str, headers: dict[str, str], body: str | None = None) -> Any:
        import httpx

        from rollout.retry import send_with_retry

        what = f"{method} {url}"  # as written in the plan: `${NAME}` is never expanded here
        hdrs = {k: expand_env(v, f"router http: header {k}") for k, v in headers.items()}
        target = expand_env(url, f"router http: {method} url")
        if body is not None:
            hdrs.setdefault("Content-Type", self.config.set_.content_type)

        def send() -> httpx.Response:
            return self.client.request(method, target, headers=hdrs, content=body)

        try:
            resp = send_with_retry(
                send,
                what=what,
                sleep=self.sleep,
                attempts=self.config.retries + 1,
                write=body is not None,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # not transient: no retry helps
            raise ProviderError(f"{what}: {type(exc).__name__}: {_masked(str(exc))}") from None
        except ProviderError as exc:  # retries exhausted: the text may quote the request
            raise ProviderError(_masked(str(exc))) from None
        if not 200 <= resp.status_code < 300:
            raise ProviderError(
                f"{what}: HTTP {resp.status_code} {resp.reason_phrase}{_snippet(resp)}"
            )
        return resp

    def set_weights(self, weights: Weights) -> None:

        s = self.config.set_
        try:
            body = self._render(weights)
        except Exception as exc:  # a branch the build-time trial render did not take
            raise InvalidInput(
                f"router http: set.body template at {weights}: {str(exc)[:300]}"
            ) from None
        self._send(s.method, s.url, s.headers, body)

    def get_weights(self) -> Weights:
        g = self.config.get
        resp = self._send("GET", g.url, g.headers)
        try:
            data = resp.json()
        except ValueError:
            raise ProviderError(f"GET {g.url}: the reply is not JSON{_snippet(resp)}") from None
        got: dict[str, int] = {}
        for variant in ("baseline", "candidate"):
            path = getattr(g.weights_path, variant)
            if path is None:
                continue
            try:
                got[variant] = _percent(lookup(data, path), path, g.url)
            except KeyError as exc:
                raise ProviderError(
                    f"GET {g.url}: no {path!r} in the reply "
                    f"(missing {exc.args[0]!r}){_snippet(resp)}"
                ) from None
        base = got.get("baseline", 100 - got.get("candidate", 0))
        cand = got.get("candidate", 100 - base)
        if base + cand != 100:
            raise ProviderError(f"GET {g.url}: weights {base} + {cand} do not sum to 100")
        return Weights(baseline=base, candidate=cand)

    def close(self) -> None:
        self.client.close()


def _masked(text: str) -> str:
    from rollout.redact import redact_text

    return redact_text(text)


def _snippet(resp: Any) -> str:
    """The start of a reply body, masked before it is cut (a cut never halves a secret)."""
    text = _masked((resp.text or "").strip().replace("\n", " "))
    return f": {text[:200]}" if text else ""


def build(config: Config, ctx: BuildContext) -> HttpRouter:
    return HttpRouter(
        config,
        variants=ctx.variants,
        name=ctx.plan_name,
        transport=ctx.extra.get("http_transport"),
        sleep=ctx.extra.get("sleep"),
    )
