"""`rollout report NAME` in process."""

from __future__ import annotations

import re

import pytest

from tests.commands.conftest import Workspace


@pytest.fixture
def rolled_back(ws: Workspace) -> Workspace:
    assert ws.cli("apply", str(ws.write_plan(candidate_error=0.1))).code == 3
    return ws


@pytest.mark.parametrize("fmt", [[], ["--format", "markdown"], ["-f", "md"]])
def test_markdown_report(rolled_back: Workspace, fmt: list[str]) -> None:
    res = rolled_back.cli("report", "demo", *fmt)
    assert res.code == 0
    assert res.out.startswith("### rollout `demo` — rolled_back")
    assert "| error-rate | fail |" in res.out
    assert "Attempt 1, step 3/7, candidate at 0 %." in res.out
    assert "| baseline | gpt-4o | 2024-08-06 |" in res.out


def test_html_report_has_timestamps_in_seconds(rolled_back: Workspace) -> None:
    res = rolled_back.cli("report", "demo", "--format", "html")
    assert res.code == 0
    assert "<html" in res.out.lower() and "error-rate" in res.out
    stamps = re.findall(r"<td>(\d{4}-\d\d-\d\dT[^<]*)</td>", res.out)
    assert stamps and all(re.fullmatch(r"[\dT:-]{19}\+00:00", s) for s in stamps)


def test_report_json(rolled_back: Workspace) -> None:
    doc = rolled_back.cli("report", "demo", "-o", "json").json()
    assert doc["schema"] == "rollout.report/v1"
    assert doc["run"]["phase"] == "rolled_back"
    assert doc["verdict_events"] and doc["verdict_events"][-1]["data"]["status"] == "fail"
    assert set(doc["variants"]) == {"baseline", "candidate"}
    assert doc["timing"]["start"].endswith("+00:00") and doc["timing"]["end"]
    assert doc["series"]["weights"][-1] == [doc["series"]["weights"][-1][0], 0.0]  # rolled back
    gate = doc["series"]["gates"]["error-rate"]
    assert gate["candidate"] and gate["bounds"]["max_ratio"] and gate["harm"]["max_ratio"]


def test_an_unknown_format_is_a_usage_error(rolled_back: Workspace) -> None:
    res = rolled_back.cli("report", "demo", "--format", "pdf")
    assert res.code == 2 and res.err.startswith("error: Invalid value for '--format'")


def test_report_of_an_unknown_name_creates_no_store(ws: Workspace) -> None:
    assert ws.cli("report", "demo").code == 2
    assert not ws.db.exists()
