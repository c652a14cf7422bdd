"""`rollout check PLAN`: run every gate's queries once, for both variants, and show the answers.

For debugging queries before a rollout: nothing moves and no state is read or written. The
router is only read (its current weights are shown). Queries cover the last
`analysis.interval`, rendered as the runner renders them (stage: the first stage).
Exit 0 when every query answered (no data is a warning), 1 when any query or source failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rollout import views
from rollout.clock import Clock
from rollout.errors import EXIT_OK, EXIT_RUNTIME, NoData, RolloutError
from rollout.metrics import Window
from rollout.redact import redact_text
from rollout.views import check as view


def run(
    plan_file: Path,
    var: Sequence[str],
    var_file: Sequence[Path],
    output: str = "text",
    *,
    clock: Clock | None = None,
    extra: dict[str, Any] | None = None,
    traffic: str | None = None,
) -> int:
    from rollout.commands._common import load_plan
    from rollout.commands.plan import power_preview
    from rollout.sim.power import parse_traffic

    rpm = parse_traffic(traffic) if traffic is not None else None
    _, plan = load_plan(plan_file, var, var_file)
    report = collect(plan, clock=clock, extra=extra)
    report["power"] = power_preview(plan, rpm, measured_rpm(plan, report))
    views.show(view, output, report)
    return EXIT_OK if report["ok"] else EXIT_RUNTIME


def measured_rpm(plan: Any, report: dict[str, Any]) -> float | None:
    """Requests per minute the sources answered for the window, from the gates' request
    totals (both variants; the largest gate), or None when no gate counts requests."""
    minutes = report["window"]["seconds"] / 60.0
    per: dict[str, float] = {}
    for r in report["results"]:
        v = r["value"]
        ok = r["status"] == "ok" and isinstance(v, float) and math.isfinite(v)
        if ok and r["role"] in ("total", "count"):
            per[r["gate"]] = per.get(r["gate"], 0.0) + v
    best = max(per.values(), default=0.0)
    return best / minutes if best > 0 and minutes > 0 else None


def collect(plan: Any, *, clock: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every query's answer as a JSON-ready report (never raises for a provider failure)."""
    from rollout import registry
    from rollout.clock import SystemClock
    from rollout.metrics.render import render_query
    from rollout.providers import context

    clock = clock or SystemClock()
    ctx = context(plan, extra)
    spec = plan.spec
    interval = spec.analysis.interval
    now = clock.now()
    window = Window(now - timedelta(seconds=interval), now)
    stage = spec.stages[0].name
    report: dict[str, Any] = {
        "name": plan.name,
        "file": plan.source,
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "seconds": window.seconds,
        },
        "stage": stage,
        "weights": None,
        "router_error": None,
        "sources": {},
        "results": [],
    }
    try:
        router = registry.build("router", spec.router.model_dump(), ctx)
        ctx.router = router
        report["weights"] = router.get_weights().model_dump()
    except RolloutError as exc:
        report["router_error"] = _msg(exc)

    sources: dict[str, Any] = {}
    for name, provider in [("", spec.metrics), *spec.sources.items()]:
        sspec = provider.model_dump()
        label = name or "metrics"
        built = _attempt(partial(registry.build, "metrics", sspec, ctx))
        if built["status"] != "ok":
            report["sources"][label] = {"type": sspec["type"], **_without_value(built)}
            continue
        sources[name] = built["value"]
        report["sources"][label] = {
            "type": sspec["type"],
            **_without_value(_attempt(sources[name].check)),
        }

    for gate in spec.gates:
        roles = gate.queries()
        src_name = gate.source or ""
        for role, template in roles.items():
            for variant, info in ctx.variants.items():
                row: dict[str, Any] = {
                    "gate": gate.name,
                    "role": role,
                    "variant": variant,
                    "source": src_name or "metrics",
                    "query": template,
                }
                try:
                    row["query"] = render_query(
                        template,
                        variant=variant,
                        target=info["target"],
                        window=window,
                        model=info.get("model") or "",
                        model_version=info.get("model_version"),
                        stage=stage,
                        interval=interval,
                    )
                except RolloutError as exc:
                    report["results"].append(
                        {**row, "status": "error", "value": None, "message": _msg(exc)}
                    )
                    continue
                source = sources.get(src_name)
                if source is None:
                    got = {
                        "status": "error",
                        "message": f"source {src_name or 'metrics'} could not be built",
                    }
                else:
                    got = _attempt(partial(source.query, row["query"], window))
                report["results"].append({**row, "value": _number(got.pop("value", None)), **got})

    counts = {
        s: sum(r["status"] == s for r in report["results"]) for s in ("ok", "no_data", "error")
    }
    failed_sources = [k for k, v in report["sources"].items() if v["status"] == "error"]
    report["counts"] = counts
    report["ok"] = counts["error"] == 0 and not failed_sources and report["router_error"] is None
    return report


def _attempt(fn: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"status": "ok", "value": fn(), "message": None}
    except NoData as exc:
        return {"status": "no_data", "value": None, "message": _msg(exc)}
    except RolloutError as exc:
        return {"status": "error", "value": None, "message": _msg(exc)}
    except Exception as exc:  # a provider bug must not hide the other answers
        return {
            "status": "error",
            "value": None,
            "message": f"unexpected {type(exc).__name__}: {_msg(exc)}",
        }


def _number(value: Any) -> float | str | None:
    """JSON-safe: +Inf (a quantile in the top bucket) is shown as the string "inf", not Infinity."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else str(v)


def _without_value(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "value"}


def _msg(exc: BaseException) -> str:
    return redact_text(str(exc)) or type(exc).__name__
