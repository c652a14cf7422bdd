"""`rollout report NAME [--format markdown|md|html]`: a summary for people (CI job summaries,
archives); `-o json` gives the facts it is made from."""

from __future__ import annotations

from rollout import views
from rollout.clock import Clock
from rollout.commands._common import find
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
    st, r = find(state, name)
    views.show(view, output, r, st.history(name, limit=0), ALIASES[fmt])
    return EXIT_OK
