"""Signal gates' verdicts in their units (ms, tokens, dollars, scores) and the cost projection,
from a real plan simulated through the engine (rollout.sim.virtual)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from rollout.llm import units
from rollout.loading import load
from rollout.records import Run
from rollout.sim import scenarios, virtual
from rollout.views import status

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: units
variants:
  baseline:  {model: gpt-4o, model_version: "2024-08-06"}
  candidate: {model: gpt-4.1, model_version: "2025-04-14"}
router: {type: file, path: routes.json}
metrics: {type: simulated, seed: 3, requests_per_second: 100}
gates:
  - {name: errors, signal: error-rate, max_ratio: 1.5}
  - {name: ttft, signal: ttft, max_ratio: 1.2}
  - {name: tokens, signal: output-tokens-per-request, max_ratio: 1.15}
  - {name: cost, signal: cost-per-request, max_ratio: 1.1}
  - {name: quality, signal: quality-score, max_decrease: 0.05}
stages:
  - {name: pilot, weight: 50, bake: 20m}
  - {name: full, weight: 100}
analysis: {interval: 1m, on_inconclusive: proceed}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    p: Path = tmp_path_factory.mktemp("u") / "plan.yaml"
    p.write_text(PLAN)
    plan = load(p).plan
    seen: dict[str, Any] = {}
    orig = virtual.advance

    def spy(*a: Any, **k: Any) -> Any:
        d = orig(*a, **k)
        if d.run.verdicts:
            seen["run"] = d.run
        return d

    virtual.advance = spy  # type: ignore[assignment]
    try:
        virtual.simulate_one(plan, scenarios.builtin("healthy"), 1, 0)
    finally:
        virtual.advance = orig  # type: ignore[assignment]
    got: Run = seen["run"]
    return got


def test_time_and_token_verdicts_read_in_ms_and_tokens(run: Run) -> None:
    spec = run.plan.spec
    ttft = units.summary_of(spec, "ttft", run.verdicts["ttft"]) or ""
    # the simulator's TTFT median is 350 ms; the gate measured mean log-seconds
    assert ttft.startswith("ttft: ") and " ms vs " in ttft and "geometric mean" in ttft, ttft
    shown = float(ttft.split(": ", 1)[1].split(" ms", 1)[0].replace(",", ""))
    assert 300 < shown < 400, ttft
    assert "x1.2 (max_ratio)" in ttft and "0.18" not in ttft, ttft
    tokens = units.summary_of(spec, "tokens", run.verdicts["tokens"]) or ""
    assert " tokens vs " in tokens and "x1.15 (max_ratio)" in tokens, tokens
    cost = units.summary_of(spec, "cost", run.verdicts["cost"]) or ""
    assert cost.startswith("cost: $0.00") and "%" in cost, cost
    # Rates were readable already: left as the gate wrote them.
    assert (
        units.summary_of(spec, "errors", run.verdicts["errors"])
        == run.verdicts["errors"]["summary"]
    )


def test_cost_projection_at_full_traffic(run: Run) -> None:
    p = units.cost_projection(run.plan.spec, run.verdicts)
    assert p is not None
    # gpt-4.1 is priced 20 % below gpt-4o for input and output (rollout/llm/pricing.yaml)
    assert p["relative"] == pytest.approx(-0.2, abs=0.03)
    # the scenario's 1,000 requests/min: 60,000 an hour, from the last interval's counts (one
    # minute of Poisson traffic, so within a few per cent)
    assert p["requests_per_hour"] == pytest.approx(60_000, rel=0.15)
    month = (p["candidate_per_request"] - p["baseline_per_request"]) * p["requests_per_hour"] * 730
    assert p["monthly_delta"] == pytest.approx(month)
    line = units.projection_line(p)
    assert line.startswith("cost at 100 %: candidate -20 % per request") and "a month" in line


def test_status_shows_the_projection_and_the_readable_verdicts(run: Run) -> None:
    now = run.updated_at
    text = "\n".join(status.human(run, now))
    assert "cost at 100 %: candidate -2" in text and " ms vs " in text
    doc = status.data(run, now)
    assert doc["cost_projection"]["gate"] == "cost"
    assert math.isfinite(doc["cost_projection"]["monthly_delta"])


def test_a_plan_without_signals_keeps_its_summaries(run: Run) -> None:
    v = {"summary": "lat: mean -0.2 vs -0.2", "evidence": {"kind": "mean"}}
    assert units.readable(None, v) is None
    spec = run.plan.spec
    uncosted = spec.model_copy(
        update={"gates": [g for g in spec.gates if g.signal != "cost-per-request"]}
    )
    assert units.cost_projection(uncosted, run.verdicts) is None


def test_the_report_shows_readable_evidence_and_the_projection(run: Run) -> None:
    from rollout.report import context

    ctx = context(run, [])
    assert ctx["cost_projection"].startswith("cost at 100 %: candidate -2")
    assert " ms vs " in ctx["run"]["verdicts"]["ttft"]["summary"]
    assert "mean -1." not in ctx["run"]["verdicts"]["ttft"]["summary"]
