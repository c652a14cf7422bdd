"""`rollout apply` on a plan with `waves:` (rollout.waves): the waves in order, one view."""

from __future__ import annotations

from typing import Any

from rollout import signals, views
from rollout.clock import Clock
from rollout.commands._common import store as open_state
from rollout.errors import InvalidInput
from rollout.records import Plan
from rollout.views import waves as view


def apply(
    plan: Plan,
    *,
    until: str | None,
    approve: bool,
    state: str | None,
    output: str,
    wait: bool,
    clock: Clock,
    extra: dict[str, Any] | None,
) -> int:
    from rollout import waves
    from rollout.progress import Progress

    if until is not None:
        raise InvalidInput(
            f"--until {until!r}: a wave plan runs whole waves; stop a wave with "
            f"`rollout pause {plan.name}-WAVE`"
        )
    waves.children(plan)  # a name that does not fit is refused before the store is opened
    st = open_state(state)
    with signals.as_interrupts(), Progress(json_mode=output == "json") as progress:
        code = waves.apply(
            plan, st=st, clock=clock, approve=approve, wait=wait, extra=extra, progress=progress
        )
    views.show(view, output, plan.name, waves.states(st, plan), code)
    return code
