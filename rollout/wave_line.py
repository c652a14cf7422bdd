"""A wave plan's line as the state store has it: the parent name resolved without the plan file.

Each wave's rollout records, in the `wave` event that creates it, the line it belongs to
(`lineage`): the parent plan's name and hash and every declared wave (name, rollout,
on_failure, approval), so `status`, `history` and `report` of the parent name work from any
machine with only the state store. Rows written before the lineage was recorded still resolve:
the parent is the rollout name less `-<wave>`, the waves are those created plus those a
`wave-stop` event names as never started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rollout.records import Event, Phase, Run, Weights

if TYPE_CHECKING:
    from rollout.records import Plan
    from rollout.state import StateStore
    from rollout.waves import Child

FAILED = (Phase.ROLLED_BACK, Phase.ABORTED)


def lineage(plan: Plan, kids: list[Child]) -> dict[str, Any]:
    """What each wave's `wave` event carries about its line (pure)."""
    return {
        "parent": plan.name,
        "parent_plan_hash": plan.plan_hash,
        "waves": [
            {
                "wave": k.wave.name,
                "rollout": k.plan.name,
                "on_failure": k.wave.on_failure,
                "approval": k.wave.approval,
            }
            for k in kids
        ],
    }


@dataclass(frozen=True)
class Line:
    parent: str
    waves: list[dict[str, Any]]  # as `lineage` declares them, in order
    runs: dict[str, Run]  # rollout name -> its latest attempt (created waves only)


def find(st: StateStore, name: str) -> Line | None:
    """The wave line whose parent plan is `name`, or None (no rollout of the store belongs to
    one). The newest lineage wins when the plan was edited between waves."""
    prefix = f"{name}-"
    runs = {r.name: r for r in st.runs() if r.name.startswith(prefix)}
    newest: Event | None = None
    legacy = False
    stopped: list[str] = []
    for r in runs.values():
        for e in st.history(r.name, limit=0, all_attempts=True):
            if e.kind == "wave-stop":
                stopped += [w for w in e.data.get("never_started", []) if w not in stopped]
            if e.kind != "wave" or not _belongs(e, r.name, name):
                continue
            if "waves" not in e.data:
                legacy = True
            elif newest is None or e.at >= newest.at:
                newest = e
    if newest is not None:
        waves = list(newest.data["waves"])
    elif legacy:
        waves = _legacy_line(st, runs, name, stopped)
    else:
        return None
    ours = {w["rollout"] for w in waves}
    return Line(name, waves, {n: r for n, r in runs.items() if n in ours})


def _belongs(e: Event, rollout: str, parent: str) -> bool:
    if "parent" in e.data:
        return bool(e.data["parent"] == parent)
    return rollout == f"{parent}-{e.data.get('wave')}"


def _legacy_line(
    st: StateStore, runs: dict[str, Run], parent: str, stopped: list[str]
) -> list[dict[str, Any]]:
    """A line recorded before lineage: the created waves by index, then those never started."""
    found: list[tuple[int, dict[str, Any]]] = []
    for r in runs.values():
        for e in st.history(r.name, limit=0, all_attempts=True):
            if e.kind == "wave" and _belongs(e, r.name, parent):
                found.append((int(e.data.get("index", 0)), _declared(e.data["wave"], r.name)))
                break
    waves = [w for _, w in sorted(found, key=lambda x: x[0])]
    names = {w["wave"] for w in waves}
    waves += [_declared(w, f"{parent}-{w}") for w in stopped if w not in names]
    return waves


def _declared(wave: str, rollout: str) -> dict[str, Any]:
    return {"wave": wave, "rollout": rollout, "on_failure": None, "approval": None}


def rows(waves: list[dict[str, Any]], runs: dict[str, Run | None]) -> list[dict[str, Any]]:
    """One row per wave for the views (`rollout.waves/v1`'s `waves`): pure."""
    out = []
    for i, w in enumerate(waves, 1):
        run = runs.get(w["rollout"])
        weights = (run.verified or run.desired or Weights.all_baseline()) if run else None
        out.append(
            {
                "wave": w["wave"],
                "index": i,
                "rollout": w["rollout"],
                "approval": w.get("approval"),
                "on_failure": w.get("on_failure"),
                "phase": run.phase.value if run is not None else "not started",
                "candidate": weights.candidate if weights is not None else 0,
                "attempt": run.attempt if run is not None else None,
                "message": run.message if run is not None else "",
            }
        )
    return out


def stopped(rows_: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where the line stopped (the first wave that failed itself, not one rolled back after a
    later wave failed), and the waves that never started because of it; None while it goes on."""
    failed = [r for r in rows_ if r["phase"] in {p.value for p in FAILED}]
    later_missing = [r for r in rows_ if r["phase"] == "not started"]
    if not failed:
        return None
    # earlier waves rolled back by on_failure come before the wave that failed: take the last
    # failed wave that has no created wave after it
    last = max(failed, key=lambda r: r["index"])
    never = [r for r in later_missing if r["index"] > last["index"]]
    names = ", ".join(f"wave {r['index']} {r['wave']}" for r in never)
    why = f"wave {last['index']} {last['wave']} {last['phase'].replace('_', ' ')}"
    message = f"the line stopped: {why}" + (
        f"; {names} never started because {why}" if never else ""
    )
    return {
        "wave": last["wave"],
        "index": last["index"],
        "phase": last["phase"],
        "never_started": [r["wave"] for r in never],
        "message": message,
    }


def document(name: str, rows_: list[dict[str, Any]]) -> dict[str, Any]:
    """The `waves` part of plan/status/report JSON: {"parent", "waves", "stopped"}."""
    return {"parent": name, "waves": rows_, "stopped": stopped(rows_)}


__all__ = ["Line", "document", "find", "lineage", "rows", "stopped"]
