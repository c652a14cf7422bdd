"""Notifications from real runs (in process, FakeClock) to local endpoints on 127.0.0.1."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from rollout import secrets
from rollout.records import Phase
from tests.commands.conftest import Workspace, plan_text
from tests.notify.conftest import Endpoint, Silent

pytestmark = pytest.mark.slow  # every test posts to a local HTTP server

HOOK = "ROLLOUT_TEST_HOOK"


def write(ws: Workspace, notify: str, **kw: object) -> Path:
    path = ws.root / "plan.yaml"
    path.write_text(plan_text(**kw) + notify)  # type: ignore[arg-type]
    return path


def notify_events(ws: Workspace) -> list[dict[str, object]]:
    return [
        {"seq": e.seq, "message": e.message, **e.data}
        for e in ws.store().history("demo", limit=500)
        if e.kind == "notify"
    ]


@pytest.mark.slow  # over a second: waits out a webhook that never answers
def test_a_webhook_that_never_answers_cannot_hold_up_a_rollback(
    ws: Workspace, silent: Silent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK, silent.url)
    # When the notification connects, the rollback must already be recorded in the store.
    silent.on_accept = lambda: ws.run().phase
    plan = write(
        ws,
        f"notify: [{{type: webhook, url_env: {HOOK}, timeout: 1s, on: [rolled_back]}}]\n",
        candidate_error=0.05,
    )
    started = time.monotonic()
    res = ws.cli("apply", str(plan))
    elapsed = time.monotonic() - started
    assert res.code == 3 and ws.run().phase == Phase.ROLLED_BACK and ws.candidate_weight() == 0
    assert silent.accepted == [Phase.ROLLED_BACK]  # sent after the rollback, never before
    # Generous: the notifier gives up after its 1 s timeout; nothing waits for the endpoint.
    assert elapsed < 1.0 + 20.0
    history = ws.store().history("demo", limit=500)
    rolled = [e for e in history if e.kind == "phase" and e.data.get("phase") == "rolled_back"]
    failed = notify_events(ws)
    assert len(rolled) == 1 and len(failed) == 1
    assert rolled[0].seq is not None and rolled[0].seq < failed[0]["seq"]  # type: ignore[operator]
    f = failed[0]
    assert f["notification"] == "rolled_back" and f["target"] == "webhook"
    assert "no answer within" in str(f["error"]) and "1s" in str(f["error"])
    assert f["url_env"] == HOOK
    text = " ".join(str(e.model_dump()) for e in history)
    assert "never-answers-secret-token" not in text  # the URL never reaches the event log


def test_notifications_follow_the_rollout_and_carry_its_headers(
    ws: Workspace, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK, endpoint.url)
    monkeypatch.setenv("ROLLOUT_TEST_HOOK_AUTH", "Bearer hook-secret-value")
    plan = write(
        ws,
        f"notify: [{{type: webhook, url_env: {HOOK}, "
        "headers_env: {Authorization: ROLLOUT_TEST_HOOK_AUTH}}]\n",
        approval=True,
    )
    assert ws.cli("apply", str(plan)).code == 5
    # Each notification has its own sending thread: back-to-back ones may land in any order.
    assert sorted(endpoint.kinds()) == ["awaiting_approval", "stage_advanced"]
    assert ws.cli("promote", "demo").code == 0
    assert ws.cli("apply", str(plan)).code == 0
    assert sorted(endpoint.kinds()) == sorted(
        ["stage_advanced", "awaiting_approval", "stage_advanced", "stage_advanced", "completed"]
    )
    by_kind = {r.body["kind"]: r for r in reversed(endpoint.got)}  # the first of each kind
    first = next(r for r in endpoint.got if r.body["facts"].get("stage") == "pilot")
    assert first.headers["Authorization"] == "Bearer hook-secret-value"
    assert first.body["schema"] == "rollout.notification/v1" and first.body["rollout"] == "demo"
    assert first.body["facts"] == {"stage": "pilot", "candidate": "5 %"}
    assert "rollout promote demo" in by_kind["awaiting_approval"].body["text"]
    assert notify_events(ws) == []  # nothing failed, nothing recorded
    known = secrets.known()  # masked wherever they might be echoed
    assert "hook-secret-value" in known and "hooks/T0SECRET/B0SECRET/xoxtoken123" in known


def test_a_rollback_notification_carries_the_evidence(
    ws: Workspace, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK, endpoint.url)
    plan = write(
        ws,
        f"notify:\n  - type: webhook\n    url_env: {HOOK}\n    on: [rolled_back]\n",
        candidate_error=0.05,
    )
    assert ws.cli("apply", str(plan)).code == 3
    assert endpoint.kinds() == ["rolled_back"]
    body = endpoint.got[0].body
    assert re.search(r"Why: gate failed: error-rate: [\d.]+ % vs [\d.]+ % baseline", body["text"])
    assert body["facts"] == {"error-rate": "failed"} and body["data"]["evidence"]


def test_retried_after_a_5xx_and_the_abort_says_who_and_why(
    ws: Workspace, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK, endpoint.url)
    plan = write(ws, f"notify: [{{type: webhook, url_env: {HOOK}, on: [aborted]}}]\n")
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    endpoint.statuses = [503]  # the first answer is an error: retried within the timeout
    assert ws.cli("abort", "demo", "--reason", "pager at 3am").code == 0
    assert endpoint.kinds() == ["aborted", "aborted"]  # the 503, then the retry that landed
    facts = endpoint.got[-1].body["facts"]
    assert facts["why"] == "pager at 3am" and "@" in facts["by"]
    assert notify_events(ws) == []


def test_an_unset_variable_is_recorded_and_the_rollout_goes_on(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLLOUT_TEST_UNSET_HOOK", raising=False)
    plan = write(ws, "notify: [{type: slack, url_env: ROLLOUT_TEST_UNSET_HOOK, on: [completed]}]\n")
    assert ws.cli("apply", str(plan)).code == 0 and ws.candidate_weight() == 100
    [f] = notify_events(ws)
    assert f["notification"] == "completed" and f["target"] == "slack"
    assert "ROLLOUT_TEST_UNSET_HOOK is not set" in str(f["message"])


def test_reconcile_notifies_too(
    ws: Workspace, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOOK, endpoint.url)
    plan = write(ws, f"notify: [{{type: webhook, url_env: {HOOK}, on: [completed]}}]\n")
    assert ws.cli("apply", str(plan), "--until", "pilot").code == 0
    for _ in range(30):
        ws.clock.advance(30)
        assert ws.cli("reconcile").code == 0
        if ws.run().phase == Phase.COMPLETED:
            break
    assert endpoint.kinds() == ["completed"]
