from __future__ import annotations

from pathlib import Path

import pytest

from rollout.loading import load
from rollout.records import Plan

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: sim-test
variants:
  baseline:  {model: gpt-4o}
  candidate: {model: gpt-4.1}
router:  {type: file, path: routes.json}
metrics: {type: simulated}
gates:
%(gates)s
stages:
  - {name: pilot,     weight: 5,  bake: 30m}
  - {name: expansion, weights: [25, 50], bake: 30m}
  - {name: full,      weight: 100, bake: 5m}
analysis: {interval: 1m, %(analysis)s, on_inconclusive: proceed}
"""

ERROR_GATE = """\
  - name: error-rate
    kind: proportion
    events: errors{variant="{{ variant }}"}
    total:  requests{variant="{{ variant }}"}
    %(bound)s
"""

LATENCY_GATE = """\
  - name: log-latency
    kind: mean
    count:       latency_count{variant="{{ variant }}"}
    sum:         latency_log_sum{variant="{{ variant }}"}
    sum_squares: latency_log_sum_squares{variant="{{ variant }}"}
    max_increase: 0.0
"""

# The Flagger-style rule calibrated by benchmarks/detection.py at 1,000 requests/min to a
# false-rollback rate <= 5 % (docs/benchmarks.md): error rate > 5 % in a minute, 3 failures.
CALIBRATED_THRESHOLD = ("max: 0.05", "method: threshold, failure_limit: 2, alpha: 0.05")


def write_plan(tmp: Path, gates: str, analysis: str = "method: sequential, alpha: 0.05") -> Path:
    p = tmp / "plan.yaml"
    p.write_text(PLAN % {"gates": gates, "analysis": analysis})
    return p


@pytest.fixture
def error_plan(tmp_path: Path) -> Plan:
    return load(write_plan(tmp_path, ERROR_GATE % {"bound": "max_ratio: 1.0"})).plan


@pytest.fixture
def threshold_plan(tmp_path: Path) -> Plan:
    bound, analysis = CALIBRATED_THRESHOLD
    return load(write_plan(tmp_path, ERROR_GATE % {"bound": bound}, analysis)).plan
