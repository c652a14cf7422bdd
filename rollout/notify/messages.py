"""What a notification says, and the body each kind of webhook accepts. Pure: no network.

`Tracker.classify(event)` turns the run's events into notifications (stage advanced, awaiting
approval, no-data hold, rolled back with the evidence, aborted by whom and why, completed); the
rollback decision's evidence is kept until the router confirmed the baseline, so "rolled back"
is sent once the baseline is restored, and says why.

Bodies:
* Slack incoming webhook: `text` (the fallback shown in notifications) and `blocks` (a header
  and mrkdwn sections), the fields Slack's incoming webhooks accept.
* Microsoft Teams (Workflows "post to a channel when a webhook request is received", and the
  retiring Office 365 connector): a `message` with one attachment of content type
  `application/vnd.microsoft.card.adaptive` holding an Adaptive Card (version 1.4).
* webhook: one JSON document, schema `rollout.notification/v1`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rollout.records import Event

SCHEMA = "rollout.notification/v1"
SLACK_SECTION = 3000  # characters in one Slack section block's text
TEAMS_CARD_VERSION = "1.4"

TITLES = {
    "stage_advanced": "stage advanced",
    "awaiting_approval": "awaiting approval",
    "no_data": "no data: holding",
    "rolled_back": "ROLLED BACK",
    "aborted": "ABORTED",
    "completed": "completed",
}


@dataclass(frozen=True)
class Notification:
    kind: str  # one of rollout.notify.config.KINDS
    rollout: str
    attempt: int | None
    at: str  # ISO 8601, whole seconds
    title: str
    text: str
    actor: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tracker:
    """Classifies one run's events; remembers a rollback's evidence until it is confirmed."""

    rollout: str
    attempt: int | None = None
    _evidence: Event | None = None

    def classify(self, e: Event) -> Notification | None:
        phase = e.data.get("phase") if e.kind == "phase" else None
        if e.kind == "weights" and e.data.get("stage"):
            w = e.data.get("weights") or {}
            facts: tuple[tuple[str, str], ...] = (
                ("stage", str(e.data["stage"])),
                ("candidate", f"{w.get('candidate')} %"),
            )
            return self._note("stage_advanced", e, e.message, facts)
        if phase == "awaiting_approval":
            facts = (("stage", str(e.data.get("stage", ""))),)
            return self._note("awaiting_approval", e, e.message, facts)
        if e.kind == "no_data":
            return self._note(
                "no_data", e, e.message, (("intervals", str(e.data.get("intervals"))),)
            )
        if phase == "rolling_back":
            self._evidence = e  # sent once the router confirmed the baseline
            return None
        if phase == "rolled_back":
            why = self._evidence
            self._evidence = None
            reason = str(why.data.get("reason") or why.message) if why is not None else ""
            text = f"{e.message}. Why: {reason}" if reason else e.message
            data = dict(why.data) if why is not None else {}
            facts = tuple((g, "failed") for g in data.get("gates") or ())
            return self._note("rolled_back", e, text, facts, data)
        if e.kind == "error" and e.message.startswith("ROLLBACK INCOMPLETE"):
            self._evidence = None
            n = self._note("rolled_back", e, e.message, (), dict(e.data))
            return Notification(**{**n.__dict__, "title": f"{self.rollout}: ROLLBACK INCOMPLETE"})
        if phase == "aborted":
            facts = (("by", e.actor or "?"), ("why", str(e.data.get("reason") or "not given")))
            return self._note("aborted", e, e.message, facts)
        if phase == "completed":
            return self._note("completed", e, e.message, ())
        return None

    def _note(
        self,
        kind: str,
        e: Event,
        text: str,
        facts: tuple[tuple[str, str], ...],
        data: dict[str, Any] | None = None,
    ) -> Notification:
        return Notification(
            kind=kind,
            rollout=self.rollout,
            attempt=self.attempt,
            at=e.at.isoformat(timespec="seconds"),
            title=f"{self.rollout}: {TITLES[kind]}",
            text=text,
            actor=e.actor,
            facts=facts,
            data=data if data is not None else dict(e.data),
        )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def slack(n: Notification) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(n.title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(n.text, SLACK_SECTION)}},
    ]
    if n.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", 2000)} for k, v in n.facts[:10]
                ],
            }
        )
    context = f"rollout {n.rollout} · {n.at}" + (f" · {n.actor}" if n.actor else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _clip(f"{n.title}: {n.text}", 3000), "blocks": blocks}


def teams(n: Notification) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": n.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": n.text, "wrap": True},
    ]
    facts = [*n.facts, ("at", n.at)] + ([("actor", n.actor)] if n.actor else [])
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": TEAMS_CARD_VERSION,
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook(n: Notification) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": n.kind,
        "rollout": n.rollout,
        "attempt": n.attempt,
        "at": n.at,
        "title": n.title,
        "text": n.text,
        "actor": n.actor,
        "facts": dict(n.facts),
        "data": n.data,
    }


BODIES = {"slack": slack, "teams": teams, "webhook": webhook}
