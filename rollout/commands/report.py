"""`rollout report NAME [--format markdown|md|html]`: a summary for people (CI job summaries,
archives); `-o json` gives the facts it is made from."""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import find
from rollout.commands._lines import wave_line
from rollout.errors import EXIT_OK, InvalidInput
from rollout.views import report as view

ALIASES = {"md": "markdown", "markdown": "markdown", "html": "html"}


def run(
    name: str,
    fmt: str = "markdown",
    state: str | None = None,
    output: str = "text",
    clock: Clock | None = None,
) -> int:
    if fmt not in ALIASES:
        raise InvalidInput(f"--format {fmt!r}: use markdown (or md) or html")
    wave_plan = wave_line(state, name)
    if wave_plan is not None:  # the parent name of a wave plan: the line, then each wave
        from rollout import wave_line as lines
        from rollout.views import wave_report

        st, line = wave_plan
        runs = [(r, st.history(r.name, limit=0)) for r in line.runs.values()]
        order = {w["rollout"]: i for i, w in enumerate(line.waves)}
        runs.sort(key=lambda x: order[x[0].name])
        rows = lines.rows(line.waves, dict(line.runs))
        views.show(wave_report, output, name, rows, runs, ALIASES[fmt])
        return EXIT_OK
    st, r = find(state, name)
    views.show(view, output, r, st.history(name, limit=0), ALIASES[fmt])
    return EXIT_OK
