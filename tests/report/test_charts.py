"""The report's chart builders (`rollout.report.charts`) and what they are fed from a run's
events (`rollout.report.series`): pure functions, checked on hand-made numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from rollout.records import Event, Run
from rollout.report import charts, series
from tests.helpers.plans import make_plan

SVG = "{http://www.w3.org/2000/svg}"


def _paths(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return {p.get("data-series", ""): p.get("d", "") for p in root.iter(f"{SVG}path")}


def _xy(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def test_a_step_series_holds_each_value_until_the_next_and_to_the_right_edge() -> None:
    svg = charts.svg_chart(
        "w",
        [charts.Series("weight", ((0, 5), (60, 50)), charts.CANDIDATE, step=True)],
        x_end=120,
        y_range=(0, 100),
        y_label="%",
    )
    pts = _xy(_paths(svg)["weight"])
    left, right = charts.LEFT, charts.WIDTH - charts.RIGHT
    mid = left + (right - left) / 2
    top, bottom = charts.TOP, charts.HEIGHT - charts.BOTTOM
    y5 = bottom - (bottom - top) * 0.05
    y50 = bottom - (bottom - top) * 0.5
    expect = [(left, y5), (mid, y5), (mid, y50), (right, y50)]
    assert [(round(x, 1), round(y, 1)) for x, y in pts] == [
        (round(x, 1), round(y, 1)) for x, y in expect
    ]


def test_bands_rules_and_a_legend_are_drawn_and_text_is_escaped() -> None:
    svg = charts.svg_chart(
        "a <b> & c",
        [
            charts.Series("cand", ((0, 1), (10, 2)), charts.CANDIDATE, band=((0, 0.5, 1.5),)),
            charts.Series("bound <x>", ((0, 3),), charts.BOUND, dashed=True),
        ],
        x_end=10,
        y_range=(0, 4),
        y_label="v",
        rules=[charts.Rule("needed 20x", 3.5)],
    )
    paths = _paths(svg)
    assert set(paths) == {"cand band", "cand", "bound <x>", "needed 20x"}
    assert paths["cand band"].endswith("Z")
    assert "a &lt;b&gt; &amp; c" in svg and "<title>a &lt;b&gt; &amp; c</title>" in svg
    assert 'stroke-dasharray="4 3"' in svg  # the dashed bound
    assert re.search(r">needed 20x</text>", svg)


def test_values_outside_the_range_are_clipped_to_the_plot() -> None:
    svg = charts.svg_chart(
        "c", [charts.Series("s", ((0, -5), (1, 50)), "#000")], x_end=1, y_range=(0, 10), y_label=""
    )
    ys = [y for _, y in _xy(_paths(svg)["s"])]
    assert min(ys) == charts.TOP and max(ys) == charts.HEIGHT - charts.BOTTOM


def test_nice_range_is_never_empty_and_keeps_a_floor() -> None:
    assert charts.nice_range([]) == (-0.08, 1.08)
    lo, hi = charts.nice_range([2.0, 2.0])
    assert lo < 2.0 < hi
    lo, hi = charts.nice_range([1.0, 3.0], floor=0.0)
    assert lo == 0.0 and hi > 3.0


def test_evidence_is_labelled_as_people_read_it() -> None:
    assert [charts.times_fmt(v) for v in (0, 1, 1.30103, -2, 3, 6)] == [
        "1x",
        "10x",
        "20x",
        "0.01x",
        "1,000x",
        "10^6x",
    ]


def test_the_time_grid_adds_up_exactly_and_covers_the_run() -> None:
    g = charts.time_grid(0, 840)  # 14 minutes: 14/24 would lose mermaid's last point
    assert (g.unit, g.lo, g.hi) == ("minutes", 0, 14.375)
    assert g.times[0] == 0 and g.times[-1] >= 840
    steps = {round(b - a, 9) for a, b in zip(g.times, g.times[1:], strict=False)}
    assert steps == {37.5} and len(g.times) <= 25  # 5/8 of a minute, an exact binary fraction
    assert charts.time_grid(30, 90).unit == "seconds"
    assert charts.time_grid(0, 4 * 3600).unit == "hours"
    one = charts.time_grid(30, 30)
    assert one.times == (30,) and one.lo == one.hi


def test_held_at_holds_each_value_until_the_next() -> None:
    pts = [(0, 5), (50, 50), (100, 0)]
    assert charts.held_at(pts, [0, 25, 50, 75, 100, 120]) == [5, 5, 50, 50, 0, 0]
    assert charts.held_at([(20, 1)], [10, 20]) == [1, 1]  # before the first: the first


def test_mermaid_block_is_an_xychart_with_one_line_per_series() -> None:
    grid = charts.Grid((0, 300, 600), "minutes", 0, 10)
    text = charts.mermaid_xy(
        'say "hi"', grid, [[1, 2.5, 2], [0.3333, 4, 4]], y_label="v", y_range=(0, 5)
    )
    lines = text.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    assert "xychart-beta" in lines
    assert "    title \"say 'hi'\"" in lines
    assert '    x-axis "minutes since the start" 0 --> 10' in lines  # numeric: round labels
    assert '    y-axis "v" 0 --> 5' in lines
    assert "    line [1, 2.5, 2]" in lines and "    line [0.333, 4, 4]" in lines
    assert "plotColorPalette" not in text
    colored = charts.mermaid_xy("t", grid, [[1, 2, 3]], y_label="", y_range=(0, 1), colors=["#a"])
    assert colored.splitlines()[1:7] == [
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        '      plotColorPalette: "#a"',
        "---",
    ]
    one = charts.mermaid_xy("t", charts.time_grid(30, 30), [[1]], y_label="", y_range=(0, 1))
    assert '    x-axis ["30s"]' in one  # a single moment: one category


def test_wilson_interval_holds_the_rate_and_narrows_with_data() -> None:
    lo1, hi1 = series.wilson(1, 100)
    lo2, hi2 = series.wilson(100, 10_000)
    assert lo1 < 0.01 < hi1 and lo2 < 0.01 < hi2
    assert hi2 - lo2 < hi1 - lo1
    assert series.wilson(0, 0) == (0.0, 1.0)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _ev(seconds: int, kind: str, message: str = "", **data: object) -> Event:
    return Event(kind=kind, at=T0 + timedelta(seconds=seconds), message=message, data=data)


def _verdict(seconds: int, rc: float, rb: float, harm: float) -> Event:
    return _ev(
        seconds,
        "verdict",
        gate="error-rate",
        status="inconclusive",
        evidence={
            "kind": "proportion",
            "method": "sequential",
            "candidate_rate": rc,
            "baseline_rate": rb,
            "candidate_requests": 1000,
            "candidate_events": rc * 1000,
            "baseline_requests": 9000,
            "baseline_events": rb * 9000,
            "bounds": {"max_ratio": {"log_e_harm": harm, "log_e_safe": -1.0, "log_threshold": 3}},
        },
    )


def test_series_reads_weights_values_bounds_evidence_and_stretches_from_events() -> None:
    plan = make_plan()  # error-rate, max_ratio 1.5
    run = Run(name="demo", plan_hash=plan.plan_hash, plan=plan, created_at=T0, updated_at=T0)
    events = [
        _ev(0, "preflight", weights_before={"baseline": 100, "candidate": 0}),
        _ev(0, "weights", stage="pilot", weights={"baseline": 95, "candidate": 5}),
        _verdict(30, 0.02, 0.01, 0.5),
        _ev(30, "verdict", gate="error-rate", status="inconclusive", evidence={}),  # no data
        _ev(60, "phase", phase="awaiting_approval", stage="expansion"),
        _ev(600, "approval", stage="expansion", actor="alice@host"),
        _ev(600, "weights", stage="expansion", weights={"baseline": 75, "candidate": 25}),
        _ev(630, "phase", phase="rolling_back"),
        _ev(631, "phase", phase="rolled_back", weights={"baseline": 100, "candidate": 0}),
    ]
    s = series.extract(run, events)
    assert s.weights == [(0, 0), (0, 5), (600, 25), (631, 0)]
    assert s.end == T0 + timedelta(seconds=631) and s.x_end == 631
    g = s.gates["error-rate"]
    assert g.candidate == [(30, 2.0)] and g.baseline == [(30, 1.0)]
    assert g.bounds == {"max_ratio": [(30, 1.5)]}  # 1.5 x the baseline's 1 %
    ((t, lo, hi),) = g.candidate_band
    assert t == 30 and lo < 2.0 < hi
    assert g.harm["max_ratio"] == [(30, 0.5 / 2.302585092994046)]
    assert abs(g.threshold["max_ratio"] - 3 / 2.302585092994046) < 1e-12
    assert [(x.what, (x.end - x.start).total_seconds() if x.end else None) for x in s.segments] == [
        ("stage pilot at 5 %", 60),
        ("awaiting approval for expansion", 540),
        ("stage expansion at 25 %", 30),
        ("rolling back", 1),
    ]


def test_a_long_legend_wraps_and_pushes_the_plot_down() -> None:
    names = [f"a rather long series name {i}" for i in range(4)]
    svg = charts.svg_chart(
        "c",
        [charts.Series(n, ((0, 1),), "#000") for n in names],
        x_end=1,
        y_range=(0, 2),
        y_label="",
    )
    root = ET.fromstring(svg)
    assert int(root.get("height", "0")) > charts.HEIGHT
    ys = {t.get("y") for t in root.iter(f"{SVG}text") if (t.text or "").startswith("a rather")}
    assert len(ys) >= 2  # on more than one row


def test_a_mean_gate_band_is_its_confidence_sequence_on_the_candidate_scale() -> None:
    # max_increase 0.1: the contrast is candidate - baseline; with the baseline at 2.0 a
    # confidence sequence [-0.05, 0.25] for the contrast puts the candidate in [1.95, 2.25].
    plan = make_plan(
        gates=[
            {
                "name": "latency",
                "kind": "mean",
                "count": "c",
                "sum": "s",
                "sum_squares": "q",
                "max_increase": 0.1,
            }
        ],
        analysis={"interval": "20s", "method": "sequential"},
    )
    run = Run(name="demo", plan_hash=plan.plan_hash, plan=plan, created_at=T0, updated_at=T0)
    ev = {
        "kind": "mean",
        "method": "sequential",
        "candidate_mean": 2.1,
        "baseline_mean": 2.0,
        "confidence_sequences": {
            "max_increase": {"estimate": 0.1, "cs_lower": -0.05, "cs_upper": 0.25, "margin": 0.1}
        },
        "bounds": {"max_increase": {"log_e_harm": 0.0, "log_e_safe": 0.0, "log_threshold": 3}},
    }
    s = series.extract(run, [_ev(0, "verdict", gate="latency", status="inconclusive", evidence=ev)])
    g = s.gates["latency"]
    ((t, lo, hi),) = g.candidate_band
    assert (t, round(lo, 9), round(hi, 9)) == (0, 1.95, 2.25)
    assert g.bounds == {"max_increase": [(0, 2.1)]}
    assert g.baseline_band == []  # no interval is stored for the baseline's mean


def test_linear_ticks_are_round_and_inside_the_range() -> None:
    assert charts.linear_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert charts.linear_ticks(-0.08, 1.08) == [0, 0.25, 0.5, 0.75, 1.0]
    assert charts.linear_ticks(0.66, 3.58) == [1, 2, 3]
    assert charts.linear_ticks(2, 2) == [2]


def test_a_mean_gate_and_a_threshold_value_gate_get_their_charts() -> None:
    from rollout import report

    plan = make_plan(
        gates=[
            {
                "name": "latency",
                "kind": "mean",
                "count": "c",
                "sum": "s",
                "sum_squares": "q",
                "max_increase": 0.1,
            },
            {"name": "p95", "kind": "value", "query": "p95", "max": 20},
        ],
        analysis={"interval": "20s", "method": "sequential"},
    )
    run = Run(name="demo", plan_hash=plan.plan_hash, plan=plan, created_at=T0, updated_at=T0)
    mean = {
        "kind": "mean",
        "method": "sequential",
        "candidate_mean": 2.1,
        "baseline_mean": 2.0,
        "confidence_sequences": {
            "max_increase": {"estimate": 0.1, "cs_lower": -0.05, "cs_upper": 0.25, "margin": 0.1}
        },
        "bounds": {"max_increase": {"log_e_harm": 1.0, "log_e_safe": 0.5, "log_threshold": 3.7}},
    }
    value = {"method": "threshold", "failures": 1, "failure_limit": 2, "candidate": 25.0}
    events = [
        _ev(0, "weights", stage="pilot", weights={"baseline": 95, "candidate": 5}),
        _ev(20, "verdict", gate="latency", status="inconclusive", evidence=mean),
        _ev(20, "verdict", gate="p95", status="pass", evidence={**value, "baseline": 2.0}),
    ]
    got = {c["id"]: _paths(c["svg"]) for c in report.svg_charts(run, series.extract(run, events))}
    assert set(got) == {"weights", "values-0", "evidence-0", "values-1", "evidence-1"}
    assert set(got["values-0"]) == {
        "candidate band",
        "baseline",
        "candidate",
        "bound (max_increase 0.1)",
    }
    assert set(got["evidence-0"]) == {
        "evidence of harm (max_increase)",
        "evidence of safety (max_increase)",
        "needed 40x (max_increase)",
    }
    assert set(got["values-1"]) == {"baseline", "candidate", "bound (max 20)"}
    assert set(got["evidence-1"]) == {"failed checks", "failure_limit 2"}


def test_a_pipe_in_a_summary_or_message_does_not_break_the_markdown_tables() -> None:
    from rollout import report

    plan = make_plan()
    run = Run(
        name="demo",
        plan_hash=plan.plan_hash,
        plan=plan,
        created_at=T0,
        updated_at=T0,
        verdicts={"error-rate": {"status": "fail", "summary": "a | b"}},
    )
    events = [_ev(0, "intent", "paused | why", reason="x")]
    for text in (report.render(run, events, "markdown"), report.step_summary(run, events)):
        assert "| error-rate | fail | a \\| b |" in text
    assert "| paused \\| why |" in report.render(run, events, "markdown")
