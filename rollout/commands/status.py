"""`rollout status [NAME]`: phase, step, weights and the gates' latest verdicts.

Without a name it is `rollout list`. With `--watch` it follows the rollout (`rollout.watch`).
Read-only: the state store is never created here.
"""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import clock_or_system, find, find_run
from rollout.commands._lines import wave_line
from rollout.errors import EXIT_OK, EXIT_RUNTIME, EXIT_WAITING
from rollout.records import Holder, Run
from rollout.state import StateStore
from rollout.views import status as view
from rollout.views.screen import Screen
from rollout.wave_line import Line

POLL = 2.0  # seconds between looks at the store


def run(
    name: str | None = None,
    watch: bool = False,
    state: str | None = None,
    output: str = "text",
    timeout: float | None = None,
    clock: Clock | None = None,
) -> int:
    clock = clock_or_system(clock)
    if name is None:
        from rollout.commands import list_

        return list_.run(state=state, output=output, clock=clock)
    if watch:
        return follow(name, state, output, timeout, clock)
    from rollout import output as out
    from rollout.look import router_check

    wave_plan = wave_line(state, name)
    if wave_plan is not None:  # the parent name of a wave plan: every wave (rollout.wave_line)
        return waves_status(*wave_plan, output, clock)
    st, r = find(state, name)

    note = router_check(st, r, clock)  # heals an aborted run whose router disagrees
    if note is not None:
        out.warn(note)
        r = find_run(st, name, state)
    views.show(view, output, r, clock.now(), holder_of(st, name))
    return EXIT_OK


def waves_status(st: StateStore, line: Line, output: str, clock: Clock) -> int:
    """Each started wave looked at as `status NAME` looks (router checked, terminal runs healed),
    then one view of the line."""
    from rollout import output as out
    from rollout import wave_line as lines
    from rollout.look import router_check
    from rollout.views import wave_status

    runs = []
    for w in line.waves:
        r = line.runs.get(w["rollout"])
        if r is None:
            continue
        note = router_check(st, r, clock)
        if note is not None:
            out.warn(note)
        runs.append(find_run(st, r.name))
    rows = lines.rows(line.waves, {r.name: r for r in runs})
    views.show(wave_status, output, line.parent, rows, runs, clock.now())
    return EXIT_OK


def holder_of(st: StateStore, name: str) -> Holder | None:
    """Who is applying it now (SQLite, PostgreSQL and memory stores know; others say nothing)."""
    held = getattr(st, "holder", None)
    h: Holder | None = held(name) if held is not None else None
    return h


def follow(name: str, state: str | None, output: str, timeout: float | None, clock: Clock) -> int:
    """Look every POLL seconds until the rollout finishes, waits for a person, or `timeout`
    passes; exit with that outcome's code (0 completed, 3 rolled back, 4 aborted, 5 waiting).

    Waiting is a pause, an approval step, or nobody driving it (a run left at `--until`, or an
    apply that died): watching it longer would never end.
    """
    from rollout.runner import exit_code_for
    from rollout.views import watch as view

    st, r = find(state, name)
    deadline = None if timeout is None else clock.now().timestamp() + timeout
    with Screen(output) as screen:
        while True:
            r = find_run(st, name, state)
            now = clock.now()
            held = holder_of(st, name)
            if not screen.frame(view, r, now, held):
                return exit_code_for(r) or EXIT_OK  # the reader went away (`| head`)
            code, why = _outcome(st, r, held)
            if code is None and deadline is not None and now.timestamp() >= deadline:
                code, why = EXIT_WAITING, f"still {r.phase.value} after --timeout"
            if code is not None:
                screen.close(view, r, code, why)
                return code
            clock.sleep(POLL)


def _outcome(st: StateStore, r: Run, held: Holder | None) -> tuple[int | None, str]:
    from rollout.records import Phase
    from rollout.runner import exit_code_for

    code = exit_code_for(r)
    if r.phase.finished:
        return code, r.phase.value
    if code is not None:
        return code, f"waiting ({r.phase.value}): `rollout resume` or `rollout promote` continues"
    if getattr(st, "holder", None) is None or held is not None:
        return None, ""  # being driven (or the store cannot tell): keep watching
    if r.phase == Phase.ROLLING_BACK:
        return EXIT_RUNTIME, (
            f"rolling back but no apply is running: `rollout abort {r.name}` restores the baseline"
        )
    return EXIT_WAITING, f"{r.phase.value} but no apply is running: `rollout apply` continues"
