"""Reports for people: a markdown report (`--format md`), an HTML page (`--format html`) and the
GitHub job summary, from jinja2 templates. A report is a view of a stored run: it reads
`rollout.views`, never a command.

Charts are drawn in Python (`charts`) from the run's events (`series`): inline SVG in the HTML
page (nothing fetched, no script), mermaid `xychart-beta` blocks in markdown, which GitHub
renders (it strips inline SVG). Times are ISO 8601 in whole seconds.
"""

from __future__ import annotations

import math
from typing import Any

from rollout.records import Event, Run
from rollout.report import charts
from rollout.report.series import GateSeries, Series, extract
from rollout.views import runs
from rollout.views._format import iso

FORMATS = ("markdown", "html")
LOG10_FLOOR = -2.0  # evidence charts: 0.01x is "strongly safe"; lower is clipped
LOG10_CEIL = 16.0  # and 10^16x is off any scale that matters


def _event(e: Event) -> dict[str, Any]:
    d = e.model_dump(mode="json")
    d["at"] = iso(e.at)  # whole seconds: microseconds wrap in tables and help nobody
    return d


def _duration(seconds: float | None) -> str:
    return charts.elapsed(seconds) if seconds is not None else "-"


def timing(s: Series) -> dict[str, Any]:
    """Start, end and time per stretch (stage, wait, pause), in ISO seconds."""
    return {
        "start": iso(s.t0),
        "end": iso(s.end) if s.end else None,
        "duration": _duration((s.end - s.t0).total_seconds() if s.end else None),
        "segments": [
            {
                "what": g.what,
                "start": iso(g.start),
                "end": iso(g.end) if g.end else None,
                "duration": _duration((g.end - g.start).total_seconds() if g.end else None),
            }
            for g in s.segments
        ],
    }


def _timeline(events: list[Event]) -> list[dict[str, Any]]:
    """Who did what when: every event but the per-tick verdicts that passed or said nothing."""
    keep = [e for e in events if e.kind != "verdict" or e.data.get("status") == "fail"]
    return [_event(e) for e in keep]


def context(run: Run, events: list[Event]) -> dict[str, Any]:
    from rollout.llm import units
    from rollout.redact import redact

    data = runs.data(run)
    # the cost gate projected to 100 % (signal gates' summaries are in their units already)
    projection = units.cost_projection(run.plan.spec, run.verdicts)
    return redact(
        {
            "run": data,
            "cost_projection": units.projection_line(projection) if projection else None,
            "variants": run.plan.spec.variants.model_dump(),
            "steps": [s.describe() + (f" ({s.stage})" if s.stage else "") for s in run.plan.steps],
            "timing": timing(extract(run, events)),
            "timeline": _timeline(events),
            "events": [_event(e) for e in events],
            "verdict_events": [
                _event(e) for e in events if e.kind == "verdict" and e.data.get("status") != "pass"
            ],
        }
    )


# --- charts -----------------------------------------------------------------------------------


def _clip(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    return tuple((x, min(max(y, LOG10_FLOOR), LOG10_CEIL)) for x, y in points)


def _bound_label(g: GateSeries, bound: str, run: Run) -> str:
    spec = next(x for x in run.plan.spec.gates if x.name == g.gate)
    return f"bound ({bound} {getattr(spec, bound):g})"


def _values_svg(run: Run, g: GateSeries, x_end: float, idx: int) -> str | None:
    if not g.candidate and not g.baseline:
        return None
    series = [
        charts.Series("baseline", tuple(g.baseline), charts.BASELINE, band=tuple(g.baseline_band)),
        charts.Series(
            "candidate", tuple(g.candidate), charts.CANDIDATE, band=tuple(g.candidate_band)
        ),
    ]
    series += [
        charts.Series(_bound_label(g, b, run), tuple(pts), charts.BOUND, dashed=True)
        for b, pts in g.bounds.items()
    ]
    ys = [y for s in series for _, y in s.points]
    ys += [v for s in series for _, lo, hi in s.band for v in (lo, hi)]
    unit = " %" if g.unit == "%" else ""
    what = "rate" if g.kind == "proportion" else "value"
    return charts.svg_chart(
        f"{g.gate}: {what} per variant"
        + (" per window" if g.method == "threshold" else " (cumulative)")
        + (", with bands" if g.candidate_band or g.baseline_band else "")
        + " and the bound",
        series,
        x_end=x_end,
        y_range=charts.nice_range(ys, floor=0.0 if g.kind == "proportion" else None),
        y_label=g.gate + unit,
        y_fmt=(lambda v: f"{v:.3g}{unit}"),
        chart_id=f"values-{idx}",
    )


def _evidence_svg(g: GateSeries, x_end: float, idx: int) -> str | None:
    if g.method == "threshold":
        if not g.failures:
            return None
        limit = float(g.failure_limit or 0)
        ys = [y for _, y in g.failures] + [limit + 1]
        return charts.svg_chart(
            f"{g.gate}: failed checks against failure_limit (fails above it)",
            [charts.Series("failed checks", tuple(g.failures), charts.CANDIDATE, step=True)],
            x_end=x_end,
            y_range=(0.0, max(ys) + 0.5),
            y_label="failed checks",
            y_fmt=lambda v: f"{v:g}",
            y_ticks=[float(k) for k in range(int(max(ys)) + 1)],
            rules=[charts.Rule(f"failure_limit {limit:g}", limit)],
            chart_id=f"evidence-{idx}",
        )
    if not g.harm:
        return None
    series: list[charts.Series] = []
    rules: list[charts.Rule] = []
    for b, pts in g.harm.items():
        series.append(charts.Series(f"evidence of harm ({b})", _clip(pts), charts.CANDIDATE))
        safe = g.safe.get(b, [])
        series.append(
            charts.Series(f"evidence of safety ({b})", _clip(safe), charts.SAFE, dashed=True)
        )
    for b, need in g.threshold.items():
        rules.append(charts.Rule(f"needed {charts.times_fmt(need)} ({b})", need))
    ys = [y for s in series for _, y in s.points] + [r.y for r in rules] + [0.0]
    lo, hi = charts.nice_range(ys)
    ticks = charts.log_ticks(lo, hi)
    stride = max(1, math.ceil(len(ticks) / 6))
    return charts.svg_chart(
        f"{g.gate}: evidence (e-value, log scale) against the threshold",
        series,
        x_end=x_end,
        y_range=(lo, hi),
        y_label="e-value",
        y_fmt=charts.times_fmt,
        y_ticks=ticks[::stride],
        rules=rules,
        chart_id=f"evidence-{idx}",
    )


def svg_charts(run: Run, s: Series) -> list[dict[str, str]]:
    """The HTML page's charts: weights, then per gate its values and its evidence."""
    out = [
        {
            "id": "weights",
            "svg": charts.svg_chart(
                "Candidate weight over time (set at the router)",
                [charts.Series("candidate weight", tuple(s.weights), charts.CANDIDATE, step=True)],
                x_end=s.x_end,
                y_range=(0.0, 100.0),
                y_label="candidate %",
                y_fmt=lambda v: f"{v:g} %",
                y_ticks=[0.0, 25.0, 50.0, 75.0, 100.0],
                chart_id="weights",
            ),
        }
    ]
    for i, g in enumerate(s.gates.values()):
        for kind, svg in (
            ("values", _values_svg(run, g, s.x_end, i)),
            ("evidence", _evidence_svg(g, s.x_end, i)),
        ):
            if svg is not None:
                out.append({"id": f"{kind}-{i}", "gate": g.gate, "svg": svg})
    return out


def mermaid_weights(s: Series) -> str | None:
    if not s.weights:
        return None
    return charts.mermaid_weights(s.weights, s.x_end)


def mermaid_gates(run: Run, s: Series) -> list[dict[str, str]]:
    """Per gate: its values (baseline, candidate, bound) and its evidence against the needed,
    each held from tick to tick and resampled evenly from the first tick to the end."""
    out = []
    for g in s.gates.values():
        first = next(iter(g.bounds.items()), None)
        if g.candidate and g.baseline:
            grid = charts.time_grid(max(g.candidate[0][0], g.baseline[0][0]), s.x_end)
            lines = [charts.held_at(p, grid.times) for p in (g.baseline, g.candidate)]
            legend = "baseline, candidate"
            if first:
                lines.append(charts.held_at(first[1], grid.times))
                legend += f", {_bound_label(g, first[0], run)}"
            ys = [v for line in lines for v in line]
            lo, hi = charts.nice_range(ys, floor=0.0 if g.kind == "proportion" else None)
            out.append(
                {
                    "gate": g.gate,
                    "what": f"values, lines in order: {legend}",
                    "chart": charts.mermaid_xy(
                        f"{g.gate}: value per variant "
                        + ("per window" if g.method == "threshold" else "(cumulative)"),
                        grid,
                        lines,
                        y_label=g.gate + (" %" if g.unit == "%" else ""),
                        y_range=(lo, hi),
                        colors=[charts.BASELINE, charts.CANDIDATE, charts.BOUND][: len(lines)],
                    ),
                }
            )
        harm = next(iter(g.harm.items()), None)
        if harm is None:
            continue
        b, pts = harm
        need = g.threshold.get(b, 0.0)
        grid = charts.time_grid(pts[0][0], s.x_end)
        clipped = charts.held_at(_clip(pts), grid.times)
        lo, hi = charts.nice_range([*clipped, need, 0.0])
        out.append(
            {
                "gate": g.gate,
                "what": (
                    f"evidence of harm ({b}) as log10 of the e-value, lines in order: evidence, "
                    f"needed ({charts.times_fmt(need)}); the gate fails where the first crosses "
                    "the second"
                ),
                "chart": charts.mermaid_xy(
                    f"{g.gate}: evidence (log10 e-value) against the threshold",
                    grid,
                    [clipped, [need] * len(clipped)],
                    y_label="log10 e-value",
                    y_range=(lo, hi),
                    colors=[charts.CANDIDATE, charts.THRESHOLD],
                ),
            }
        )
    return out


# --- rendering --------------------------------------------------------------------------------


def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("rollout", "report/templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(run: Run, events: list[Event], fmt: str = "markdown") -> str:
    from markupsafe import Markup

    from rollout.redact import redact_text

    s = extract(run, events)
    ctx = context(run, events)
    if fmt == "html":
        svgs = [{**c, "svg": Markup(redact_text(c["svg"]))} for c in svg_charts(run, s)]
        return _env().get_template("report.html.j2").render(**ctx, charts=svgs)
    return redact_text(
        _env()
        .get_template("summary.md.j2")
        .render(**ctx, weights_chart=mermaid_weights(s), gate_charts=mermaid_gates(run, s))
    )


def step_summary(run: Run, events: list[Event]) -> str:
    """The GitHub job summary: the headline, the gates, and the weights over time in mermaid."""
    from rollout.redact import redact_text

    s = extract(run, events)
    text = (
        _env()
        .get_template("step_summary.md.j2")
        .render(**context(run, events), weights_chart=mermaid_weights(s))
    )
    return redact_text(text)
