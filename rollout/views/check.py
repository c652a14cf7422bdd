"""`rollout check PLAN`: every query's answer as a table, or `rollout.check/v1` (the report
`commands.check.collect` built)."""

from __future__ import annotations

from typing import Any

from rollout.views import _table
from rollout.views._format import iso

SCHEMA = "rollout.check/v1"


def data(report: dict[str, Any]) -> dict[str, Any]:
    return report


def human(report: dict[str, Any]) -> list[str]:
    w = report["window"]
    lines = [f"rollout check: {report['name']}  ({report['file']})"]
    if report["weights"] is not None:
        wt = report["weights"]
        lines.append(f"  router: {wt['candidate']}% candidate / {wt['baseline']}% baseline")
    else:
        lines.append(f"  router: ERROR {report['router_error']}")
    for name, s in report["sources"].items():
        state = (
            "reachable"
            if s["status"] == "ok"
            else f"{s['status'].upper().replace('_', ' ')} {s['message']}"
        )
        lines.append(f"  {name} ({s['type']}): {state}")
    span = f"{_seconds(w['start'])} .. {_seconds(w['end'])}"
    lines.append(f"  window: last {w['seconds']}s ({span}), stage {report['stage']}")
    if report["results"]:
        table = _table.new("gate", "role", "variant", "query", "value", wrap=("query", "value"))
        for r in report["results"]:
            table.add_row(r["gate"], r["role"], r["variant"], r["query"], _value(r))
        lines += _table.lines(table)
    else:
        lines.append("  the plan has no gates: nothing to query")
    c = report["counts"]
    lines.append(
        f"{len(report['results'])} queries: {c['ok']} answered, {c['no_data']} no data, "
        f"{c['error']} failed"
    )
    if report.get("power") is not None:
        from rollout.views.plan import power_lines

        lines += power_lines(report["power"])
    return lines


def notes(report: dict[str, Any]) -> list[str]:
    """Warnings for stderr in human mode."""
    if not report["counts"]["no_data"]:
        return []
    return [
        "no data is not an error, but a gate with no data stays inconclusive; "
        "is traffic reaching both variants?"
    ]


def _value(r: dict[str, Any]) -> str:
    if r["status"] == "ok":
        return f"{r['value']:.6g}" if isinstance(r["value"], float) else str(r["value"])
    if r["status"] == "no_data":
        return "NO DATA"
    return f"ERROR {r['message']}"


def _seconds(text: str) -> str:
    from datetime import datetime

    return iso(datetime.fromisoformat(text))
