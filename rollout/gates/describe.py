"""Evidence in words: one line a person can read, built from a verdict's numbers."""

from __future__ import annotations

import math


def count(n: float) -> str:
    return f"{n:,.0f}"


def times(log_e: float) -> str:
    """An e-value for people: 24x, 3,100x, then powers of ten (the exact size stops mattering)."""
    if log_e >= math.log(1e6):
        return f"> 10^{int(log_e / math.log(10))}x"
    e = math.exp(log_e)
    if e >= 100:
        return f"{e:,.0f}x"
    if e >= 10:
        return f"{e:.0f}x"
    return f"{e:.2g}x"


def rate(p: float | None) -> str:
    if p is None:
        return "no data"
    return f"{p * 100:.2f} %" if p < 0.1 else f"{p * 100:.1f} %"


def bound_text(bound: str, value: float, kind: str) -> str:
    if kind == "proportion" and bound in ("max", "min", "max_increase", "max_decrease"):
        return (
            f"{bound} {value * 100:g} %"
            if bound in ("max", "min")
            else f"{bound} {value * 100:g} pp"
        )
    return f"{bound} {value:g}"


def proportion_line(name: str, cand: float | None, base: float | None, n_cand: float) -> str:
    text = f"{name}: {rate(cand)} vs {rate(base)} baseline"
    if cand is not None and base:
        text += f" ({cand / base:.2g}x)"
    return text + f" after {count(n_cand)} candidate requests"


def mean_line(name: str, cand: float | None, base: float | None, n_cand: float) -> str:
    c = "no data" if cand is None else f"{cand:.4g}"
    b = "no data" if base is None else f"{base:.4g}"
    return f"{name}: mean {c} vs {b} baseline after {count(n_cand)} candidate samples"


def decision(
    status: str,
    halt: bool,
    worst: tuple[str, float, float] | None,
    best: tuple[str, float, float] | None,
) -> str:
    """The decision clause of a sequential gate's line.

    `worst` = (bound, log e of harm, log threshold); `best` = (bound, log e of safety, log
    threshold).
    """
    if halt:
        return ""
    if status == "fail" and worst is not None:
        b, le, lt = worst
        return f"; evidence {times(le)} over the bound ({b}), needed {times(lt)}: fail"
    if status == "pass":
        if best is None:
            return "; within bounds"
        b, le, lt = best
        return f"; within {b} certified (evidence {times(le)}, needed {times(lt)})"
    parts = []
    if worst is not None:
        parts.append(f"harm evidence {times(worst[1])} of {times(worst[2])} needed")
    if best is not None:
        parts.append(f"safety evidence {times(best[1])} of {times(best[2])}")
    return "; inconclusive" + (f" ({', '.join(parts)})" if parts else "")
