"""Plan snapshots stored once: what the SQLite and PostgreSQL stores share about their `plans`
table (schema 2).

A run's plan snapshot is most of its stored document and never changes while the run goes on,
so it lives in a table keyed by the sha256 of its JSON (the stored text itself: two snapshots
with one plan hash may still differ, e.g. in `source`), and a run row names it by that key. A
commit writes only the run's mutable part; it stores the plan only when this store has not
stored or loaded that very plan object before (`PlanKeys`, by identity, weakly: a look's run
keeps the plan object it was loaded with, so a steady look never serialises its plan).
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from typing import Any

from rollout.errors import StateError
from rollout.records import Plan, Run


def snapshot(plan: Plan) -> tuple[str, str]:
    """(key, text) of a plan snapshot as stored."""
    text = plan.model_dump_json()
    return hashlib.sha256(text.encode()).hexdigest(), text


def mutable(run: Run) -> str:
    """The run document without its plan: what every commit writes."""
    return run.model_dump_json(exclude={"plan"})


class PlanKeys:
    """Which plan objects this store holds a row for, by identity; and the plan objects it
    parsed, by key, while they are alive (two loads in one look share one parse)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[int, tuple[weakref.ref[Plan], str]] = {}
        self._plans: weakref.WeakValueDictionary[str, Plan] = weakref.WeakValueDictionary()

    def key_of(self, plan: Plan) -> str | None:
        """The key this plan is stored under, if this store stored or loaded it."""
        found = self._keys.get(id(plan))
        return found[1] if found is not None and found[0]() is plan else None

    def remember(self, plan: Plan, key: str) -> None:
        ident = id(plan)

        def gone(_: object) -> None:
            with self._lock:
                entry = self._keys.get(ident)
                if entry is not None and entry[0]() is None:
                    del self._keys[ident]

        with self._lock:
            self._keys[ident] = (weakref.ref(plan, gone), key)
            self._plans[key] = plan

    def parsed(self, key: str, text: str) -> Plan:
        from rollout.state import redacting

        plan = self._plans.get(key)
        if plan is None:
            plan = Plan.model_validate_json(text)
            self.remember(plan, key)
            redacting.stored(plan, text)
        return plan


def run_of(
    body: Any, key: str | None, plan_text: str | None, keys: PlanKeys, where: Callable[[], str]
) -> Run:
    """A stored run row back as a Run. `body` is JSON text (SQLite) or already parsed (jsonb);
    `where` names the store in the error about a missing plan row."""
    data = json.loads(body) if isinstance(body, str | bytes) else body
    if key is None:  # written before schema 2: the plan is in the body; the next commit moves it
        return Run.model_validate(data)
    if plan_text is None:
        raise StateError(f"{where()}: run row references plan {key[:12]}, which is not stored")
    return Run.model_validate({**data, "plan": keys.parsed(key, plan_text)})
