from __future__ import annotations

import pytest

from rollout.sim.report import quantile, summarise, text_table, wilson
from rollout.sim.virtual import Outcome


def test_wilson_and_quantile() -> None:
    lo, hi = wilson(5, 100)
    assert (
        lo < 0.05 < hi
        and lo == pytest.approx(0.0215, abs=1e-3)
        and hi == pytest.approx(0.1118, abs=1e-3)
    )
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0 and quantile([], 0.5) is None
    assert quantile([0.0, 10.0], 0.9) == pytest.approx(9.0)


def test_summarise_counts_and_figures() -> None:
    outs = [
        Outcome("rolled_back", 10, ("error-rate",), 500, 10, 5.0, 10),
        Outcome("rolled_back", 20, ("error-rate",), 900, 20, 9.0, 20),
        Outcome("completed", 95, (), 30000, 300, 150.0, 95),
        Outcome("halted", 7, ("error-rate",), 300, 3, 0.0, 7),
    ]
    s = summarise(outs, healthy=False)
    assert s["detection_probability"] == 0.5 and s["false_rollback_rate"] is None
    assert s["time_to_detect_min"]["median"] == 15 and s["outcomes"]["halted"] == 1
    assert s["excess_failed_requests"]["mean"] == pytest.approx(41.0)
    assert s["failed_gates"] == {"error-rate": 2}
    rows = text_table(s, "t")
    assert any("detection probability" in r and "50.0 %" in r for r in rows)
    assert summarise(outs, healthy=True)["false_rollback_rate"] == 0.5
