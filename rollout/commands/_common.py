"""Helpers the verbs share: loading a plan from CLI options, opening the store, finding a run.

Only `apply` may create a state store. Every other verb opens an existing one: a SQLite file
that does not exist means "no rollouts here", said with the path that was looked at, and
nothing is created (an on-call engineer in the wrong directory must not be misled by a fresh,
empty `.rollout/state.db`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rollout.clock import Clock, SystemClock
from rollout.errors import UnknownRollout
from rollout.records import Run
from rollout.state import StateStore, open_store, sqlite_path, state_url


def load_plan(  # type: ignore[no-untyped-def]
    plan_file: Path, var: Sequence[str], var_file: Sequence[Path], *, evaluate_checks: bool = True
):
    from rollout.loading import load, parse_vars

    loaded = load(
        plan_file,
        variables=parse_vars(var),
        var_files=list(var_file),
        evaluate_checks=evaluate_checks,
    )
    # Keep where the plan lives so relative paths (routes file, prompts) resolve from any cwd.
    plan = loaded.plan.model_copy(update={"source": str(Path(plan_file).resolve())})
    return loaded, plan


def clock_or_system(clock: Clock | None) -> Clock:
    return clock if clock is not None else SystemClock()


def url_of(url: str | None) -> str:
    """The store URL as opened: --state, else ROLLOUT_STATE, else the default; bare paths are
    SQLite files."""
    url = state_url(url)
    return url if "://" in url else "sqlite:///" + url


def where(url: str | None) -> str:
    """The store in words, for messages: the SQLite file's absolute path, or the redacted URL."""
    from rollout.redact import redact_text

    full = url_of(url)
    if full.startswith("sqlite:"):
        return f"the SQLite store {sqlite_path(full).resolve()}"
    return f"the state store {redact_text(full)}"


def store(url: str | None) -> StateStore:
    """Open the store, creating it if needed: for `apply` only."""
    return open_store(url_of(url))


def existing_store(url: str | None) -> StateStore | None:
    """Open the store if it exists; None for a SQLite file that is not there (never created)."""
    full = url_of(url)
    if full.startswith("sqlite:") and not sqlite_path(full).exists():
        return None
    return open_store(full)


def find(url: str | None, name: str) -> tuple[StateStore, Run]:
    """The store and the latest attempt of `name`; UnknownRollout names where it looked."""
    st = existing_store(url)
    if st is None:
        raise UnknownRollout(
            f"no rollout named {name!r}: no SQLite state store at "
            f"{sqlite_path(url_of(url)).resolve()} "
            "(nothing was created; pass --state URL or set ROLLOUT_STATE to the store the "
            "rollout was applied with)"
        )
    return st, find_run(st, name, url)


def find_run(st: StateStore, name: str, url: str | None = None) -> Run:
    run = st.load(name)
    if run is None:
        known = [r.name for r in st.runs()]
        hint = f"; known: {', '.join(known)}" if known else "; it has no rollouts"
        raise UnknownRollout(f"no rollout named {name!r} in {where(url)}{hint}")
    return run
