"""The Prometheus demo end to end: a real Prometheus server scrapes the demo service, and
`rollout apply` (a subprocess) promotes a healthy candidate and rolls back a bad one, reading
nothing but Prometheus. Slow by nature (real processes, real bakes); no timing is asserted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.prometheus]


def weights(routes: Any) -> dict[str, int]:
    doc = json.loads(routes.read_text())
    return {v["name"]: v["weight"] for v in doc["variants"]}


def explain(r: Any) -> str:
    return f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"


def test_check_reads_the_real_server(demo_factory: Any) -> None:
    demo = demo_factory()
    r = demo.rollout("check", "plan.yaml", "--output", "json")
    assert r.returncode == 0, explain(r)
    doc = json.loads(r.stdout)
    assert doc["schema"] == "rollout.check/v1" and doc["sources"]["metrics"]["status"] == "ok"
    got = {(x["gate"], x["role"], x["variant"]): x for x in doc["results"]}
    base_total = got[("error-rate", "total", "baseline")]
    assert base_total["status"] == "ok" and base_total["value"] > 0
    assert 'variant="baseline"' in base_total["query"] and "[5s]" in base_total["query"]
    # The candidate has no traffic yet: zero requests, and no latency samples at all.
    assert got[("error-rate", "total", "candidate")]["value"] == 0
    assert got[("p95-latency", "query", "candidate")]["status"] == "no_data"
    assert not demo.routes.exists()  # check moves nothing


def test_healthy_candidate_is_promoted(demo_factory: Any) -> None:
    demo = demo_factory("--candidate", "healthy")
    r = demo.rollout("apply", "plan.yaml", "--state", f"sqlite:///{demo.workdir}/state.db")
    assert r.returncode == 0, explain(r)
    assert weights(demo.routes) == {"baseline": 0, "candidate": 100}
    # The gates really saw candidate traffic through Prometheus.
    seen = demo.prometheus.query('sum(llm_requests_total{variant="candidate"})')
    assert seen and float(seen[0]["value"][1]) > 0


def test_bad_candidate_is_rolled_back(demo_factory: Any) -> None:
    demo = demo_factory("--candidate", "bad")
    r = demo.rollout("apply", "plan.yaml", "--state", f"sqlite:///{demo.workdir}/state.db")
    assert r.returncode == 3, explain(r)
    assert weights(demo.routes) == {"baseline": 100, "candidate": 0}
    assert "error-rate" in r.stdout + r.stderr or "p95-latency" in r.stdout + r.stderr, explain(r)
