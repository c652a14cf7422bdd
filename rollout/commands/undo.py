"""`rollout undo NAME`: a completed rollout made the candidate the new baseline; undo starts a
new rollout back to the previous one, with the same gates, stages and router.

The undo plan is the stored plan with the variants swapped (the old baseline becomes the
candidate), named `NAME-undo` (or `--name`), its description saying what it undoes. It is
written as a plan file — `--write PATH` to review it (nothing starts), else next to the original
plan as `NAME-undo.yaml` (the plan's relative paths — prompts, the routes file — keep meaning
the same files) — and started with `rollout apply` on that file, so it runs (and resumes, and is
re-run by `rollout apply NAME-undo.yaml`) like any rollout. Traffic moves back gradually,
judged by the same gates: the old baseline is a candidate now, and a broken one is rolled back.

The previous baseline's fingerprint (model, version, params, prompt text) must be what the
original rollout recorded: if its prompt file changed since, the undo would not return to what
served before, so it is refused (exit 2) unless written out with --write for review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find
from rollout.errors import EXIT_OK, InvalidInput
from rollout.records import Phase, Run
from rollout.spec import NAME_RE
from rollout.views import undo as view

MAX_NAME = 63


def undo_name(name: str) -> str:
    return f"{name[: MAX_NAME - len('-undo')]}-undo"


def undo_document(run: Run, new_name: str) -> dict[str, Any]:
    """The plan document of the undo: the stored plan, variants swapped, renamed."""
    data: dict[str, Any] = run.plan.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    variants = data["variants"]
    data["variants"] = {"baseline": variants["candidate"], "candidate": variants["baseline"]}
    data["name"] = new_name
    data["description"] = (
        f"Undo of {run.name} (attempt {run.attempt}, plan {run.plan_hash[:12]}, completed "
        f"{run.updated_at.isoformat(timespec='seconds')}): back to "
        f"{_describe(variants['baseline'])} from {_describe(variants['candidate'])}."
    )
    return data


def _describe(v: dict[str, Any]) -> str:
    return f"{v.get('model')}" + (f" {v['model_version']}" if v.get("model_version") else "")


def render(data: dict[str, Any], original: str) -> str:
    """The plan file: YAML inside `{% raw %}` (the loader renders plans with jinja2 first, and
    the stored plan's query placeholders such as `{{ variant }}` must reach the engine)."""
    import yaml

    head = (
        f"# Written by `rollout undo {original}`: the stored plan of {original} with the\n"
        "# variants swapped (the previous baseline is the candidate). Review, then:\n"
        f"#   rollout apply THIS_FILE\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return head + "{% raw %}\n" + body + "{% endraw %}\n"


def run(
    name: str,
    write: Path | None = None,
    new_name: str | None = None,
    approve: bool = False,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    clock = clock_or_system(clock)
    _, r = find(state, name)
    if r.phase != Phase.COMPLETED:
        hint = (
            f"`rollout abort {name}` restores the baseline of a rollout that is still moving"
            if not r.phase.finished
            else "its baseline is already serving"
        )
        raise InvalidInput(
            f"{name} is {r.phase.value}: only a completed rollout can be undone ({hint})"
        )
    target = new_name or undo_name(name)
    import re

    if not re.match(NAME_RE, target):
        raise InvalidInput(f"--name {target!r}: a rollout name is lowercase letters, digits, .-_")
    if target == name:
        raise InvalidInput("--name: the undo needs a name of its own")
    source = Path(r.plan.source) if r.plan.source else None
    if write is None and (source is None or not source.parent.is_dir()):
        raise InvalidInput(
            f"the plan of {name} was applied from {r.plan.source or 'an unknown file'}, which "
            "is not on this machine: write the undo plan with --write PATH in the directory "
            "its relative paths (prompts, routes file) start from, then `rollout apply PATH`"
        )
    path = write if write is not None else source.parent / f"{target}.yaml"  # type: ignore[union-attr]
    text = render(undo_document(r, target), name)
    path.write_text(text, encoding="utf-8")
    changed = _changed_fingerprints(r, path)
    if write is not None:
        views.show(view, output, name, target, str(path), changed, started=False)
        return EXIT_OK
    if changed:
        raise InvalidInput(
            f"the previous baseline's {', '.join(changed)} changed since {name} ran (its "
            f"recorded fingerprint differs), so the undo would not return to what served. "
            f"Review the plan written to {path} and apply it if it is right"
        )
    if output != "json":  # with -o json, apply's document is the one document
        views.show(view, output, name, target, str(path), changed, started=True)
    from rollout.commands import apply

    return apply.run(path, approve=approve, state=state, output=output, clock=clock, extra=extra)


def _changed_fingerprints(r: Run, path: Path) -> list[str]:
    """Which variants of the undo plan no longer match what the original rollout recorded."""
    from rollout.commands._common import load_plan

    _, plan = load_plan(path, (), ())
    want = {
        "baseline": r.plan.fingerprints["candidate"],
        "candidate": r.plan.fingerprints["baseline"],
    }
    role = {"baseline": f"new baseline ({r.name}'s candidate)", "candidate": "previous baseline"}
    return [role[v] for v in ("candidate", "baseline") if plan.fingerprints.get(v) != want[v]]
