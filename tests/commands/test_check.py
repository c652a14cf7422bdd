"""`rollout check PLAN`: every gate's queries once per variant; nothing moves, nothing is stored."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.clock import FakeClock
from rollout.commands import check
from rollout.errors import EXIT_OK, EXIT_RUNTIME

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

PROM_PLAN = (
    """
apiVersion: rollout/v1
kind: Plan
name: support-bot
variants:
  baseline: {model: gpt-4o, model_version: "2024-08-06", target: gpt4o-support}
  candidate: {model: gpt-4.1, target: gpt41-support}
router: {type: file, path: routes.json}
metrics: {type: prometheus, url: "http://prom.test:9090", retries: 1}
gates:
  - name: error-rate
    kind: proportion
    events: 'sum(increase(llm_requests_total{variant="{{ variant }}",code=~"5.."}[{{ window }}]))'
    total: 'sum(increase(llm_requests_total{variant="{{ variant }}"}[{{ window }}]))'
    max_ratio: 1.5
  - name: p95
    kind: value
    query: 'histogram_quantile(0.95, sum by (le) ("""
    """rate(llm_latency_seconds_bucket{target="{{ target }}"}[{{ window }}])))'
    max: 4
stages:
  - {name: pilot, weight: 10, bake: 60s}
  - {name: full, weight: 100}
analysis: {interval: 20s, method: threshold}
"""
)


def prom(handler: Any) -> httpx.MockTransport:
    def reply(request: httpx.Request) -> httpx.Response:
        q = request.url.params["query"]
        out = handler(q)
        if q == "vector(1)" and not isinstance(out, httpx.Response):
            out = 1  # the source's check(): answered like a real server would
        if isinstance(out, httpx.Response):
            return out
        result = [] if out is None else [{"metric": {}, "value": [NOW.timestamp(), str(out)]}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    return httpx.MockTransport(reply)


def write(tmp_path: Path, text: str = PROM_PLAN) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    return p


def run_json(
    plan: Path, capsys: pytest.CaptureFixture[str], handler: Any = lambda q: 1
) -> tuple[int, dict[str, Any]]:
    extra = {"httpx_transport": prom(handler), "sleep": lambda s: None}
    code = check.run(plan, [], [], "json", clock=FakeClock(NOW), extra=extra)
    return code, json.loads(capsys.readouterr().out)


def test_every_query_for_both_variants_rendered_over_the_last_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[str] = []

    def handler(q: str) -> float:
        seen.append(q)
        return 120 if "5.." not in q else 3

    code, doc = run_json(write(tmp_path), capsys, handler)
    assert code == EXIT_OK
    assert doc["schema"] == "rollout.check/v1" and doc["ok"] is True
    rows = {(r["gate"], r["role"], r["variant"]): r for r in doc["results"]}
    assert len(rows) == 6  # (events, total, query) x (baseline, candidate)
    ev = rows[("error-rate", "events", "candidate")]
    assert ev["query"] == 'sum(increase(llm_requests_total{variant="candidate",code=~"5.."}[20s]))'
    assert ev["status"] == "ok" and ev["value"] == 3.0
    assert rows[("p95", "query", "baseline")]["query"].endswith('{target="gpt4o-support"}[20s])))')
    assert doc["window"]["seconds"] == 20 and doc["window"]["end"] == NOW.isoformat()
    assert doc["weights"] == {"baseline": 100, "candidate": 0}
    assert doc["sources"]["metrics"] == {"type": "prometheus", "status": "ok", "message": None}
    assert "vector(1)" in seen  # the source's own check ran first
    assert doc["counts"] == {"ok": 6, "no_data": 0, "error": 0}


def test_nothing_moves_and_nothing_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    routes = tmp_path / "routes.json"
    routes.write_text(
        json.dumps(
            {
                "schema": "rollout.routes/v1",
                "revision": 7,
                "variants": [
                    {"name": "baseline", "weight": 80},
                    {"name": "candidate", "weight": 20},
                ],
            }
        )
    )
    before = routes.read_text()
    code, doc = run_json(write(tmp_path), capsys)
    assert code == EXIT_OK and doc["weights"] == {"baseline": 80, "candidate": 20}
    assert routes.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plan.yaml",
        "routes.json",
    ]  # no .rollout/ state


def test_no_data_is_a_warning_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(write(tmp_path), capsys, lambda q: None if "candidate" in q else 5)
    assert code == EXIT_OK
    assert doc["counts"] == {"ok": 4, "no_data": 2, "error": 0}
    nd = [r for r in doc["results"] if r["status"] == "no_data"]
    assert {r["variant"] for r in nd} == {"candidate"} and all(r["value"] is None for r in nd)


def test_a_failing_query_exits_1_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(q: str) -> Any:
        if "histogram_quantile" in q:
            return httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "unknown function"}
            )
        return 1

    code, doc = run_json(write(tmp_path), capsys, handler)
    assert code == EXIT_RUNTIME and doc["ok"] is False
    errs = [r for r in doc["results"] if r["status"] == "error"]
    assert len(errs) == 2 and all(
        "bad_data" in r["message"] and "unknown function" in r["message"] for r in errs
    )
    assert doc["counts"]["ok"] == 4  # the other gate still answered


def test_garbage_from_the_source_is_an_error_not_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(
        write(tmp_path), capsys, lambda q: httpx.Response(200, text="<html>proxy login</html>")
    )
    assert code == EXIT_RUNTIME
    assert doc["sources"]["metrics"]["status"] == "error"
    assert all(r["status"] == "error" and r["value"] is None for r in doc["results"])


def test_unreachable_source_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def down(q: str) -> Any:
        raise httpx.ConnectError("connection refused")

    code, doc = run_json(write(tmp_path), capsys, down)
    assert code == EXIT_RUNTIME
    assert "ConnectError" in doc["sources"]["metrics"]["message"]
    assert doc["counts"]["error"] == 6


def test_missing_credentials_are_reported_per_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_PROM_TOKEN", raising=False)
    text = PROM_PLAN.replace("retries: 1}", "retries: 1, bearer_token_env: NO_SUCH_PROM_TOKEN}")
    code, doc = run_json(write(tmp_path, text), capsys)
    assert code == EXIT_RUNTIME
    assert "NO_SUCH_PROM_TOKEN" in doc["sources"]["metrics"]["message"]
    assert all(r["status"] == "error" for r in doc["results"])


def test_text_output_is_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = {
        "httpx_transport": prom(lambda q: None if "histogram" in q else 42),
        "sleep": lambda s: None,
    }
    code = check.run(write(tmp_path), [], [], "text", clock=FakeClock(NOW), extra=extra)
    out = capsys.readouterr()
    assert code == EXIT_OK
    assert "rollout check: support-bot" in out.out
    assert "error-rate" in out.out and "NO DATA" in out.out and "42" in out.out
    assert "6 queries: 4 answered, 2 no data, 0 failed" in out.out
    assert "warning: no data" in out.err


@pytest.mark.slow  # starts a process
def test_command_source_in_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "score.py").write_text(
        "import json, os\n"
        "print(json.dumps({'n': 10,"
        " 'score': 4.5 if os.environ['ROLLOUT_VARIANT'] == 'baseline' else 3.0}))\n"
    )
    text = PROM_PLAN.replace(
        "gates:\n",
        f"""sources:
  eval: {{type: command, command: ["{sys.executable}", score.py]}}
gates:
  - {{name: eval, kind: value, source: eval, query: "{{{{ variant }}}}.score", min: 4}}
""",
    )
    code, doc = run_json(write(tmp_path, text), capsys)
    assert code == EXIT_OK
    ev = {r["variant"]: r for r in doc["results"] if r["gate"] == "eval"}
    assert ev["baseline"]["value"] == 4.5 and ev["candidate"]["value"] == 3.0
    assert ev["candidate"]["query"] == "candidate.score" and ev["candidate"]["source"] == "eval"
    assert doc["sources"]["eval"]["status"] == "ok"


def test_cli_wiring_and_bad_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rollout.cli import main

    bad = write(tmp_path, PROM_PLAN.replace("kind: proportion", "kind: ratio"))
    assert main(["check", str(bad)]) == 2
    assert "kind" in capsys.readouterr().err


def test_infinite_values_stay_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(write(tmp_path), capsys, lambda q: "+Inf" if "histogram" in q else 1)
    assert code == EXIT_OK
    assert {r["value"] for r in doc["results"] if r["gate"] == "p95"} == {"inf"}
