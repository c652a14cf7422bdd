"""Reports for people: a markdown summary (CI job summaries) and an HTML page, from jinja2 templates."""

from __future__ import annotations

from typing import Any

from rollout.records import Event, Run


def context(run: Run, events: list[Event]) -> dict[str, Any]:
    from rollout.commands.status import run_json
    from rollout.redact import redact

    return redact(
        {
            "run": run_json(run),
            "variants": run.plan.spec.variants.model_dump(),
            "steps": [s.describe() + (f" ({s.stage})" if s.stage else "") for s in run.plan.steps],
            "events": [e.model_dump(mode="json") for e in events],
            "verdict_events": [
                e.model_dump(mode="json")
                for e in events
                if e.kind == "verdict" and e.data.get("status") != "pass"
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
