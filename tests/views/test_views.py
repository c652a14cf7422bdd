"""Views as plain functions: pure renderers of a run, a pipe-safe sink, and the watch screen."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from rollout import views
from rollout.records import Holder, Phase, Weights
from rollout.runner import new_run
from rollout.views import runs, screen, status, watch
from tests.helpers.plans import make_plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def a_run(**update: object):  # type: ignore[no-untyped-def]
    run = new_run(make_plan(), T0)
    return run.model_copy(update=update)


def test_steps_are_numbered_as_rollout_plan_numbers_them() -> None:
    run = a_run(step_index=0)
    assert runs.data(run)["step"] == 0 and runs.data(run)["step_number"] == 1
    total = len(run.plan.steps)
    done = a_run(step_index=total)
    assert runs.describe(done, T0).split(" · ")[1] == f"step {total}/{total}"


def test_status_human_is_computed_from_what_it_is_given() -> None:
    run = a_run(desired=Weights.of(5), updated_at=T0)
    lines = status.human(run, T0 + timedelta(seconds=75), Holder(user="u", host="h", pid=1))
    assert lines[0].startswith("demo (attempt 1): pending · step 1/")
    assert "  being applied by u@h pid 1" in lines
    assert lines[-1] == "  updated 2026-01-01T00:00:00+00:00 (1m15s ago)"
    assert status.data(run, T0)["holder"] is None


def test_a_closed_pipe_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    def broken(text: str = "", *, err: bool = False) -> None:
        raise BrokenPipeError

    monkeypatch.setattr("rollout.output.line", broken)
    monkeypatch.setattr("rollout.output.emit_json", lambda *a, **k: broken())
    monkeypatch.setattr(views, "pipe_closed", lambda: closed.append(True))
    assert views.emit_lines(["a", "b"]) is False
    assert views.emit_json("s/v1", {}) is False
    assert views.show(status, "text", a_run(), T0) is False
    assert closed == [True, True, True]


def test_ndjson_is_one_compact_redacted_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert views.emit_ndjson("x/v1", {"a": 1, "token": "hunter2hunter2"}) is True
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and " " not in out.strip()
    doc = json.loads(out)
    assert doc["schema"] == "x/v1" and doc["a"] == 1 and doc["token"] != "hunter2hunter2"


def test_the_screen_prints_a_frame_off_a_terminal_only_when_the_run_changed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = a_run()
    with screen.Screen("text", tty=False) as s:
        assert s.frame(watch, run, T0, None)
        assert s.frame(watch, run, T0 + timedelta(seconds=2), None)  # same revision: nothing
        assert s.frame(watch, run.model_copy(update={"revision": 1}), T0, None)
        s.close(watch, run, 0, "completed")
    out = capsys.readouterr().out
    assert out.count("demo (attempt 1)") == 2 and out.endswith("demo: completed (exit 0)\n")


def test_the_screen_redraws_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=100)
    monkeypatch.setattr("rollout.output.console", lambda stderr=False: con)
    run = a_run()
    with screen.Screen("text", tty=True) as s:
        s.frame(watch, run, T0, None)
        s.frame(watch, run, T0 + timedelta(seconds=2), None)
        s.close(watch, run, 5, "waiting")
    text = buf.getvalue()
    assert text.count("demo (attempt 1)") >= 2 and "\x1b[1A" in text  # cursor up: redrawn


def test_the_screen_in_json_mode_writes_ndjson(capsys: pytest.CaptureFixture[str]) -> None:
    with screen.Screen("json") as s:
        s.frame(watch, a_run(), T0, None)
        s.close(watch, a_run(), 5, "waiting")
    frame, last = (json.loads(ln) for ln in capsys.readouterr().out.splitlines())
    assert frame["schema"] == "rollout.watch/v1"
    assert last == {
        "schema": "rollout.watch.outcome/v1",
        "name": "demo",
        "phase": "pending",
        "exit_code": 5,
        "reason": "waiting",
    }


def test_watch_says_the_time_left_in_the_bake_and_to_full() -> None:
    plan = make_plan()  # pilot 60 s, expansion 2 x 60 s, full: three bakes after the pilot's
    first = next(i for i, s in enumerate(plan.steps) if s.kind == "analyze")
    run = a_run(phase=Phase.PROGRESSING, step_index=first, step_started_at=T0)
    now = T0 + timedelta(seconds=20)
    assert runs.bake_left(run, now) == 40
    later = sum(s.duration or 0 for s in plan.steps[first + 1 :] if s.kind == "analyze")
    assert runs.to_full(run, now) == 40 + later
    lines = watch.human(run, now, None)
    assert any(ln.startswith("  time    40s left in this bake; at least ") for ln in lines)
    doc = watch.data(run, now, None)
    assert doc["bake_left_seconds"] == 40 and doc["to_full_seconds"] == 40 + later
    done = a_run(phase=Phase.COMPLETED, step_index=len(plan.steps))
    assert runs.to_full(done, now) is None and runs.bake_left(done, now) is None
