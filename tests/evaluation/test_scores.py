"""Per-item scores from an eval command's stdout: the accepted shapes, and malformed output
that is refused (never judged) rather than silently dropped."""

from __future__ import annotations

import json

import pytest

from rollout.evaluation.command import dataset_ids
from rollout.evaluation.scores import MalformedScores, parse


def test_items_object_with_logs_before_it() -> None:
    text = "running 2 items\n" + json.dumps(
        {"items": [{"id": "q1", "score": 0.8}, {"id": "q2", "score": 0.5, "passed": True}]}
    )
    got = parse(text, ["score", "passed"])
    assert got["score"] == {"q1": 0.8, "q2": 0.5}
    assert got["passed"] == {"q1": None, "q2": 1.0}  # absent: missing, not zero


def test_promptfoo_like_nested_results_and_dotted_metrics() -> None:
    doc = {"results": {"results": [{"testIdx": 0, "gradingResult": {"score": 1}}]}}
    assert parse(json.dumps(doc), ["gradingResult.score"]) == {"gradingResult.score": {"0": 1.0}}


def test_a_scores_map() -> None:
    got = parse(json.dumps({"scores": {"a": 0.1, "b": {"score": 0.2}}}), ["score"])
    assert got == {"score": {"a": 0.1, "b": 0.2}}


def test_json_lines_ignore_log_lines() -> None:
    text = 'collected 2\n{"id": "a", "score": 1}\nPASSED\n{"id": 7, "score": 0}\n'
    assert parse(text, ["score"]) == {"score": {"a": 1.0, "7": 0.0}}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"id": "a", "score": NaN}', "not a finite number"),
        ('{"id": "a", "score": "0.8"}', "not a finite number"),
        ('{"id": "a", "score": 1}\n{"id": "a", "score": 0}', "appears twice"),
        ('{"score": 1}', "has no id"),
        ('{"id": "a", "score": 1}\n{"id": "b", "score":', "not valid JSON"),
        ("all good!", "no per-item scores"),
        ("", "no per-item scores"),
        ('{"items": [1, 2]}', "is not an object"),
        ('{"scores": [1, 2]}', "must map item ids"),
    ],
)
def test_malformed_output_is_refused(text: str, said: str) -> None:
    with pytest.raises(MalformedScores, match=said):
        parse(text, ["score"])


def test_dataset_ids_from_json_lines_or_a_list() -> None:
    assert dataset_ids('{"id": "a"}\n\n{"id": "b"}\n') == ("a", "b")
    assert dataset_ids(json.dumps([{"id": 1}, {"id": 2}])) == ("1", "2")
    assert dataset_ids(json.dumps({"items": [{"id": "x"}]})) == ("x",)
    assert dataset_ids("question,answer\n1,2\n") is None  # a CSV: the union of scored items
    assert dataset_ids('{"id": "a"}\n{"id": "a"}\n') is None


def test_pytest_json_report_outcomes() -> None:
    doc = {
        "summary": {"passed": 1},
        "tests": [
            {"nodeid": "evals/test_q.py::test_item[q1]", "outcome": "passed"},
            {"nodeid": "evals/test_q.py::test_item[q2]", "outcome": "failed"},
            {"nodeid": "evals/test_q.py::test_item[q3]", "outcome": "skipped"},
        ],
    }
    got = parse(json.dumps(doc), ["outcome"])["outcome"]
    assert got == {
        "evals/test_q.py::test_item[q1]": 1.0,
        "evals/test_q.py::test_item[q2]": 0.0,
        "evals/test_q.py::test_item[q3]": None,  # skipped: missing, not a pass
    }


def test_azure_ai_evaluation_rows_with_flat_dotted_keys() -> None:
    doc = {
        "rows": [
            {"inputs.id": "q1", "outputs.relevance.relevance": 4.0},
            {"inputs.id": "q2", "outputs.relevance.relevance": 2.0},
        ],
        "metrics": {"relevance.relevance": 3.0},
    }
    got = parse(json.dumps(doc), ["outputs.relevance.relevance"])
    assert got == {"outputs.relevance.relevance": {"q1": 4.0, "q2": 2.0}}


def test_an_unknown_outcome_string_is_still_malformed() -> None:
    with pytest.raises(MalformedScores, match="not a finite number"):
        parse(json.dumps({"tests": [{"nodeid": "a", "outcome": "flaky"}]}), ["outcome"])
