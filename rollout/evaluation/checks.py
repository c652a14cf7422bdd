"""Load-time checks of the `evaluate:` section past its schema, located like every plan error
(`plan.yaml:12:12: evaluate.dataset: ...`, exit 2, nothing written): the dataset is a regular
file inside the plan's folder (or prompt_root), the working directory exists, and the
command's program can be found. The eval itself is not run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from rollout.errors import Problem


def problems(spec: Any, plan_dir: Path, locator: Any, name: str) -> list[Problem]:
    """`spec` is the PlanSpec; `locator` maps a field path to (line, column)."""
    ev = spec.evaluate
    if ev is None:
        return []
    out: list[Problem] = []

    def problem(loc: tuple[str | int, ...], msg: str) -> None:
        from rollout.loading.diagnostics import field_path

        line, col = locator.find(("evaluate", *loc))
        out.append(Problem(name, line, col, field_path(("evaluate", *loc)), msg))

    root = plan_dir / spec.prompt_root if spec.prompt_root else plan_dir
    ds = Path(ev.dataset)
    ds = ds if ds.is_absolute() else plan_dir / ds
    if not Path(os.path.abspath(ds)).is_relative_to(Path(os.path.abspath(root))):
        problem(
            ("dataset",),
            f"dataset {ds} is outside {root.resolve()}; keep it in the plan's folder, or set "
            "prompt_root to the folder that holds it",
        )
    elif not ds.is_file():
        problem(("dataset",), f"dataset not found: {ds}")
    cwd = plan_dir if ev.cwd is None else plan_dir / ev.cwd
    if not cwd.is_dir():
        problem(("cwd",), f"working directory {cwd} does not exist")
        return out
    if isinstance(ev.command, str):
        if not ev.command.strip():
            problem(("command",), "the command is empty")
        return out  # a shell string: /bin/sh resolves it at run time
    prog = ev.command[0]
    if "/" in prog:
        p = Path(prog) if Path(prog).is_absolute() else cwd / prog
        if not (p.is_file() and os.access(p, os.X_OK)):
            problem(("command", 0), f"{p} is not an executable file")
    elif shutil.which(prog, path={**os.environ, **ev.env}.get("PATH")) is None:
        problem(("command", 0), f"{prog!r} is not on PATH")
    return out
