"""Reports for people: a markdown summary (CI job summaries) and an HTML page, from jinja2
templates. A report is a view of a stored run: it reads `rollout.views`, never a command."""

from __future__ import annotations

from typing import Any

from rollout.records import Event, Run
from rollout.views import runs
from rollout.views._format import iso

FORMATS = ("markdown", "html")


def _event(e: Event) -> dict[str, Any]:
    d = e.model_dump(mode="json")
    d["at"] = iso(e.at)  # whole seconds: microseconds wrap in tables and help nobody
    return d


def context(run: Run, events: list[Event]) -> dict[str, Any]:
    from rollout.redact import redact

    return redact(
        {
            "run": runs.data(run),
            "variants": run.plan.spec.variants.model_dump(),
            "steps": [s.describe() + (f" ({s.stage})" if s.stage else "") for s in run.plan.steps],
            "events": [_event(e) for e in events],
            "verdict_events": [
                _event(e) for e in events if e.kind == "verdict" and e.data.get("status") != "pass"
            ],
        }
    )


def render(run: Run, events: list[Event], fmt: str = "markdown") -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rollout", "report/templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    name = "summary.md.j2" if fmt == "markdown" else "report.html.j2"
    return env.get_template(name).render(**context(run, events))
