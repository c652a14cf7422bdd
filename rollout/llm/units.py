"""Numbers of signal gates in their units: times in ms, tokens, dollars, scores.

A signal gate's statistics run on what the catalog queries (the mean of log-seconds for times,
of log-tokens for tokens); its verdict summary is written by rollout.gates in those terms
("mean -1.048 vs -1.051"). `readable` rewrites the measurement part of the line from the
verdict's own evidence for people ("ttft: 351 ms vs 350 ms baseline (geometric mean, +0.3 %)
after 23,761 candidate calls"), and keeps the decision clause as the gate wrote it, with a log
bound given back as the ratio the plan said (max_increase 0.182322 -> x1.2).

`cost_projection` is what moving all traffic to the candidate would cost: the per-request
difference of the cost gate, at the request rate of the last analysis interval.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from rollout.llm.catalog import LOG_UNITS, SCORE, SIGNALS, TIME, TOKENS, USD
from rollout.llm.pricing import monthly_projection

if TYPE_CHECKING:
    from rollout.spec import PlanSpec


def ms(seconds: float) -> str:
    v = seconds * 1000.0
    return f"{v:,.0f} ms" if v >= 10 else f"{v:.2g} ms"


def usd(x: float) -> str:
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:,.2f}"
    if abs(x) >= 0.001:
        return f"${x:.4f}"
    return f"${x:.2g}" if x else "$0"


def value(unit: str, x: float) -> str:
    """One number of a mean gate in its unit (x is on the scale the gate measured)."""
    if unit == TIME:
        return ms(math.exp(x))
    if unit == TOKENS:
        return f"{math.exp(x):,.0f} tokens"
    if unit == USD:
        return usd(x)
    if unit == SCORE:
        return f"{x:.3f}"
    return f"{x:.4g}"


def _change(unit: str, c: float, b: float) -> str:
    if unit in LOG_UNITS:
        return f"{(math.exp(c - b) - 1) * 100:+.1f} %"
    if unit == SCORE:
        return f"{c - b:+.3f}"
    return f"{(c / b - 1) * 100:+.1f} %" if b else ""


_LOG_BOUND = re.compile(r"\b(max_increase|max_decrease|max|min) (-?[0-9.e+-]+)")


def readable(signal: str | None, verdict: dict[str, Any]) -> str | None:
    """The verdict's summary with its numbers in the signal's unit; None: keep it as it is."""
    sig = SIGNALS.get(signal or "")
    ev = verdict.get("evidence") or {}
    text = verdict.get("summary")
    if sig is None or not isinstance(text, str) or ev.get("kind") != "mean":
        return None
    c, b = ev.get("candidate_mean"), ev.get("baseline_mean")
    if not isinstance(c, int | float) or not isinstance(b, int | float):
        return None
    name = text.split(":", 1)[0]
    what = " (geometric mean" if sig.unit in LOG_UNITS else " ("
    change = _change(sig.unit, c, b)
    line = (
        f"{name}: {value(sig.unit, c)} vs {value(sig.unit, b)} baseline"
        f"{what}{', ' if what != ' (' and change else ''}{change})"
        f" after {ev.get('candidate_count', 0):,.0f} candidate calls"
    )
    rest = text.split(";", 1)[1] if ";" in text else ""
    if rest and sig.unit in LOG_UNITS:
        scale = LOG_UNITS[sig.unit]

        def back(m: re.Match[str]) -> str:
            bound, v = m.group(1), float(m.group(2))
            if bound == "max_increase":
                return f"x{math.exp(v):.3g} (max_ratio)"
            if bound == "max_decrease":
                return f"x{math.exp(-v):.3g} (min_ratio)"
            shown = ms(math.exp(v)) if sig.unit == TIME else f"{math.exp(v) * scale:,.0f} tokens"
            return f"{bound} {shown}"

        rest = _LOG_BOUND.sub(back, rest)
    return line + (";" + rest if rest else "")


def summary_of(spec: Any, gate: str, verdict: dict[str, Any]) -> str | None:
    """`readable` for a gate of a PlanSpec, by name; else the verdict's own summary."""
    signal = next((g.signal for g in getattr(spec, "gates", []) if g.name == gate), None)
    got = readable(signal, verdict)
    return got if got is not None else verdict.get("summary")


def cost_projection(spec: PlanSpec, verdicts: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate at 100 %: per-request change of the cost gate and dollars a month, at the
    request rate of the last analysis interval (from a proportion gate's last tick); with a
    budget, what the candidate has spent of it (rollout.engine.budget, on the cost verdict)."""
    cost = spec.cost_gate()
    if cost is None:
        return None
    verdict = verdicts.get(cost.name) or {}
    spent = verdict.get("budget")
    ev = verdict.get("evidence") or {}
    c, b = ev.get("candidate_mean"), ev.get("baseline_mean")
    if not isinstance(c, int | float) or not isinstance(b, int | float) or b <= 0:
        if spent is None:
            return None
        none = dict.fromkeys(("baseline_per_request", "candidate_per_request", "relative"))
        return {
            "gate": cost.name,
            **none,
            "requests_per_hour": None,
            "monthly_delta": None,
            "budget": spent,
        }
    per_interval = None
    for v in verdicts.values():
        tick = ((v or {}).get("evidence") or {}).get("tick")
        if isinstance(tick, dict) and "candidate" in tick and "baseline" in tick:
            per_interval = float(tick["candidate"][1]) + float(tick["baseline"][1])
            break
    interval = float(getattr(getattr(spec, "analysis", None), "interval", 60) or 60)
    rph = per_interval * 3600.0 / interval if per_interval is not None else None
    out: dict[str, Any] = {"gate": cost.name, **monthly_projection(b, c, rph or 0.0)}
    if rph is None:  # no proportion gate's tick: the per-request change alone
        out.update(requests_per_hour=None, monthly_delta=None)
    if spent is not None:
        out["budget"] = spent
    return out


def projection_line(p: dict[str, Any]) -> str:
    """ "cost at 100 %: candidate +18 % per request ($0.0059 vs $0.0050), +$4,120 a month at
    the last interval's traffic (N requests/h); budget: candidate spent $12 of $250". `p` is
    cost_projection's (status, report) or rollout.llm.forecast.planned's (plan): there, the
    traffic is named (`traffic`), and a `note` says why there are no numbers."""
    if p.get("note"):
        text = f"cost at 100 %: {p['note']}"
    elif p.get("relative") is None or p.get("candidate_per_request") is None:
        text = "cost at 100 %: not yet measured for both variants"
    else:
        text = (
            f"cost at 100 %: candidate {p['relative'] * 100:+.0f} % per request "
            f"({usd(p['candidate_per_request'])} vs {usd(p['baseline_per_request'])})"
        )
        if p.get("monthly_delta") is not None:
            d = p["monthly_delta"]
            at = p.get("traffic")
            at = at or (f"the last interval's traffic ({p['requests_per_hour']:,.0f} requests/h)")
            text += f", {'+' if d >= 0 else '-'}{usd(abs(d))} a month at {at}"
    return text + budget_clause(p.get("budget"))


def budget_clause(b: dict[str, Any] | None) -> str:
    """The spend cap in words: spent so far (status, report) or expected over the bakes (plan)."""
    if not b or b.get("cap") is None:
        return ""
    cap = usd(float(b["cap"]))
    if b.get("spent") is not None:
        text = f"; budget: candidate spent {usd(float(b['spent']))} of {cap}"
        n = int(b.get("unmeasured_ticks") or 0)
        return text + (f" ({n} interval(s) without a cost reading, not counted)" if n else "")
    if b.get("expected_spend") is not None:
        return f"; budget {cap}: the bakes should spend ~{usd(float(b['expected_spend']))} on it"
    return f"; budget {cap}"
