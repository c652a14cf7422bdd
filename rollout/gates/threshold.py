"""The threshold method: Argo Rollouts / Flagger semantics.

Every interval the candidate's value is checked against the gate's bounds; a failed check
counts, and the gate fails when failures exceed `failure_limit` within a stage. No data is
inconclusive, never a pass.
"""

from __future__ import annotations

from typing import Any

from rollout.gates import readings
from rollout.gates.types import Settings, Tick, Verdict
from rollout.spec import Gate


def value_of(gate: Gate, reading: dict[str, float]) -> float | None:
    """The gate's number for one variant: a rate, a mean or a plain value (None: no samples)."""
    if gate.kind == "proportion":
        total = reading.get("total", 0.0)
        return reading.get("events", 0.0) / total if total > 0 else None
    if gate.kind == "mean":
        count = reading.get("count", 0.0)
        return reading.get("sum", 0.0) / count if count > 0 else None
    return reading.get("query")


def breaches(gate: Gate, cand: float, base: float | None) -> list[str]:
    """Which bounds the candidate's value breaks, in words."""
    out = []
    if gate.max is not None and cand > gate.max:
        out.append(f"{cand:.4g} > max {gate.max:g}")
    if gate.min is not None and cand < gate.min:
        out.append(f"{cand:.4g} < min {gate.min:g}")
    if base is not None:
        if gate.max_ratio is not None and base > 0 and cand / base > gate.max_ratio:
            out.append(f"{cand / base:.3g}x baseline > max_ratio {gate.max_ratio:g}")
        if gate.max_ratio is not None and base == 0 and cand > 0:
            out.append(f"{cand:.4g} against a baseline of 0 breaks max_ratio {gate.max_ratio:g}")
        if gate.min_ratio is not None and base > 0 and cand / base < gate.min_ratio:
            out.append(f"{cand / base:.3g}x baseline < min_ratio {gate.min_ratio:g}")
        if gate.max_increase is not None and cand - base > gate.max_increase:
            out.append(f"+{cand - base:.4g} over baseline > max_increase {gate.max_increase:g}")
        if gate.max_decrease is not None and base - cand > gate.max_decrease:
            out.append(f"-{base - cand:.4g} under baseline > max_decrease {gate.max_decrease:g}")
    return out


def _fmt(gate: Gate, v: float | None) -> str:
    if v is None:
        return "no data"
    return f"{v * 100:.2f} %" if gate.kind == "proportion" else f"{v:.4g}"


def evaluate(
    gate: Gate, state: dict[str, Any], tick: Tick, settings: Settings
) -> tuple[dict[str, Any], Verdict]:
    st = dict(state)
    if st.get("stage") != tick.stage:  # Argo: one AnalysisRun per step; counts start again
        st = {"stage": tick.stage, "failures": 0, "checks": 0, "inconclusive": 0}
    st["checks"] = st.get("checks", 0) + 1
    limit = settings.failure_limit

    def verdict(status: str, summary: str, **evidence: Any) -> tuple[dict[str, Any], Verdict]:
        ev = {
            "method": "threshold",
            "failures": st["failures"],
            "failure_limit": limit,
            "checks": st["checks"],
            **evidence,
        }
        return st, Verdict(gate=gate.name, status=status, summary=summary, evidence=ev)

    if tick.error is not None or tick.readings is None:
        st["inconclusive"] = st.get("inconclusive", 0) + 1
        why = f"query failed: {tick.error}" if tick.error else "no data"
        return verdict("inconclusive", f"{gate.name}: {why}")
    bad = readings.first_problem(gate, tick.readings)
    if bad is not None:  # a source error: no data, never a pass
        st["inconclusive"] = st.get("inconclusive", 0) + 1
        return verdict(
            "inconclusive", f"{bad}: an impossible reading, counted as no data", error=bad
        )
    cand = value_of(gate, tick.readings.get("candidate", {}))
    base = value_of(gate, tick.readings.get("baseline", {}))
    if cand is None:
        st["inconclusive"] = st.get("inconclusive", 0) + 1
        return verdict(
            "inconclusive", f"{gate.name}: no candidate samples in this window", baseline=base
        )
    broken = breaches(gate, cand, base)
    if broken:
        st["failures"] += 1
    status = "fail" if st["failures"] > limit else "pass"
    text = f"{gate.name}: candidate {_fmt(gate, cand)} vs baseline {_fmt(gate, base)}"
    if broken:
        text += f"; {'; '.join(broken)} (failed checks {st['failures']}, limit {limit})"
    return verdict(status, text, candidate=cand, baseline=base, breaches=broken)
