"""Fill a gate query's placeholders for one variant and one window (no jinja at run time).

The plan file itself is rendered by jinja2 when it is loaded; `load` leaves the query
placeholders below untouched (as `{{ name }}`) so that they can be filled here, per variant
and per analysis window, with a plain regex. Values:

    {{ variant }}        baseline | candidate
    {{ target }}         what the router calls the variant (deployment, backend); default:
                         the variant
    {{ window }}         the query window as a PromQL/KQL duration: `60s`
    {{ model }}          the variant's model
    {{ model_version }}  the variant's model version ("" when the plan gives none)
    {{ stage }}          the stage being analysed
    {{ interval }}       analysis.interval as a duration: `60s`

Anything else between `{{ }}` is InvalidInput naming the known placeholders.
"""

from __future__ import annotations

import re

from rollout.errors import InvalidInput
from rollout.metrics import Window

# Kept equal to rollout.loading.QUERY_PLACEHOLDERS (a test checks): load leaves exactly these alone.
PLACEHOLDERS = ("variant", "target", "window", "model", "model_version", "stage", "interval")

# Any `{{ ... }}`, so that filters or expressions (`{{ variant | upper }}`) are reported, not
# silently sent to the metrics backend.
_PLACEHOLDER = re.compile(r"{{(.*?)}}", re.S)
_NAME = re.compile(r"^\s*([A-Za-z_]\w*)\s*$")


def render_query(
    template: str,
    *,
    variant: str,
    target: str,
    window: Window,
    model: str,
    model_version: str | None,
    stage: str,
    interval: int,
) -> str:
    """`template` with every placeholder filled; raises InvalidInput for an unknown one."""
    values = {
        "variant": variant,
        "target": target,
        "window": window.promql,
        "model": model,
        "model_version": model_version or "",
        "stage": stage,
        "interval": f"{max(1, int(interval))}s",
    }

    def sub(m: re.Match[str]) -> str:
        name = _NAME.match(m.group(1))
        if name is None or name.group(1) not in values:
            shown = m.group(0) if len(m.group(0)) <= 60 else m.group(0)[:57] + "...}}"
            raise InvalidInput(
                f"query placeholder {shown} is not known; queries may use "
                + ", ".join("{{ " + p + " }}" for p in PLACEHOLDERS)
                + f" (in query: {_short(template)})"
            )
        return values[name.group(1)]

    return _PLACEHOLDER.sub(sub, template)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
