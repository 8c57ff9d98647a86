"""A verdict: what ``server.rules.judge`` says of one contract at one instant.

Instants are timezone-aware datetimes here; they become ISO 8601 strings only
at the edges (``Verdict.to_json``: the API, ``ghostwatch status --json``,
``ghostwatch ingest``).  The web view, the calendar and the terminal format the
datetimes themselves with ``server.labels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from collector.timeutil import iso


@dataclass(slots=True)
class Reason:
    """One condition of the platform's rule: met (True), not met (False), or a
    fact that is neither (None)."""

    text: str
    met: bool | None = None


@dataclass(slots=True)
class NextAction:
    """What to do next: its ``kind`` (a key of ``labels.ACTION_LABELS``), the
    whole ``text``, the instant it is due (None: no date), and the step in one
    line, today apart from later (set by ``rules.judge``)."""

    kind: str
    text: str
    date: datetime | None = None
    line: str | None = None

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "date": iso(self.date), "line": self.line}


@dataclass(slots=True)
class Verdict:
    """The verdict on one contract.  The field order is the order of its JSON."""

    platform: str
    contract_id: str
    thread_id: str | None = None
    title: str | None = None
    client: str | None = None
    url: str | None = None
    pay_type: str | None = None
    status: str | None = None
    list_status: str | None = None  # the contract list's word, never a stand-in for the page's
    escalation: str | None = None
    state: str | None = None
    silent_since: datetime | None = None
    silent_days: int | None = None
    silence_is_lower_bound: bool = False
    last_client_message_at: datetime | None = None
    eligible_at: datetime | None = None
    deadline_at: datetime | None = None
    reasons: list[Reason] = field(default_factory=list)
    next_action: NextAction | None = None
    last_captured_at: datetime | None = None
    unreadable_reason: str | None = None
    delivered_at: datetime | None = None
    source: str | None = None
    fact_sources: dict[str, str] = field(default_factory=dict)
    steps: dict[str, datetime] = field(default_factory=dict)  # each recorded step's latest instant
    stale: bool = False
    capture_age_days: int | None = None

    def to_json(self) -> dict:
        """The verdict as JSON: instants as ISO 8601 in Japan time."""
        action = self.next_action
        return {
            "platform": self.platform,
            "contract_id": self.contract_id,
            "thread_id": self.thread_id,
            "title": self.title,
            "client": self.client,
            "url": self.url,
            "pay_type": self.pay_type,
            "status": self.status,
            "list_status": self.list_status,
            "escalation": self.escalation,
            "state": self.state,
            "silent_since": iso(self.silent_since),
            "silent_days": self.silent_days,
            "silence_is_lower_bound": self.silence_is_lower_bound,
            "last_client_message_at": iso(self.last_client_message_at),
            "eligible_at": iso(self.eligible_at),
            "deadline_at": iso(self.deadline_at),
            "reasons": [{"text": r.text, "met": r.met} for r in self.reasons],
            "next_action": action.to_json() if action is not None else None,
            "last_captured_at": iso(self.last_captured_at),
            "unreadable_reason": self.unreadable_reason,
            "delivered_at": iso(self.delivered_at),
            "source": self.source,
            "fact_sources": dict(self.fact_sources),
            "steps": {step: iso(done) for step, done in self.steps.items()},
            "stale": self.stale,
            "capture_age_days": self.capture_age_days,
        }
