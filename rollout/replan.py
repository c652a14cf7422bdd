"""A plan edited mid-rollout: what changed, and whether the run can go on in place. Pure.

Editing a plan must never move traffic backwards silently (0.1 restarted at the pilot: weights
went 5 -> 25 -> 50 -> 5). Compatible edits — bakes, gate bounds, approvals, analysis settings,
stages after the current one — continue in place: same attempt, same step, evidence kept. Edits
that change what is being compared or where traffic goes — the variants, the router, the weights
already taken — are refused unless `apply --restart`, which first returns the old router to the
baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.records import Plan, Run

MAX_LINES = 20


@dataclass(frozen=True)
class Replan:
    changes: list[str]  # human lines: "stages[1].bake: 3600 -> 1800"
    blockers: list[str] = field(default_factory=list)  # why it cannot continue in place
    step_index: int | None = None  # where the run continues in the new plan

    @property
    def in_place(self) -> bool:
        return not self.blockers and self.step_index is not None


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Leaf-level differences between two JSON values, as `path: old -> new`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append(f"{sub}: added")
            elif k not in b:
                out.append(f"{sub}: removed")
            else:
                out += diff(a[k], b[k], sub)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            line
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for line in diff(x, y, f"{path}[{i}]")
        ]
    if a != b:
        return [f"{path}: {_short(a)} -> {_short(b)}"]
    return []


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _shifts_done(plan: Plan, index: int) -> list[int]:
    return [s.weight or 0 for s in plan.steps[:index] if s.kind == "set_weight"]


def compare(old: Plan, new: Plan, run: Run) -> Replan:
    changes = diff(old.spec.model_dump(mode="json"), new.spec.model_dump(mode="json"))
    if old.fingerprints != new.fingerprints:
        changed = [v for v in new.fingerprints if old.fingerprints.get(v) != new.fingerprints[v]]
        changes.append(
            f"variant fingerprints changed: {', '.join(changed)} (model, params or prompt)"
        )
    blockers: list[str] = []
    if old.spec.variants != new.spec.variants or old.fingerprints != new.fingerprints:
        blockers.append("the variants changed (model, version, prompt, params or target)")
    if old.spec.router != new.spec.router:
        blockers.append("the router changed")
    done = _shifts_done(old, run.step_index)
    if done and _evaluation_changed(old, new):
        blockers.append(
            "the evaluation was added or its judgement changed, and it runs before any traffic "
            "(`apply --restart` evaluates from the start)"
        )
    index = _map_position(old, new, run, len(done))
    if index is None:
        blockers.append(
            "the stages already taken changed, so the current step has no place in the new plan"
        )
    elif _shifts_done(new, index) != done:
        now, then = (done[-1] if done else 0), _shifts_done(new, index)
        blockers.append(
            f"the weights already taken changed ({done} -> {then}); continuing would move "
            f"traffic from {now}% to {then[-1] if then else 0}%"
        )
    return Replan(
        changes=changes[:MAX_LINES]
        + ([f"... and {len(changes) - MAX_LINES} more"] if len(changes) > MAX_LINES else []),
        blockers=blockers,
        step_index=index,
    )


def _evaluation_changed(old: Plan, new: Plan) -> bool:
    """What the offline evaluation judges (not its timeout or env) differs in `new`."""
    a, b = old.spec.evaluate, new.spec.evaluate
    if b is None:
        return False  # removed: it already ran (or never existed) before the first shift
    keys = ("command", "dataset", "gates", "alpha", "min_items", "max_missing")
    return a is None or any(getattr(a, k) != getattr(b, k) for k in keys)


def _map_position(old: Plan, new: Plan, run: Run, shifts: int) -> int | None:
    """The step in `new` that stands where the run stands in `old`: the same number of shifts
    behind it, and the same kind of step if the new plan has one there."""
    kind = old.steps[run.step_index].kind if run.step_index < len(old.steps) else "promote"
    candidates = [
        i
        for i in range(len(new.steps))
        if new.steps[i].kind != "preflight" or run.step_index == 0
        if sum(1 for s in new.steps[:i] if s.kind == "set_weight") == shifts
    ]
    for i in candidates:
        if new.steps[i].kind == kind:
            return i
    return candidates[0] if candidates else None
