"""plan.yaml -> (PlanSpec, Plan): read (bounded), render (bounded jinja2 sandbox), parse (YAML
with bounded aliases), validate (pydantic plus the checks it cannot express), compile.

A plan is untrusted input: it comes from pull requests, templates and `--var`s. Every problem
is reported as `file:line:col: field.path: message` and raised as SpecError (exit 2), always
before any state is written or traffic moves. Nothing is written anywhere.

The modules, one job each: `read` (files and YAML, with limits), `template` (the sandbox and
the opt-in environment), `diagnostics` (positions and messages), `checks` (rules past the
schema). This module is the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rollout.compile import compile_plan
from rollout.errors import Problem, SpecError
from rollout.loading import checks, judge_noise, read, template
from rollout.loading.checks import data_of
from rollout.loading.diagnostics import Locator, field_path, no_duplicate_keys, problems_from
from rollout.loading.read import Loader, parse_yaml
from rollout.loading.template import render
from rollout.records import VARIANTS, Plan
from rollout.spec import PlanSpec

__all__ = [
    "QUERY_PLACEHOLDERS",
    "RUNTIME_PLACEHOLDERS",
    "Loaded",
    "Loader",
    "data_of",
    "load",
    "parse_vars",
    "parse_yaml",
    "problems_from",
    "render",
    "validate",
]

# Placeholders filled per query at run time; plan rendering leaves them as they are.
QUERY_PLACEHOLDERS = ("variant", "target", "window", "model", "model_version", "stage", "interval")
# Filled by the `http` router's body template when it sends (weights per variant).
RUNTIME_PLACEHOLDERS = (*QUERY_PLACEHOLDERS, "baseline", "candidate")


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
    evaluate_checks: bool = True,
) -> Loaded:
    """`evaluate_checks=False` (abort --plan): the eval command's dataset and program are not
    looked for; a verb that never runs the evaluation must not fail for want of them."""
    path = Path(path)
    name = str(path)
    raw = read.read_text(path, "a plan file")
    listed = template.listed_env(raw)
    envview = template.EnvView(env if env is not None else os.environ, listed)
    context = _variables(var_files, variables or {}, envview)
    text = render(raw, name, context)
    try:
        spec, data, locator = _parse(text, name, listed)
        if any(g.judge_noise is not None for g in spec.gates):  # its files, read once here
            spec = judge_noise.resolve(spec, path.parent, locator, name)
        digests = _prompt_digests(spec, path.parent, locator, name)
        if spec.evaluate is not None and evaluate_checks:  # dataset, cwd, program (evaluation)
            from rollout.evaluation.checks import problems as evaluate_problems

            if found := evaluate_problems(spec, path.parent, locator, name):
                raise SpecError(found)
        checks.check_providers(spec, data, text, locator, name)
        plan = compile_plan(spec, digests, source=name)
        checks.compiled_size_problem(len(plan.model_dump_json()), name)
    except SpecError as exc:
        if text.count("\n") == raw.count("\n"):
            raise
        # `{% if %}` blocks removed lines: positions are in the rendered text; say so.
        note = " (line numbers refer to the rendered template)"
        raise SpecError([replace(p, message=p.message + note) for p in exc.problems]) from None
    return Loaded(spec=spec, plan=plan, path=path)


def _parse(text: str, name: str, listed: list[str]) -> tuple[PlanSpec, Any, Locator]:
    root = read.compose(text, name)
    read.check_expansion(root, name)
    no_duplicate_keys(root, name)
    data = read.construct(root, text, name)
    locator = Locator(text, root)
    problems = checks.value_problems(data, locator, name)
    problems += checks.env_list_problems(data, listed, locator, name)
    problems += checks.bool_messages(checks.bool_problems(data, PlanSpec), locator, name)
    if problems:
        raise SpecError(problems)
    return validate(data, text, name, locator), data, locator


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise SpecError([Problem("--var", None, None, "", f"{p[:80]!r} is not k=v")])
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def _variables(
    var_files: Sequence[Path | str], variables: Mapping[str, Any], env: template.EnvView
) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for f in var_files:
        fname = str(f)
        data = parse_yaml(read.read_text(Path(f), "a var file"), fname)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SpecError(
                [Problem(fname, 1, 1, "", "a var file is a mapping of names to values")]
            )
        ctx.update(data)
    ctx.update(variables)
    ctx["env"] = env  # never a var: `env` is the opt-in view of the environment
    for p in RUNTIME_PLACEHOLDERS:
        ctx.setdefault(p, "{{ " + p + " }}")
    return ctx


def validate(data: Any, text: str, name: str, locator: Locator | None = None) -> PlanSpec:
    if not isinstance(data, dict):
        raise SpecError(
            [Problem(name, 1, 1, "", "a plan is a YAML mapping (apiVersion, kind, name, ...)")]
        )
    try:
        return PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from(exc, text, name, PlanSpec, locator=locator)) from None


def _prompt_digests(
    spec: PlanSpec, plan_dir: Path, locator: Locator, name: str
) -> dict[str, str | None]:
    """Prompts are plan files: regular, size-limited, inside the plan's folder (or prompt_root)."""
    root = plan_dir / spec.prompt_root if spec.prompt_root else plan_dir
    out: dict[str, str | None] = {}
    problems = []
    for v in VARIANTS:
        prompt = getattr(spec.variants, v).prompt
        if prompt is None:
            out[v] = None
            continue
        try:
            out[v] = read.prompt_digest(prompt, plan_dir, root)
        except ValueError as exc:
            loc = ("variants", v, "prompt")
            line, col = locator.find(loc)
            problems.append(Problem(name, line, col, field_path(loc), str(exc)))
    if problems:
        raise SpecError(problems)
    return out
