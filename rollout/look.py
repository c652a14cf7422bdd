"""One look at the router for a stored run, from any verb that reads it (status, history...).

Level-triggered like Argo's reconcile: an aborted or rolled-back run must serve the baseline, so
a look that finds the router elsewhere (an abort that could not restore it, a stale writer, a
person) puts the baseline back, verifies it and records that — an incomplete abort is healed by
the next command, not left as a lie. A run still moving is only compared: the runner that holds
it heals its own drift, and a look must not race it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from rollout.clock import Clock
from rollout.errors import RolloutError
from rollout.records import Event, Phase, Run, Weights
from rollout.routers import Router
from rollout.state import StateStore
from rollout.state.update import update

TERMINAL = (Phase.ABORTED, Phase.ROLLED_BACK)


def set_and_verify(router: Router, weights: Weights) -> str | None:
    """Set the router and read it back: None when it serves `weights`, else why not. Used toward
    safety (the baseline) by abort, `apply --restart` and this module; never fenced."""
    try:
        router.set_weights(weights)
        seen = router.get_weights()
    except RolloutError as exc:
        return str(exc)
    if seen != weights:
        return f"the router reports {seen} after being set to {weights}"
    return None


def router_check(
    st: StateStore, run: Run, clock: Clock, extra: dict[str, Any] | None = None
) -> str | None:
    """None when the router agrees with the record; else what was found (and done)."""
    if run.phase == Phase.COMPLETED or run.desired is None:
        return None
    from rollout.providers import build_router

    expected = Weights.all_baseline() if run.phase in TERMINAL else run.desired
    try:
        router = build_router(run.plan, extra)
        seen = router.get_weights()
    except RolloutError as exc:
        return f"the router could not be read: {exc}"
    if seen == expected:
        return None
    found = f"router serves {seen.candidate} % candidate; expected {expected.candidate} %"
    if run.phase not in TERMINAL:
        return found + " (the runner holding it re-asserts the recorded weights)"
    problem = set_and_verify(router, expected)
    if problem is not None:
        return f"{found}; could not restore the baseline: {problem}"
    _note(st, run, clock, f"{found}: baseline re-asserted and verified", seen, expected)
    return f"{found}: baseline re-asserted and verified"


def _note(
    st: StateStore, run: Run, clock: Clock, message: str, seen: Weights, expected: Weights
) -> None:
    ev = Event(
        kind="drift",
        at=clock.now(),
        message=message,
        data={"observed": seen.model_dump(), "desired": expected.model_dump(), "by": "look"},
    )
    with contextlib.suppress(RolloutError):
        update(
            st,
            run.name,
            lambda latest: (latest.model_copy(update={"verified": expected}), [ev]),
            what="record the re-asserted baseline",
        )
