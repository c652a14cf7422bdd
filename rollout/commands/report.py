"""`rollout report NAME [--format markdown|html]`: a summary for people (CI job summaries, archives)."""

from __future__ import annotations

import sys

from rollout.commands._common import find_run
from rollout.commands._common import store as open_state


def run(name: str, fmt: str = "markdown", state: str | None = None) -> int:
    from rollout import report

    st = open_state(state)
    r = find_run(st, name)
    sys.stdout.write(report.render(r, st.history(name, limit=0), fmt))
    return 0
