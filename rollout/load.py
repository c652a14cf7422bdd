"""plan.yaml -> (PlanSpec, Plan): render (jinja2 sandbox), parse (YAML), validate (pydantic).

Every problem is reported as `file:line:col: field.path: message` and raised as SpecError
(exit 2). Nothing is written anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rollout.compile import compile_plan
from rollout.errors import Problem, SpecError
from rollout.locate import Locator, field_path, no_duplicate_keys, template_site
from rollout.records import VARIANTS, Plan
from rollout.spec import PlanRuleErrors, PlanSpec

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Placeholders filled per query at run time; plan rendering leaves them as they are.
QUERY_PLACEHOLDERS = ("variant", "target", "window", "model", "model_version", "stage", "interval")
# Filled by the `http` router's body template when it sends (weights per variant).
RUNTIME_PLACEHOLDERS = (*QUERY_PLACEHOLDERS, "baseline", "candidate")
_TEMPLATE_MARK = re.compile(r"{[{%#]")


@dataclass(frozen=True)
class Loaded:
    spec: PlanSpec
    plan: Plan
    path: Path


def load(
    path: Path | str,
    *,
    variables: Mapping[str, Any] | None = None,
    var_files: Sequence[Path | str] = (),
    env: Mapping[str, str] | None = None,
) -> Loaded:
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(name, None, None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(name, None, None, "", f"cannot read: {exc}")]) from None
    context = _variables(var_files, variables or {}, env if env is not None else os.environ)
    text = render(raw, name, context)
    try:
        data = parse_yaml(text, name)
        no_duplicate_keys(text, name)
        spec = validate(data, text, name)
        digests = _prompt_digests(spec, path.parent, text, name)
        _check_providers(spec, text, name)
    except SpecError as exc:
        if text.count("\n") == raw.count("\n"):
            raise
        # `{% if %}` blocks removed lines: positions are in the rendered text; say so.
        note = " (line numbers refer to the rendered template)"
        raise SpecError([replace(p, message=p.message + note) for p in exc.problems]) from None
    return Loaded(spec=spec, plan=compile_plan(spec, digests, source=name), path=path)


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise SpecError([Problem("--var", None, None, "", f"{p!r} is not k=v")])
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def _variables(
    var_files: Sequence[Path | str], variables: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    ctx: dict[str, Any] = {"env": dict(env)}
    for f in var_files:
        fname = str(f)
        try:
            text = Path(f).read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(
                [Problem(fname, None, None, "", f"cannot read: {exc.strerror or exc}")]
            ) from None
        data = parse_yaml(text, fname)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SpecError(
                [Problem(fname, 1, 1, "", "a var file is a mapping of names to values")]
            )
        ctx.update(data)
    ctx.update(variables)
    for p in RUNTIME_PLACEHOLDERS:
        ctx.setdefault(p, "{{ " + p + " }}")
    return ctx


def _sandbox_class() -> Any:
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        """No `**` with huge operands: a plan must not be able to hang the loader."""

        intercepted_binops = frozenset(["**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
                from jinja2.exceptions import SecurityError

                raise SecurityError("exponent too large in a plan template")
            return super().call_binop(context, operator, left, right)

    return Sandbox


def render(raw: str, name: str, context: Mapping[str, Any]) -> str:
    """Render with jinja2 in a sandbox, StrictUndefined. Plain YAML skips jinja entirely."""
    if not _TEMPLATE_MARK.search(raw):
        return raw
    import jinja2

    envr = _sandbox_class()(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        return envr.from_string(raw).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise SpecError(
            [Problem(name, exc.lineno, None, "", f"template syntax error: {exc.message}")]
        ) from None
    except jinja2.UndefinedError as exc:
        raise SpecError(
            [_undefined_problem(raw, name, _template_line(exc), exc.message or "")]
        ) from None
    except jinja2.TemplateError as exc:  # sandbox violations and the like
        raise SpecError(
            [Problem(name, _template_line(exc), None, "", f"template error: {exc}")]
        ) from None


def _undefined_problem(raw: str, name: str, line: int | None, message: str) -> Problem:
    """Name the variable, and where it is used: the column of its `{{ }}` and the YAML field."""
    m = re.search(r"'(\w+)' is undefined", message)
    var = m.group(1) if m else None
    if var is not None:
        text = f"undefined template variable {var!r} (pass it with --var {var}=..., --var-file or the environment)"
    else:
        text = f"undefined template value: {message} (env.NAME reads the environment variable NAME)"
    col, field = template_site(raw, line, var)
    return Problem(name, line, col, field, text)


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def parse_yaml(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        msg = exc.problem or exc.context or "malformed YAML"
        ctx = exc.context_mark
        if exc.context and ctx is not None and exc.problem:
            # e.g. "did not find expected ',' or ']' (while parsing a flow sequence from line 15)"
            msg += f" ({exc.context} from line {ctx.line + 1})"
        raise SpecError([Problem(name, line, col, "", f"malformed YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(name, None, None, "", f"malformed YAML: {exc}")]) from None


def validate(data: Any, text: str, name: str) -> PlanSpec:
    if not isinstance(data, dict):
        raise SpecError(
            [Problem(name, 1, 1, "", "a plan is a YAML mapping (apiVersion, kind, name, ...)")]
        )
    try:
        return PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from(exc, text, name, PlanSpec)) from None


def problems_from(
    exc: ValidationError,
    text: str,
    name: str,
    root: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
) -> list[Problem]:
    locator = Locator(text)
    problems: list[Problem] = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PlanRuleErrors):
            for sub_loc, msg in ctx_error.problems:
                full = prefix + tuple(sub_loc)
                line, col = locator.find(full)
                problems.append(Problem(name, line, col, field_path(full), msg))
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            known = _fields_at(root, loc[len(prefix) : -1])
            msg = f"unknown key {key!r}" + _suggest(key, known)
        elif err["type"] == "missing":
            line, col = locator.find(loc[:-1])
            problems.append(Problem(name, line, col, field_path(loc), "required field is missing"))
            continue
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        line, col = locator.find(loc, key=err["type"] == "extra_forbidden")
        problems.append(Problem(name, line, col, field_path(loc), msg))
    return problems


def _suggest(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return hint + (f"; valid keys: {', '.join(sorted(known))}" if known else "")


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names (as written in YAML) of the model found by following `loc` from `model`."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            current = field.annotation
        else:
            current = _item_type(current)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return tp


def _item_type(tp: Any) -> Any:
    args = typing.get_args(_unwrap(tp))
    return args[-1] if args else None


def _prompt_digests(spec: PlanSpec, base: Path, text: str, name: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    problems = []
    for v in VARIANTS:
        prompt = getattr(spec.variants, v).prompt
        if prompt is None:
            out[v] = None
            continue
        p = Path(prompt)
        p = p if p.is_absolute() else base / p
        try:
            out[v] = hashlib.sha256(p.read_bytes()).hexdigest()
        except (OSError, ValueError):  # ValueError: a NUL byte in the path
            line, col = Locator(text).find(("variants", v, "prompt"))
            problems.append(
                Problem(name, line, col, f"variants.{v}.prompt", f"prompt file not found: {p}")
            )
    if problems:
        raise SpecError(problems)
    return out


def _query_problems(spec: PlanSpec, locator: Locator, name: str) -> list[Problem]:
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
                out.append(
                    Problem(
                        name,
                        *locator.find(("gates", i, role)),
                        field_path(("gates", i, role)),
                        str(exc),
                    )
                )
    return out


def data_of(spec: PlanSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def _check_providers(spec: PlanSpec, text: str, name: str) -> None:
    """Each provider's options are checked by its own Config model (no vendor SDK imported)."""
    from rollout import registry
    from rollout.errors import InvalidInput
    from rollout.redact import literal_secrets

    sections: list[tuple[tuple[str | int, ...], str, Any]] = [
        (("router",), "router", spec.router),
        (("metrics",), "metrics", spec.metrics),
    ]
    sections += [(("sources", k), "metrics", v) for k, v in spec.sources.items()]
    if spec.deployments is not None:
        sections.append((("deployments",), "deployments", spec.deployments))
    locator = Locator(text)
    # Plans are stored in state and shown in reports: credentials belong in the environment.
    problems = [
        Problem(
            name,
            *locator.find(path, key=True),
            field_path(path),
            "looks like a secret: plans are stored and shown, so put it in the environment "
            "and name the variable (e.g. token_env: MY_TOKEN, or ${MY_TOKEN} in a header)",
        )
        for path in literal_secrets(data_of(spec))
    ]
    problems += _query_problems(spec, locator, name)
    for loc, kind, ps in sections:
        try:
            mod = registry.module_for(kind, ps.type)
        except InvalidInput as exc:
            line, col = locator.find((*loc, "type"))
            problems.append(Problem(name, line, col, field_path((*loc, "type")), str(exc)))
            continue
        try:
            mod.Config.model_validate(ps.options())
        except ValidationError as exc:
            problems += problems_from(exc, text, name, mod.Config, prefix=loc)
    if problems:
        raise SpecError(problems)
