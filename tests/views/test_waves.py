"""The waves views and the line's rows (rollout.wave_line, rollout.views.waves and friends) as
plain functions: where the line stopped, wave order, the JSON documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollout import wave_line
from rollout.records import Event
from rollout.views import wave_history, waves

DECLARED = [
    {"wave": w, "rollout": f"app-{w}", "on_failure": "hold", "approval": w == "c"}
    for w in ("a", "b", "c")
]


def row(i: int, phase: str) -> dict[str, Any]:
    return {**wave_line.rows(DECLARED, {})[i - 1], "phase": phase}


def test_a_line_still_going_has_not_stopped() -> None:
    rows = wave_line.rows(DECLARED, {})
    assert [r["phase"] for r in rows] == ["not started"] * 3
    assert [r["index"] for r in rows] == [1, 2, 3] and rows[2]["approval"] is True
    assert not wave_line.stopped(
        [row(1, "completed"), row(2, "progressing"), row(3, "not started")]
    )
    assert wave_line.stopped(rows) is None


def test_the_line_stops_at_the_wave_that_failed_not_an_earlier_one_rolled_back() -> None:
    rows = [row(1, "rolled_back"), row(2, "aborted"), row(3, "not started")]
    stop = wave_line.stopped(rows)
    assert stop is not None
    assert (stop["index"], stop["wave"], stop["never_started"]) == (2, "b", ["c"])
    assert stop["message"].endswith("wave 3 c never started because wave 2 b aborted")


def test_the_last_wave_failing_names_no_wave_never_started() -> None:
    stop = wave_line.stopped([row(1, "completed"), row(2, "completed"), row(3, "rolled_back")])
    assert stop is not None and stop["never_started"] == []
    assert stop["message"] == "the line stopped: wave 3 c rolled back"


def test_waves_json_carries_rows_and_stop_and_human_ends_with_it() -> None:
    rows = [row(1, "completed"), row(2, "rolled_back"), row(3, "not started")]
    doc = waves.data("app", rows, 3)
    assert doc["waves"] == rows and doc["stopped"]["wave"] == "b" and doc["exit_code"] == 3
    lines = waves.human("app", rows)
    assert lines[0] == "waves of app:" and "OUTCOME" in lines[1]
    assert lines[-1] == doc["stopped"]["message"]


def test_wave_history_names_each_event_s_wave() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    tagged = [
        ("a", "app-a", Event(kind="wave", at=at, message="wave 1/3 a started")),
        ("bb", "app-bb", Event(kind="phase", at=at, message="rolled back")),
    ]
    doc = wave_history.data("app", tagged)
    assert [(e["wave"], e["rollout"], e["kind"]) for e in doc["events"]] == [
        ("a", "app-a", "wave"),
        ("bb", "app-bb", "phase"),
    ]
    lines = wave_history.human("app", tagged)
    assert "  a   wave" in lines[0] and "  bb  phase" in lines[1]
    assert wave_history.human("app", []) == ["app: no events"]
