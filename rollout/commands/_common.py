"""Helpers the verbs share: loading a plan from CLI options, opening the store, finding a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rollout.errors import UnknownRollout
from rollout.records import Run
from rollout.state import StateStore, open_store


def load_plan(plan_file: Path, var: Sequence[str], var_file: Sequence[Path]):  # type: ignore[no-untyped-def]
    from rollout.load import load, parse_vars

    loaded = load(plan_file, variables=parse_vars(var), var_files=list(var_file))
    # Keep where the plan lives so relative paths (routes file, prompts) resolve from any cwd.
    plan = loaded.plan.model_copy(update={"source": str(Path(plan_file).resolve())})
    return loaded, plan


def store(url: str | None) -> StateStore:
    return open_store(url)


def find_run(st: StateStore, name: str) -> Run:
    run = st.load(name)
    if run is None:
        known = [r.name for r in st.runs()]
        hint = f"; known: {', '.join(known)}" if known else "; the state store has no rollouts"
        raise UnknownRollout(f"no rollout named {name!r}{hint}")
    return run
