"""One observation path: the same recorded readings through `apply`'s path (rendered queries
against a metrics source) and `simulate`'s path (simulated batches) give identical ticks and
identical verdicts, for every gate kind and both methods."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.engine import TickRequest
from rollout.errors import NoData, ProviderError
from rollout.gates.evaluate import Settings, evaluate
from rollout.metrics import Window
from rollout.observe import Observer
from rollout.sim import virtual
from rollout.testing import FakeRouter, scripted_providers
from tests.helpers.plans import make_plan

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SERIES_ROLE = {
    "errors": "events",
    "requests": "total",
    "latency_count": "count",
    "latency_log_sum": "sum",
    "latency_log_sum_squares": "sum_squares",
    "latency_p95": "query",
}
GATES: dict[str, dict[str, Any]] = {
    "proportion": {
        "name": "errors",
        "kind": "proportion",
        "events": 'errors{variant="{{ variant }}"}',
        "total": 'requests{variant="{{ variant }}"}',
        "max_ratio": 1.5,
        "max": 0.2,
    },
    "mean": {
        "name": "latency",
        "kind": "mean",
        "count": 'latency_count{variant="{{ variant }}"}',
        "sum": 'latency_log_sum{variant="{{ variant }}"}',
        "sum_squares": 'latency_log_sum_squares{variant="{{ variant }}"}',
        "max_increase": 0.1,
    },
    "value": {
        "name": "p95",
        "kind": "value",
        "query": 'latency_p95{variant="{{ variant }}"}',
        "max_ratio": 1.3,
    },
}
NODATA, ERROR = "nodata", "error"


def _readings(kind: str, i: int) -> dict[str, Any]:
    """Tick i of a recording: ordinary data, a baseline with no traffic (a 100 % stage), a
    candidate with none, a failed query, an impossible count, fractional counts."""
    n = 1000.0 + 37 * i
    good = {
        "proportion": lambda f: {"events": n * 0.01 * f, "total": n},
        "mean": lambda f: {"count": n, "sum": n * -0.2 * f, "sum_squares": n * (0.04 * f + 0.09)},
        "value": lambda f: {"query": 1.1 * f},
    }[kind]
    rec: dict[str, Any] = {"baseline": good(1.0), "candidate": good(1.1 + 0.01 * i)}
    if i == 3:
        rec["baseline"] = NODATA
    if i == 4:
        rec["candidate"] = NODATA
    if i == 5:
        rec["candidate"] = ERROR
    if i == 6 and kind == "proportion":
        rec["candidate"] = {"events": 1204.0, "total": 1000.0}
    if i == 7 and kind == "proportion":
        rec["candidate"] = {"events": 10.6, "total": 999.4}  # increase() is fractional
    return rec


def _value(rec: dict[str, Any], variant: str, role: str) -> float:
    got = rec[variant]
    if got == NODATA:
        raise NoData(f"{variant}: no series")
    if got == ERROR:
        raise ProviderError("prometheus: HTTP 502 bad gateway (after 5 attempts)")
    return float(got[role])


class Recorded:
    """A metrics source answering rendered queries from the recording (apply's path)."""

    def __init__(self) -> None:
        self.rec: dict[str, Any] = {}

    def query(self, query: str, window: Window) -> float:
        m = re.match(r'(\w+)\{variant="(\w+)"\}', query)
        assert m, query
        return _value(self.rec, m.group(2), SERIES_ROLE[m.group(1)])

    def check(self) -> None:
        return None


@pytest.mark.parametrize("method", ["sequential", "threshold"])
@pytest.mark.parametrize("kind", ["proportion", "mean", "value"])
def test_apply_and_simulate_read_the_same_readings_alike(kind: str, method: str) -> None:
    plan = make_plan(gates=[GATES[kind]], analysis={"interval": "20s", "method": method})
    gate = plan.spec.gates[0]
    source = Recorded()
    observer = Observer(plan, scripted_providers(FakeRouter(), source, plan), lambda k, m: None)
    roles = {role: (q.split("{")[0], {}) for role, q in gate.queries().items()}
    settings = Settings(method=method, alpha=0.05)
    states: dict[str, dict[str, Any]] = {"apply": {}, "simulate": {}}
    verdicts: dict[str, list[tuple[str, str]]] = {"apply": [], "simulate": []}
    for i in range(10):
        rec = _readings(kind, i)
        source.rec = rec
        start = T0 + timedelta(seconds=20 * i)
        req = TickRequest(
            start=start,
            end=start + timedelta(seconds=20),
            gates=(gate.name,),
            stage="pilot",
            weight=5,
        )
        ticks = {
            "apply": observer.ticks(req)[gate.name],
            "simulate": virtual.read_recorded(
                gate, roles, lambda v, r, rec=rec: _value(rec, v, r), req.end, "pilot", 5
            ),
        }
        assert ticks["apply"] == ticks["simulate"], f"tick {i}"
        for path, tick in ticks.items():
            states[path], v = evaluate(gate, states[path], tick, settings)
            verdicts[path].append((v.status, v.summary))
    assert verdicts["apply"] == verdicts["simulate"]
    statuses = [s for s, _ in verdicts["apply"]]
    assert statuses[4] == "inconclusive" and statuses[5] == "inconclusive"  # never a pass
    if kind == "proportion":
        assert "1,204 events for 1,000 requests" in verdicts["apply"][6][1]
