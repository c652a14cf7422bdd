"""Built-in LLM signals: a gate that names one becomes an ordinary gate at validation, with the
queries of its source type; what cannot be answered is a located plan error (exit 2)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rollout.errors import SpecError
from rollout.llm import catalog
from rollout.loading import load
from rollout.sim import traffic
from rollout.spec import PlanSpec

REPO = Path(__file__).resolve().parents[2]

HEAD = """\
apiVersion: rollout/v1
kind: Plan
name: sig
variants:
  baseline:  {model: gpt-4o, model_version: "2024-08-06", target: gpt4o}
  candidate: {model: gpt-4.1, model_version: "2025-04-14", target: gpt41}
router: {type: file, path: routes.json}
"""
TAIL = """\
stages:
  - {name: pilot, weight: 5, bake: 5m}
  - {name: full, weight: 100, bake: 5m}
"""
SOURCES = {
    "simulated": "metrics: {type: simulated}\n",
    "prometheus": "metrics: {type: prometheus, url: http://127.0.0.1:9090}\n",
    "litellm": "metrics: {type: prometheus, url: http://127.0.0.1:4000, signals: litellm}\n",
    "azure-monitor": (
        "metrics: {type: azure-monitor, resource_id: /subscriptions/s/resourceGroups/rg/providers/"
        "Microsoft.CognitiveServices/accounts/a}\n"
    ),
    "log-analytics": (
        "metrics: {type: log-analytics, workspace_id: 00000000-0000-0000-0000-000000000000}\n"
    ),
}
BOUNDS = {
    "error-rate": "max_ratio: 1.2",
    "throttled-rate": "max: 0.02",
    "content-filtered-rate": "max_increase: 0.005",
    "ttft": "max_ratio: 1.2",
    "latency": "max_ratio: 1.2",
    "latency-p95-exceedance": "threshold: 2560, max_increase: 0.02",
    "ttft-exceedance": "threshold: 640, max_increase: 0.02",
    "input-tokens-per-request": "max_ratio: 1.2",
    "output-tokens-per-request": "max_ratio: 1.2",
    "cost-per-request": "max_ratio: 1.1",
    "quality-score": "max_decrease: 0.02",
    "thumbs-down-rate": "max_increase: 0.02",
}
# What each source answers (the rest is a located error saying why).
ANSWERS = {
    "simulated": set(catalog.SIGNALS),
    "prometheus": set(catalog.SIGNALS),
    "litellm": {
        "error-rate",
        "throttled-rate",
        "content-filtered-rate",
        "ttft",
        "latency",
        "latency-p95-exceedance",
        "ttft-exceedance",
    },
    "azure-monitor": {"error-rate", "throttled-rate", "ttft"},
    "log-analytics": {
        "error-rate",
        "throttled-rate",
        "content-filtered-rate",
        "latency",
        "latency-p95-exceedance",
        "input-tokens-per-request",
        "output-tokens-per-request",
    },
}


def plan(tmp_path: Path, gates: str, source: str = "simulated", extra: str = "") -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(HEAD + SOURCES[source] + extra + "gates:\n" + gates + TAIL)
    return p


def gate_line(signal: str, name: str = "g", source: str = "") -> str:
    bounds = BOUNDS[signal]
    if source == "litellm":  # its own histogram buckets
        bounds = bounds.replace("2560", "2000").replace("640", "500")
    return f"  - {{name: {name}, signal: {signal}, {bounds}}}\n"


def problems(path: Path) -> list[Any]:
    with pytest.raises(SpecError) as exc:
        load(path)
    return list(exc.value.problems)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_source_answers_its_signals_and_refuses_the_rest_where_the_gate_says(
    tmp_path: Path, source: str
) -> None:
    for signal in catalog.SIGNALS:
        p = plan(
            tmp_path, gate_line("error-rate", "first") + gate_line(signal, source=source), source
        )
        if signal in ANSWERS[source]:
            g = load(p).spec.gates[1]
            assert g.signal == signal and g.kind in ("proportion", "mean", "value")
            assert all(q for q in g.queries().values()), (source, signal)
        else:
            [pr] = problems(p)
            assert pr.field == "gates[1].signal" and pr.line == 11, (source, signal, pr)
            assert signal in pr.message and source in pr.message


@pytest.mark.slow  # over a second: a whole CLI run
def test_unknown_signal_is_a_located_error_with_a_suggestion_and_exit_2(tmp_path: Path) -> None:
    p = plan(tmp_path, "  - {name: t, signal: tfft, max_ratio: 1.2}\n")
    r = subprocess.run(
        [sys.executable, "-m", "rollout", "validate", str(p)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "plan.yaml:10:" in r.stdout + r.stderr
    assert "gates[0].signal: unknown signal 'tfft' (did you mean 'ttft'?)" in r.stdout + r.stderr


def test_a_signal_gate_takes_no_queries(tmp_path: Path) -> None:
    p = plan(tmp_path, "  - {name: e, signal: error-rate, events: x, max_ratio: 1.2}\n")
    [pr] = problems(p)
    assert pr.field == "gates[0].events" and "takes no queries" in pr.message


def test_exceedance_needs_a_threshold_and_a_bucket_boundary_on_prometheus(tmp_path: Path) -> None:
    [pr] = problems(plan(tmp_path, "  - {name: s, signal: ttft-exceedance, max_ratio: 1.2}\n"))
    assert pr.field == "gates[0].signal" and "needs threshold" in pr.message
    gates = "  - {name: s, signal: latency-p95-exceedance, threshold: 2500, max_ratio: 1.2}\n"
    [pr] = problems(plan(tmp_path, gates, "prometheus"))
    assert "bucket boundary" in pr.message and "2560" in pr.message
    gates = "  - {name: e, signal: error-rate, threshold: 100, max_ratio: 1.2}\n"
    [pr] = problems(plan(tmp_path, gates))
    assert pr.field == "gates[0].threshold"


def test_time_signals_bound_the_geometric_mean_in_ms(tmp_path: Path) -> None:
    gates = "  - {name: t, signal: ttft, max_ratio: 1.2, max: 2000}\n"
    g = load(plan(tmp_path, gates)).spec.gates[0]
    assert g.kind == "mean" and g.max_ratio is None
    assert g.max_increase == pytest.approx(math.log(1.2))
    assert g.max == pytest.approx(math.log(2.0))
    [pr] = problems(plan(tmp_path, "  - {name: t, signal: ttft, max_increase: 50}\n"))
    assert pr.field == "gates[0].max_increase" and "max_ratio" in pr.message


def test_azure_monitor_ttft_is_a_value_gate_in_ms(tmp_path: Path) -> None:
    gates = "  - {name: t, signal: ttft, max_ratio: 1.3, max: 4000}\n"
    g = load(plan(tmp_path, gates, "azure-monitor")).spec.gates[0]
    assert g.kind == "value" and g.max_ratio == 1.3 and g.max == 4000
    assert g.query == "AzureOpenAITimeToResponse:average where ModelDeploymentName = '{{ target }}'"


def test_throttling_is_never_counted_as_an_error(tmp_path: Path) -> None:
    for source in ("prometheus", "litellm", "azure-monitor", "log-analytics", "simulated"):
        errors = load(plan(tmp_path, gate_line("error-rate"), source)).spec.gates[0].events
        throttled = load(plan(tmp_path, gate_line("throttled-rate"), source)).spec.gates[0].events
        assert errors and throttled and errors != throttled, source
        if source != "simulated":  # the simulator counts 429s apart (series `throttled`)
            assert "429" in throttled, source
            assert "429" not in errors or "!" in errors, (source, errors)  # excluded


def test_variants_are_selected_like_written_queries(tmp_path: Path) -> None:
    for source, needle in (
        ("prometheus", 'variant="{{ variant }}"'),
        ("simulated", 'variant="{{ variant }}"'),
        ("litellm", 'model_id="{{ target }}"'),
        ("azure-monitor", "ModelDeploymentName = '{{ target }}'"),
    ):
        g = load(plan(tmp_path, gate_line("error-rate"), source)).spec.gates[0]
        assert needle in (g.events or "") and needle in (g.total or ""), source


def test_cost_uses_each_variants_price_and_the_plans_override(tmp_path: Path) -> None:
    g = load(plan(tmp_path, gate_line("cost-per-request"))).spec.gates[0]
    # shipped prices, per 1k: gpt-4o 0.0025 / 0.01, gpt-4.1 0.002 / 0.008
    assert 'price="baseline:0.0025/0.00125/0.01;candidate:0.002/0.0005/0.008"' in (g.sum or "")
    extra = "pricing:\n  gpt-4.1@2025-04-14: {input_per_1k: 0.004, output_per_1k: 0.02}\n"
    g = load(plan(tmp_path, gate_line("cost-per-request"), extra=extra)).spec.gates[0]
    assert "candidate:0.004/0.004/0.02" in (g.sum or "")
    extra = "pricing:\n  gpt-4.1: {input_per_1k: 0.004}\n"
    [pr] = problems(plan(tmp_path, gate_line("cost-per-request"), extra=extra))
    assert pr.field == "gates[0].signal" and "no PAYG price for gpt-4.1" in pr.message


def test_no_price_for_a_model_is_a_located_error(tmp_path: Path) -> None:
    p = plan(tmp_path, gate_line("cost-per-request"))
    p.write_text(p.read_text().replace("gpt-4.1", "my-finetune"))
    [pr] = problems(p)
    assert "my-finetune@2025-04-14" in pr.message and "pricing:" in pr.message


def test_the_simulated_expansion_uses_series_the_simulator_knows(tmp_path: Path) -> None:
    for signal in catalog.SIGNALS:
        g = load(plan(tmp_path, gate_line(signal))).spec.gates[0]
        for query in g.queries().values():
            name, labels = traffic.parse(query.replace("{{ variant }}", "candidate"))
            assert name in traffic.SERIES and labels["variant"] == "candidate"


def test_plans_without_signals_dump_and_hash_as_before(tmp_path: Path) -> None:
    p = tmp_path / "plain.yaml"
    p.write_text(
        HEAD
        + SOURCES["simulated"]
        + "gates:\n  - {name: e, kind: proportion, events: 'errors{variant=\"{{ variant }}\"}', "
        "total: 'requests{variant=\"{{ variant }}\"}', max_ratio: 1.2}\n" + TAIL
    )
    spec = load(p).spec
    dumped = spec.model_dump(mode="json", by_alias=True)
    assert "signal" not in dumped["gates"][0] and "threshold" not in dumped["gates"][0]
    assert "pricing" not in dumped


def test_a_stored_signal_plan_validates_again_to_the_same_spec(tmp_path: Path) -> None:
    """Runs store the expanded spec; reading it back must not expand (or convert) twice."""
    gates = "".join(gate_line(s, f"g{i}") for i, s in enumerate(catalog.SIGNALS))
    spec = load(plan(tmp_path, gates)).spec
    again = PlanSpec.model_validate(spec.model_dump(mode="json", by_alias=True))
    assert again == spec
    assert again.gates[3].max_increase == pytest.approx(math.log(1.2))  # ttft, converted once


def test_bucket_by_groups_a_proportion_signal_by_the_label_on_prometheus(tmp_path: Path) -> None:
    gates = "".join(
        f"  - {{name: g{i}, signal: {s}, {BOUNDS[s]}, bucket_by: bucket}}\n"
        for i, s in enumerate(("error-rate", "latency-p95-exceedance", "thumbs-down-rate"))
    )
    for g in load(plan(tmp_path, gates, "prometheus")).spec.gates:
        assert g.bucket_by == "bucket" and g.kind == "proportion"
        for q in (g.events, g.total):
            assert q is not None and "sum(" not in q and "vector(0)" not in q
            assert q.count("sum by (bucket) (increase(") >= 1
    errors = load(plan(tmp_path, gates, "prometheus")).spec.gates[0].events
    assert errors is not None and errors.endswith(
        " or 0 * sum by (bucket) (increase(gen_ai_client_operation_duration_seconds_count"
        '{variant="{{ variant }}"}[{{ window }}])))'
    )  # a bucket with requests and no failures reads 0, not missing
    plain = load(plan(tmp_path, gate_line("error-rate"), "prometheus")).spec.gates[0]
    assert plain.events is not None and "sum by" not in plain.events  # without it: as before


def test_bucket_by_on_litellm_is_a_located_error(tmp_path: Path) -> None:
    gates = "  - {name: e, signal: error-rate, max_ratio: 1.2, bucket_by: bucket}\n"
    [pr] = problems(plan(tmp_path, gates, "litellm"))
    assert pr.field == "gates[0].bucket_by" and "LiteLLM" in pr.message
