"""`rollout history NAME`: the audit trail (weights, verdicts with their numbers, intents)."""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import find
from rollout.commands._lines import wave_line
from rollout.errors import EXIT_OK
from rollout.views import history as view


def run(
    name: str,
    limit: int = 50,
    all_attempts: bool = False,
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    wave_plan = wave_line(state, name)
    if wave_plan is not None:  # the parent name of a wave plan: every wave's trail, by time
        from rollout.views import wave_history

        st, line = wave_plan
        tagged = [
            (w["wave"], w["rollout"], e)
            for w in line.waves
            if w["rollout"] in line.runs
            for e in st.history(w["rollout"], limit=limit, all_attempts=all_attempts)
        ]
        tagged.sort(key=lambda t: t[2].at)  # stable: a wave's own order kept at equal times
        views.show(wave_history, output, name, tagged[-limit:] if limit else tagged, all_attempts)
        return EXIT_OK
    st, _ = find(state, name)
    events = st.history(name, limit=limit, all_attempts=all_attempts)
    views.show(view, output, name, events, all_attempts)
    return EXIT_OK
