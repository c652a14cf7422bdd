"""Plan checks past the schema: what pydantic's lax parsing lets through, what the providers'
own Config models say, and what must not be stored (literal secrets, tokens in URLs).

All of it runs at load, before a state store is opened or a router is built, so a bad plan
changes nothing: `inf` or NaN anywhere, `true` where a number belongs, numbers and strings
beyond sane sizes, a compiled plan too large to rewrite on every commit.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ValidationError

from rollout.errors import Problem, SpecError
from rollout.loading.diagnostics import Locator, field_path, problems_from
from rollout.spec import PlanSpec

Loc = tuple[str | int, ...]

MAX_NUMBER = 1e12  # no count, rate, bound or size in a plan comes near this
MAX_STRING = 64 * 1024  # one value (a query, a body template); the whole plan is at most 1 MiB
MAX_COMPILED_BYTES = 256 * 1024  # the stored plan, rewritten on every commit
# Query parameters that carry credentials (SAS `sig`, Azure Functions `code`, `api_key`, ...).
_SECRET_PARAM = re.compile(
    r"^(.*(token|secret|passw(or)?d|pwd|api[-_]?key|apikey|auth|credential).*|key|sig|"
    r"signature|code)$",
    re.I,
)
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _walk(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    yield loc, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*loc, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*loc, i))


def _problem(locator: Locator, name: str, loc: Loc, msg: str, *, key: bool = False) -> Problem:
    line, col = locator.find(loc, key=key)
    return Problem(name, line, col, field_path(loc), msg)


def value_problems(data: Any, locator: Locator, name: str) -> list[Problem]:
    """Non-finite or huge numbers and oversized strings anywhere in the parsed plan."""
    out: list[Problem] = []
    for loc, v in _walk(data):
        if isinstance(v, bool):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            out.append(_problem(locator, name, loc, f"must be a finite number (got {v})"))
        elif isinstance(v, int | float) and abs(v) > MAX_NUMBER:
            out.append(
                _problem(locator, name, loc, f"{v:.3g} is out of range (at most {MAX_NUMBER:g})")
            )
        elif isinstance(v, str) and len(v) > MAX_STRING:
            out.append(
                _problem(
                    locator,
                    name,
                    loc,
                    f"a value of {len(v):,} characters; the limit is {MAX_STRING:,}",
                )
            )
        elif isinstance(v, dict):
            for k in v:
                if not isinstance(k, str | int | float | bool) or len(str(k)) > 256:
                    out.append(_problem(locator, name, loc, "a key must be a short plain name"))
                    break
    return out


def bool_problems(data: Any, model: type[BaseModel], prefix: Loc = ()) -> list[Loc]:
    """Where `true`/`false` was given for a number: pydantic's lax mode would take it as 1/0,
    and `weight: true` would run a 1 % pilot."""
    out: list[Loc] = []
    _bools(data, model, prefix, out)
    return out


def _bools(value: Any, tp: Any, loc: Loc, out: list[Loc]) -> None:
    tp = _unwrap(tp)
    if isinstance(value, bool):
        if tp in (int, float):
            out.append(loc)
        return
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(value, dict):
        fields = {}
        for n, f in tp.model_fields.items():
            fields[n] = f.annotation
            if f.alias:
                fields[f.alias] = f.annotation
        for k, v in value.items():
            if k in fields:
                _bools(v, fields[k], (*loc, str(k)), out)
        return
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) and isinstance(value, list) and args:
        for i, v in enumerate(value):
            _bools(v, args[0], (*loc, i), out)
    elif origin is dict and isinstance(value, dict) and len(args) == 2:
        for k, v in value.items():
            _bools(v, args[1], (*loc, str(k)), out)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def bool_messages(locs: Sequence[Loc], locator: Locator, name: str) -> list[Problem]:
    return [_problem(locator, name, loc, "expected a number, got a boolean") for loc in locs]


def url_token_problems(data: Any, locator: Locator, name: str) -> list[Problem]:
    """A credential written into a URL (userinfo password, `?token=...`) would be stored and
    printed with the URL: refused, with the way to pass it from the environment."""
    out: list[Problem] = []
    if not isinstance(data, dict):
        return out
    for section in ("router", "metrics", "sources", "deployments"):
        for loc, v in _walk(data.get(section), (section,)):
            if not isinstance(v, str) or "://" not in v:
                continue
            why = _url_secret(v)
            if why:
                out.append(
                    _problem(
                        locator,
                        name,
                        loc,
                        f"{why} in a URL: plans are stored and shown, so take it from the "
                        'environment (a header such as Authorization: "Bearer ${TOKEN}", '
                        "${NAME} in an http router URL, or the source's *_env options)",
                    )
                )
    return out


def _url_secret(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if ":" in userinfo and not _ENV_REF.match(userinfo.split(":", 1)[1]):
            return "a password"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and _SECRET_PARAM.match(key) and not _ENV_REF.match(value):
            return f"a literal token ({key}=...)"
    return None


def env_list_problems(data: Any, listed: list[str], locator: Locator, name: str) -> list[Problem]:
    """`env:` must be the literal list the template phase read (rendering cannot widen it)."""
    if not isinstance(data, dict) or "env" not in data:
        return []
    got = data["env"]
    if not isinstance(got, list) or [str(x) for x in got] != listed:
        return [
            _problem(
                locator,
                name,
                ("env",),
                "env is a literal list of environment variable names, e.g. env: [REGION]",
            )
        ]
    return []


def check_providers(spec: PlanSpec, data: Any, text: str, locator: Locator, name: str) -> None:
    """Each provider's options are checked by its own Config model (no vendor SDK imported)."""
    from rollout import registry
    from rollout.errors import InvalidInput
    from rollout.redact import literal_secrets

    sections: list[tuple[Loc, str, Any]] = [
        (("router",), "router", spec.router),
        (("metrics",), "metrics", spec.metrics),
    ]
    sections += [(("sources", k), "metrics", v) for k, v in spec.sources.items()]
    if spec.deployments is not None:
        sections.append((("deployments",), "deployments", spec.deployments))
    # Plans are stored in state and shown in reports: credentials belong in the environment.
    problems = [
        _problem(
            locator,
            name,
            path,
            "looks like a secret: plans are stored and shown, so put it in the environment "
            "and name the variable (e.g. token_env: MY_TOKEN, or ${MY_TOKEN} in a header)",
            key=True,
        )
        for path in literal_secrets(data_of(spec))
    ]
    problems += url_token_problems(data, locator, name)
    problems += query_problems(spec, locator, name)
    for loc, kind, ps in sections:
        try:
            mod = registry.module_for(kind, ps.type)
        except InvalidInput as exc:
            problems.append(_problem(locator, name, (*loc, "type"), str(exc)))
            continue
        problems += bool_messages(bool_problems(ps.options(), mod.Config, loc), locator, name)
        try:
            mod.Config.model_validate(ps.options())
        except ValidationError as exc:
            problems += problems_from(exc, text, name, mod.Config, prefix=loc, locator=locator)
    if problems:
        raise SpecError(problems)


def query_problems(spec: PlanSpec, locator: Locator, name: str) -> list[Problem]:
    """Gate queries may only use the run-time placeholders: fill them with dummies now."""
    from datetime import UTC, datetime

    from rollout.errors import InvalidInput
    from rollout.metrics import Window
    from rollout.metrics.render import render_query

    t = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i, gate in enumerate(spec.gates):
        for role, template in gate.queries().items():
            try:
                render_query(
                    template,
                    variant="candidate",
                    target="t",
                    window=Window(t, t),
                    model="m",
                    model_version="v",
                    stage="s",
                    interval=60,
                )
            except InvalidInput as exc:
                out.append(_problem(locator, name, ("gates", i, role), str(exc)))
    return out


def compiled_size_problem(size: int, name: str) -> None:
    if size > MAX_COMPILED_BYTES:
        raise SpecError(
            [
                Problem(
                    name,
                    None,
                    None,
                    "",
                    f"the compiled plan is {size:,} bytes; the limit is {MAX_COMPILED_BYTES:,} "
                    "(it is stored with every commit): shorten descriptions, params or queries",
                )
            ]
        )


def data_of(spec: PlanSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)
