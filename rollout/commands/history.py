"""`rollout history NAME`: the audit trail (weights, verdicts with their numbers, intents)."""

from __future__ import annotations

from rollout import output as out
from rollout.commands._common import find_run
from rollout.commands._common import store as open_state

SCHEMA = "rollout.history/v1"


def run(
    name: str,
    limit: int = 50,
    all_attempts: bool = False,
    state: str | None = None,
    output: str = "text",
) -> int:
    st = open_state(state)
    find_run(st, name)
    events = st.history(name, limit=limit, all_attempts=all_attempts)
    if output == "json":
        out.emit_json(SCHEMA, {"name": name, "events": [e.model_dump(mode="json") for e in events]})
        return 0
    for e in events:
        who = f" [{e.actor}]" if e.actor else ""
        attempt = f"#{e.attempt} " if all_attempts else ""
        out.line(f"{attempt}{e.at.isoformat(timespec='seconds')}  {e.kind:<8}{who} {e.message}")
    return 0
