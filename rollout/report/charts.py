"""Charts for the report, as text: inline SVG for the HTML page and mermaid `xychart-beta` for
GitHub (which strips inline SVG from markdown but renders mermaid blocks).

Pure functions of numbers: no clock, no I/O, no JavaScript, nothing fetched to view them. The x
axis is seconds since the start of the run; `rollout.report.series` turns a run's events into
these series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from rollout.durations import format_duration

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 40, 36
LEGEND_ROW = 14  # a legend that needs a second row pushes the plot down by this

# Colour-blind-safe pair (Okabe-Ito) plus neutrals.
BASELINE = "#0072b2"
CANDIDATE = "#d55e00"
BOUND = "#555555"
THRESHOLD = "#b00020"
SAFE = "#009e73"


@dataclass(frozen=True)
class Series:
    """One line. `step`: each value holds until the next point (weights); `band`: (x, lo, hi)
    drawn as a shaded area behind the line."""

    name: str
    points: tuple[tuple[float, float], ...]
    color: str
    step: bool = False
    dashed: bool = False
    band: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the chart: a constant bound or an evidence threshold."""

    name: str
    y: float
    color: str = THRESHOLD


def _num(v: float) -> str:
    """Coordinates with two decimals and no trailing zeros: stable text for golden files."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_range(values: Sequence[float], *, floor: float | None = None) -> tuple[float, float]:
    """A y range that holds every value with a little headroom; never empty."""
    vals = [v for v in values if math.isfinite(v)]
    lo = min(vals, default=0.0)
    hi = max(vals, default=1.0)
    if floor is not None:
        lo = min(lo, floor)
    if hi - lo < 1e-12:
        hi = lo + (abs(lo) or 1.0)
    pad = (hi - lo) * 0.08
    return (lo if floor is not None and lo == floor else lo - pad), hi + pad


def linear_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round ticks (1, 2, 2.5 or 5 times a power of ten apart) inside [lo, hi], at most `most`."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / (most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + 1e-9 * step:
        ticks.append(round(k * step, 12))
        k += 1
    return ticks


def elapsed(seconds: float) -> str:
    """An x label: time since the start ("0s", "2m30s", "1h5m")."""
    return format_duration(seconds)


def percent(v: float) -> str:
    return f"{v:.3g} %"


def svg_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_end: float,
    y_range: tuple[float, float],
    y_label: str,
    y_fmt: Callable[[float], str] = lambda v: f"{v:.3g}",
    rules: Sequence[Rule] = (),
    y_ticks: Sequence[float] | None = None,
    chart_id: str = "chart",
) -> str:
    """An SVG line chart. Every series and rule is a `<path>` with `data-series` naming it, so
    tests (and people reading the source) can find what is drawn."""
    x_end = max(x_end, 1.0)
    y0, y1 = y_range
    legend, rows = _legend([(s.name, s.color, s.dashed) for s in series if s.points], rules)
    top, height = TOP + LEGEND_ROW * (rows - 1), HEIGHT + LEGEND_ROW * (rows - 1)
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + pw * min(max(x, 0.0), x_end) / x_end

    def sy(y: float) -> float:
        y = min(max(y, y0), y1)
        return top + ph * (1 - (y - y0) / (y1 - y0))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>',
    ]
    ticks = list(y_ticks) if y_ticks is not None else linear_ticks(y0, y1)
    for t in ticks:
        if not y0 <= t <= y1:
            continue
        y = _num(sy(t))
        out.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + pw}" y2="{y}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{y}" font-size="10" text-anchor="end" '
            f'dominant-baseline="middle">{escape(y_fmt(t))}</text>'
        )
    for i in range(5):
        x = x_end * i / 4
        out.append(
            f'<text x="{_num(sx(x))}" y="{top + ph + 14}" font-size="10" '
            f'text-anchor="middle">{escape(elapsed(x))}</text>'
        )
    out.append(
        f'<text x="12" y="{top + ph / 2}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_label)}</text>'
    )
    for s in series:
        if len(s.band) >= 1:
            upper = [f"{_num(sx(x))},{_num(sy(hi))}" for x, _, hi in s.band]
            lower = [f"{_num(sx(x))},{_num(sy(lo))}" for x, lo, _ in reversed(s.band)]
            out.append(
                f'<path data-series="{escape(s.name)} band" fill="{s.color}" fill-opacity="0.15" '
                f'stroke="none" d="M{" L".join(upper + lower)} Z"/>'
            )
    for s in series:
        if not s.points:
            continue
        out.append(_line(s, sx, sy, x_end))
    for r in rules:
        y = _num(sy(r.y))
        out.append(
            f'<path data-series="{escape(r.name)}" d="M{LEFT},{y} L{LEFT + pw},{y}" '
            f'stroke="{r.color}" stroke-width="1.5" stroke-dasharray="6 3" fill="none"/>'
        )
    out.append(legend)
    out.append("</svg>")
    return "\n".join(out)


def _line(
    s: Series, sx: Callable[[float], float], sy: Callable[[float], float], x_end: float
) -> str:
    pts: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(s.points):
        if s.step and pts:
            pts.append((x, pts[-1][1]))
        pts.append((x, y))
        if s.step and i == len(s.points) - 1:
            pts.append((x_end, y))
    d = " L".join(f"{_num(sx(x))},{_num(sy(y))}" for x, y in pts)
    dash = ' stroke-dasharray="4 3"' if s.dashed else ""
    marks = "" if s.step or len(s.points) > 40 else _marks(s, sx, sy)
    return (
        f'<path data-series="{escape(s.name)}" d="M{d}" stroke="{s.color}" stroke-width="2" '
        f'fill="none"{dash}/>{marks}'
    )


def _marks(s: Series, sx: Callable[[float], float], sy: Callable[[float], float]) -> str:
    return "".join(
        f'<circle cx="{_num(sx(x))}" cy="{_num(sy(y))}" r="2.5" fill="{s.color}"/>'
        for x, y in s.points
    )


def _legend(items: list[tuple[str, str, bool]], rules: Sequence[Rule]) -> tuple[str, int]:
    """The key above the plot, wrapped into rows that fit the width. Returns (svg, rows)."""
    entries = items + [(r.name, r.color, True) for r in rules]
    out, x, y, rows = [], LEFT, 28, 1
    for name, color, dashed in entries:
        size = 30 + round(6.2 * len(name))
        if x > LEFT and x + size > WIDTH - RIGHT:
            x, y, rows = LEFT, y + LEGEND_ROW, rows + 1
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{color}" stroke-width="2"'
            f"{dash}/>"
            f'<text x="{x + 22}" y="{y}" font-size="11" dominant-baseline="middle">'
            f"{escape(name)}</text>"
        )
        x += size
    return "".join(out), rows


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at whole powers of ten between lo and hi (both log10)."""
    return [float(k) for k in range(math.ceil(lo), math.floor(hi) + 1)]


def times_fmt(log10_value: float) -> str:
    """An e-value on a log10 axis as people read it: 0.01x, 20x, 1,000x, 10^6x."""
    if abs(log10_value) > 4:
        return f"10^{round(log10_value)}x"
    val = 10**log10_value
    if val >= 1:
        return f"{round(val, 1 - math.floor(math.log10(val))):,.0f}x"
    return f"{val:.2g}x"


# --- mermaid (GitHub) -----------------------------------------------------------------------


def time_unit(x_end: float) -> tuple[float, str]:
    """(seconds per unit, its name) for a time axis that ends at x_end seconds."""
    if x_end < 120:
        return 1.0, "seconds"
    if x_end < 3 * 3600:
        return 60.0, "minutes"
    return 3600.0, "hours"


@dataclass(frozen=True)
class Grid:
    """Evenly spaced times for a mermaid chart, whose numeric x axis runs lo --> hi (units).

    mermaid places n values at lo, lo + step, ... by adding the step up while <= hi, so a step
    like 14/24 loses the last value to rounding; lo and the step are multiples of 1/8, which
    add up exactly."""

    times: tuple[float, ...]  # seconds since the start
    unit: str
    lo: float
    hi: float


def time_grid(start: float, end: float, n: int = 24) -> Grid:
    size, unit = time_unit(end)
    lo = math.floor(start / size * 8) / 8
    span = end / size - lo
    if span <= 1e-9:
        return Grid((start,), unit, lo, lo)
    step = math.ceil(span / n * 8) / 8
    k = math.ceil(span / step - 1e-9)
    return Grid(tuple((lo + i * step) * size for i in range(k + 1)), unit, lo, lo + k * step)


def held_at(points: Sequence[tuple[float, float]], times: Sequence[float]) -> list[float]:
    """Each time's value of a step series (the last point at or before it; the first before)."""
    out = []
    for t in times:
        held = [y for x, y in points if x <= t + 1e-9]
        out.append(held[-1] if held else points[0][1])
    return out


def _mnum(v: float) -> str:
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def mermaid_xy(
    title: str,
    grid: Grid,
    lines: Sequence[Sequence[float]],
    *,
    y_label: str,
    y_range: tuple[float, float],
    colors: Sequence[str] = (),
) -> str:
    """A ```mermaid xychart-beta block (GitHub renders it in job summaries and markdown).

    The lines are given at `grid.times`; the x axis is numeric (seconds, minutes or hours since
    the start), so mermaid writes a few round labels. `colors`: one per line, in order (the
    default theme draws its first line almost white), set in mermaid's front-matter config."""

    def q(text: str) -> str:
        return '"' + text.replace('"', "'") + '"'

    rows = ["```mermaid"]
    if colors:
        rows += [
            "---",
            "config:",
            "  themeVariables:",
            "    xyChart:",
            f'      plotColorPalette: "{", ".join(colors)}"',
            "---",
        ]
    rows += ["xychart-beta", f"    title {q(title)}"]
    if len(grid.times) == 1:  # one moment: a category axis with its one label
        rows.append(f"    x-axis [{q(elapsed(grid.times[0]))}]")
    else:
        axis = q(grid.unit + " since the start")
        rows.append(f"    x-axis {axis} {_mnum(grid.lo)} --> {_mnum(grid.hi)}")
    rows.append(f"    y-axis {q(y_label)} {_mnum(y_range[0])} --> {_mnum(y_range[1])}")
    rows += ["    line [" + ", ".join(_mnum(v) for v in line) + "]" for line in lines]
    rows.append("```")
    return "\n".join(rows)


def mermaid_weights(points: Sequence[tuple[float, float]], x_end: float, n: int = 24) -> str:
    """The candidate's set weight over the run, resampled for mermaid."""
    grid = time_grid(0.0, x_end, n)
    return mermaid_xy(
        "Candidate weight over time (% of traffic)",
        grid,
        [held_at(points, grid.times)],
        y_label="candidate %",
        y_range=(0, 100),
        colors=[CANDIDATE],
    )
