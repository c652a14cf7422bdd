"""`rollout validate PLAN...`: check plan files, one line each; exit 2 if any is invalid.

Reads only: no state store is opened and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_INVALID, EXIT_OK, SpecError
from rollout.loading import load, parse_vars
from rollout.views import judge_noise as noise
from rollout.views import validate as view


def run(
    plans: Sequence[Path],
    var: Sequence[str],
    var_file: Sequence[Path],
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    variables = parse_vars(var)  # a bad --var is one error for all files (SpecError, exit 2)
    results: list[dict[str, Any]] = []
    for path in plans:
        results.append(check(path, variables, var_file))
    views.show(view, output, results)
    return EXIT_OK if all(r["valid"] for r in results) else EXIT_INVALID


def check(path: Path, variables: dict[str, str], var_files: Sequence[Path]) -> dict[str, Any]:
    """One file's verdict as a JSON-ready dict."""
    try:
        loaded = load(path, variables=variables, var_files=var_files)
    except SpecError as exc:
        return {
            "file": str(path),
            "valid": False,
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "field": p.field,
                    "message": p.message,
                    "text": str(p),
                }
                for p in exc.problems
            ],
        }
    plan = loaded.plan
    return {
        "file": str(path),
        "valid": True,
        "name": plan.name,
        "steps": len(plan.steps),
        "plan_hash": plan.plan_hash,
        "fingerprints": plan.fingerprints,
        "judge_noise": noise.figures(plan.spec),  # measured from a file at load
    }
