"""What the report draws, read from a run's events (pure: no clock, no store).

The event log already holds everything: a `weights` event (and the rollback, abort and drift
events) carries the weights set; every analysis tick writes one `verdict` event per gate whose
`evidence` holds the cumulative numbers (rates or means per variant, requests, the log e-values
of each bound against its log threshold, and for means the anytime-valid confidence sequence).
Times are seconds since the run's first event.

Bands: a mean gate shows the candidate's anytime-valid confidence sequence (stored per tick,
mapped from the contrast it bounds onto the candidate's scale at the baseline's mean). For
proportions the decision is an e-process with no interval, so each variant's band is the 95 %
Wilson interval of its cumulative rate: descriptive, drawn to show how much data there is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout.records import Event, Phase, Run

Z95 = 1.959963984540054
TERMINAL = {Phase.COMPLETED.value, Phase.ROLLED_BACK.value, Phase.ABORTED.value}


@dataclass
class GateSeries:
    gate: str
    kind: str  # proportion | mean | value
    method: str  # sequential | threshold
    unit: str  # "%" for proportions, "" otherwise
    baseline: list[tuple[float, float]] = field(default_factory=list)
    candidate: list[tuple[float, float]] = field(default_factory=list)
    baseline_band: list[tuple[float, float, float]] = field(default_factory=list)
    candidate_band: list[tuple[float, float, float]] = field(default_factory=list)
    bounds: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # value units
    harm: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # log10 e-value
    safe: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # log10 e-value
    threshold: dict[str, float] = field(default_factory=dict)  # log10 of what is needed
    failures: list[tuple[float, float]] = field(default_factory=list)  # threshold method
    failure_limit: int | None = None
    last_status: str | None = None


@dataclass
class Segment:
    """A stretch of the run: a stage at a weight, a wait for approval, a pause, a rollback."""

    what: str
    start: datetime
    end: datetime | None  # None: still going


@dataclass
class Series:
    t0: datetime
    end: datetime | None  # when the run finished (None: still active)
    last: datetime  # the last event (the chart's right edge while active)
    weights: list[tuple[float, float]]  # (t, candidate %), set weights
    gates: dict[str, GateSeries]
    segments: list[Segment]

    @property
    def x_end(self) -> float:
        return max((self.last - self.t0).total_seconds(), 1.0)


def wilson(events: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0..1)."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(events / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _bound_value(bound: str, val: float, base: float | None) -> float | None:
    """Where a bound puts the candidate, in the gate's units, given the baseline's value."""
    if bound in ("max", "min"):
        return val
    if base is None:
        return None
    if bound in ("max_ratio", "min_ratio"):
        return base * val
    return base + val if bound == "max_increase" else base - val


# est = a * candidate + coef * baseline for the relative bounds of a mean gate (gates.sequential)
_CONTRAST = {"max_increase": (1.0, -1.0), "max_decrease": (-1.0, 1.0)}


def _candidate_from_contrast(bound: str, val: float, est: float, base: float) -> float:
    if bound in ("max", "min"):
        return val + (est if bound == "max" else -est)
    if bound == "max_ratio":
        a, coef = 1.0, -val
    elif bound == "min_ratio":
        a, coef = -1.0, val
    else:
        a, coef = _CONTRAST[bound]
    return (est - coef * base) / a


def _log10(x: Any) -> float | None:
    return x / math.log(10) if isinstance(x, int | float) and math.isfinite(x) else None


def _gate_point(
    g: GateSeries, t: float, ev: dict[str, Any], bounds: list[tuple[str, float]]
) -> None:
    scale = 100.0 if g.kind == "proportion" else 1.0
    if ev.get("method") == "threshold":
        cand, base = ev.get("candidate"), ev.get("baseline")
        if "failures" in ev:
            g.failures.append((t, float(ev["failures"])))
            g.failure_limit = ev.get("failure_limit")
        if isinstance(cand, int | float):
            g.candidate.append((t, cand * scale))
        if isinstance(base, int | float):
            g.baseline.append((t, base * scale))
        for b, val in bounds:
            y = _bound_value(b, val, base if isinstance(base, int | float) else None)
            if y is not None:
                g.bounds.setdefault(b, []).append((t, y * scale))
        return
    if ev.get("kind") == "proportion":
        rc, rb = ev.get("candidate_rate"), ev.get("baseline_rate")
        if rc is not None:
            g.candidate.append((t, rc * 100))
            lo, hi = wilson(ev.get("candidate_events", 0), ev.get("candidate_requests", 0))
            g.candidate_band.append((t, lo * 100, hi * 100))
        if rb is not None:
            g.baseline.append((t, rb * 100))
            lo, hi = wilson(ev.get("baseline_events", 0), ev.get("baseline_requests", 0))
            g.baseline_band.append((t, lo * 100, hi * 100))
        base = rb
    elif ev.get("kind") == "mean":
        cm, bm = ev.get("candidate_mean"), ev.get("baseline_mean")
        if cm is not None:
            g.candidate.append((t, cm))
        if bm is not None:
            g.baseline.append((t, bm))
        base = bm
        vals = dict(bounds)
        for b, cs in (ev.get("confidence_sequences") or {}).items():
            if b in vals and bm is not None:
                ends = [
                    _candidate_from_contrast(b, vals[b], cs[k], bm)
                    for k in ("cs_lower", "cs_upper")
                ]
                g.candidate_band.append((t, min(ends), max(ends)))
                break
    else:
        return
    for b, val in bounds:
        y = _bound_value(b, val, base)
        if y is not None:
            g.bounds.setdefault(b, []).append((t, y * (100.0 if g.kind == "proportion" else 1.0)))
    for b, num in (ev.get("bounds") or {}).items():
        harm, safe = _log10(num.get("log_e_harm")), _log10(num.get("log_e_safe"))
        need = _log10(num.get("log_threshold"))
        if harm is not None:
            g.harm.setdefault(b, []).append((t, harm))
        if safe is not None:
            g.safe.setdefault(b, []).append((t, safe))
        if need is not None:
            g.threshold[b] = need


def extract(run: Run, events: list[Event]) -> Series:
    from rollout.gates.sequential import bounds as gate_bounds

    t0 = events[0].at if events else run.created_at
    last = max([e.at for e in events], default=run.updated_at)

    def t(at: datetime) -> float:
        return (at - t0).total_seconds()

    specs = {g.name: g for g in run.plan.spec.gates}
    method = run.plan.spec.analysis.method
    gates: dict[str, GateSeries] = {}
    for name, spec in specs.items():
        kind = spec.kind
        gates[name] = GateSeries(
            gate=name,
            kind=kind,
            method="threshold" if kind == "value" else method,
            unit="%" if kind == "proportion" else "",
        )
    weights: list[tuple[float, float]] = []
    segments: list[Segment] = []
    end: datetime | None = None
    current = "preflight"

    def begin(what: str, at: datetime) -> None:
        if segments and segments[-1].end is None:
            segments[-1].end = at
        segments.append(Segment(what, at, None))

    for e in events:
        d = e.data
        w = d.get("weights_before") if e.kind == "preflight" else d.get("weights")
        if isinstance(w, dict) and isinstance(w.get("candidate"), int | float):
            weights.append((t(e.at), float(w["candidate"])))
        if e.kind == "verdict" and d.get("gate") in gates:
            gs = gates[d["gate"]]
            gs.last_status = d.get("status")
            _gate_point(gs, t(e.at), d.get("evidence") or {}, gate_bounds(specs[gs.gate]))
        phase = d.get("phase")
        if e.kind == "weights" and d.get("stage") and isinstance(w, dict):
            current = f"stage {d['stage']} at {w.get('candidate')} %"
            begin(current, e.at)
        elif e.kind == "weights" and e.message.startswith("promoting"):
            begin("promoted to 100 %", e.at)
        elif e.kind == "phase" and phase == Phase.PROGRESSING.value and segments:
            begin(f"{current} (resumed)", e.at)
        elif e.kind == "phase" and phase == Phase.AWAITING_APPROVAL.value:
            begin(f"awaiting approval for {d.get('stage')}", e.at)
        elif e.kind == "phase" and phase == Phase.PAUSED.value:
            begin("paused", e.at)
        elif e.kind == "no_data" and phase == Phase.PAUSED.value:
            begin("paused: no data", e.at)
        elif e.kind == "phase" and phase == Phase.ROLLING_BACK.value:
            begin("rolling back", e.at)
        if e.kind == "phase" and phase in TERMINAL:
            end = e.at
            if segments and segments[-1].end is None:
                segments[-1].end = e.at
    return Series(
        t0=t0,
        end=end,
        last=end or last,
        weights=weights,
        gates=gates,
        segments=segments,
    )
