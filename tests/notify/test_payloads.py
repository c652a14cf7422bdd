"""The bodies Slack and Teams incoming webhooks accept, the plan's `notify:` section, and the
notifier's bounds — without a rollout around them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.errors import SpecError
from rollout.loading import load
from rollout.notify import Notifier, NotifyTarget
from rollout.notify.messages import Notification, Tracker, slack, teams
from rollout.records import Event
from tests.commands.conftest import Workspace, plan_text
from tests.notify.conftest import Endpoint, Silent

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SLACK_BLOCKS = {"header", "section", "context", "divider", "actions", "image", "rich_text"}


def rolled_back() -> Notification:
    t = Tracker("support-bot", 2)
    reason = "gate failed: error-rate: 2.03 % vs 1.10 % baseline (1.9x); needed 40x: fail"
    t.classify(
        Event(
            kind="phase",
            at=AT,
            message=f"rolling_back: {reason}",
            data={"phase": "rolling_back", "reason": reason, "gates": ["error-rate"]},
        )
    )
    done = Event(
        kind="phase",
        at=AT,
        message="rolled back: baseline restored and verified",
        data={"phase": "rolled_back"},
    )
    n = t.classify(done)
    assert n is not None
    return n


def check_slack(body: dict[str, Any]) -> None:
    """What Slack's incoming webhooks take: `text` (the notification fallback) and `blocks` of
    known types, within Slack's limits (header 150, section text 3,000, 10 fields of 2,000)."""
    assert isinstance(body["text"], str) and body["text"].strip()
    assert set(body) <= {"text", "blocks", "attachments", "thread_ts", "mrkdwn"}
    for b in body["blocks"]:
        assert b["type"] in SLACK_BLOCKS
        if b["type"] == "header":
            assert b["text"]["type"] == "plain_text" and len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert "text" in b or "fields" in b
            if "text" in b:
                assert b["text"]["type"] == "mrkdwn" and len(b["text"]["text"]) <= 3000
            assert len(b.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in b.get("fields", []))


def check_teams(body: dict[str, Any]) -> None:
    """Microsoft's format for an Adaptive Card through an incoming webhook (or a Workflows
    webhook): a `message` whose attachments hold one card of content type
    application/vnd.microsoft.card.adaptive, `content` an AdaptiveCard with `$schema`,
    `version` and a `body` of elements."""
    assert body["type"] == "message"
    [att] = body["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] in {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
    for el in card["body"]:
        assert el["type"] in {"TextBlock", "FactSet", "ColumnSet", "Container"}
        if el["type"] == "TextBlock":
            assert isinstance(el["text"], str) and el["text"]
        if el["type"] == "FactSet":
            assert all(set(f) == {"title", "value"} for f in el["facts"])


def test_slack_body() -> None:
    body = slack(rolled_back())
    check_slack(body)
    assert body["text"].startswith("support-bot: ROLLED BACK: rolled back")
    assert "error-rate: 2.03 %" in body["blocks"][1]["text"]["text"]


def test_slack_body_is_clipped_to_slacks_limits() -> None:
    n = rolled_back()
    long = Notification(**{**n.__dict__, "text": "x" * 10_000, "title": "t" * 400})
    body = slack(long)
    check_slack(body)
    assert body["blocks"][1]["text"]["text"].endswith("…")


def test_teams_body() -> None:
    body = teams(rolled_back())
    check_teams(body)
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"] == "support-bot: ROLLED BACK"
    assert {"title": "error-rate", "value": "failed"} in card["body"][2]["facts"]


@pytest.mark.slow  # over a second: a local HTTP server
def test_each_type_posts_its_own_body(
    ws: Workspace, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUT_TEST_SLACK", endpoint.url + "/slack")
    monkeypatch.setenv("ROLLOUT_TEST_TEAMS", endpoint.url + "/teams")
    plan = ws.root / "plan.yaml"
    plan.write_text(
        plan_text()
        + "notify:\n"
        + "  - {type: slack, url_env: ROLLOUT_TEST_SLACK, on: [completed]}\n"
        + "  - {type: teams, url_env: ROLLOUT_TEST_TEAMS, on: [completed]}\n"
    )
    assert ws.cli("apply", str(plan)).code == 0
    by_path = {r.path.rsplit("/", 1)[-1]: r.body for r in endpoint.got}
    assert set(by_path) == {"slack", "teams"}
    check_slack(by_path["slack"])
    check_teams(by_path["teams"])
    assert "completed" in by_path["slack"]["text"]


def test_the_plan_section(tmp_path: Path) -> None:
    base = plan_text()
    p = tmp_path / "plan.yaml"
    p.write_text(base)
    without = load(p).plan
    p.write_text(base + "notify: [{type: slack, url_env: SLACK_HOOK, on: [rolled_back]}]\n")
    plan = load(p).plan
    assert plan.spec.notify[0].on == ["rolled_back"]  # YAML 1.1's `on` (true) read as `on`
    assert plan.plan_hash != without.plan_hash
    assert "notify" not in without.spec.model_dump(mode="json")  # old plans hash as before
    p.write_text(base + "notify: [{type: slack, url: https://hooks.slack.com/services/T/B/X}]\n")
    with pytest.raises(SpecError) as e:
        load(p)
    assert "notify" in str(e.value)  # a literal URL is refused: the URL is a credential
    p.write_text(base + "notify: [{type: slack, url_env: SLACK_HOOK, on: [stage_advance]}]\n")
    with pytest.raises(SpecError):
        load(p)


@pytest.mark.slow  # over a second: a local HTTP server
def test_close_never_waits_past_the_deadline(silent: Silent) -> None:
    target = NotifyTarget(type="slack", url_env="HOOK", timeout=0.5, retries=3)
    n = Notifier([target], "demo", env={"HOOK": silent.url})
    for _ in range(3):
        n(Event(kind="phase", at=AT, message="completed", data={"phase": "completed"}))
    started = time.monotonic()
    failures = n.close()
    waited = time.monotonic() - started
    assert waited < 0.5 + 10.0  # generous; bounded by the deadline, not by the endpoint
    assert len(failures) == 3 and all("no answer within" in f.error for f in failures)
    assert all(silent.url not in f.message() for f in failures)


def test_a_notifier_without_targets_is_free() -> None:
    n = Notifier([], "demo")
    n(Event(kind="phase", at=AT, message="completed", data={"phase": "completed"}))
    assert n.close() == [] and n.wrap(print) is print
