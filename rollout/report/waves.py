"""The report of a wave plan's line (`rollout report PARENT`): the waves, where the line
stopped, then each started wave's own report, in markdown or one HTML page (no script)."""

from __future__ import annotations

import html
import re
from typing import Any

from rollout.records import Event, Run
from rollout.wave_line import stopped

COLUMNS = ("#", "wave", "rollout", "phase", "candidate", "on failure", "outcome")


def _cells(r: dict[str, Any]) -> list[str]:
    return [
        str(r["index"]),
        r["wave"],
        r["rollout"],
        r["phase"],
        f"{r['candidate']} %",
        r["on_failure"] or "",
        r.get("message") or "",
    ]


def render(
    name: str, rows: list[dict[str, Any]], runs: list[tuple[Run, list[Event]]], fmt: str
) -> str:
    from rollout import report
    from rollout.redact import redact_text

    stop = stopped(rows)
    parts = [report.render(r, ev, fmt) for r, ev in runs]
    if fmt == "html":
        return redact_text(_html(name, rows, stop, parts))
    md = [f"## waves of `{name}`", "", "| " + " | ".join(COLUMNS) + " |"]
    md.append("|" + "---|" * len(COLUMNS))
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    if stop is not None:
        md += ["", f"**{stop['message']}**"]
    return redact_text("\n".join(md) + "\n\n" + "\n".join(parts))


def _html(
    name: str, rows: list[dict[str, Any]], stop: dict[str, Any] | None, parts: list[str]
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows)
    style = re.search(r"<style>.*?</style>", parts[0], re.S) if parts else None
    out = [
        '<!doctype html><html><head><meta charset="utf-8">',
        f"<title>waves of {e(name)}</title>{style.group(0) if style else ''}</head><body>",
        f"<h1>waves of <code>{e(name)}</code></h1><table><tr>{head}</tr>{body}</table>",
    ]
    if stop is not None:
        out.append(f"<p><strong>{e(stop['message'])}</strong></p>")
    for p in parts:  # each wave's own page, its body only
        m = re.search(r"<body[^>]*>(.*)</body>", p, re.S)
        out.append(f"<section>{m.group(1) if m else e(p)}</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
