"""What a capture says: the reading types every platform reader returns.

A capture goes in (``collector.pages.read_page``); out comes a ``Thread`` (one
contract's facts and messages), a ``ContractList``, an ``Inquiry`` (a Lancers
board that is no contract) or an ``Unreadable`` that names what was missing.

A fact the page does not show is ``None`` (unknown), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from collector.timeutil import iso

SENDERS = ("client", "me", "system")
SOURCES = ("api", "page", "list")
MAX_ID_DIGITS = 20  # a board, job or contract id longer than this is no id of the platforms


class UnsupportedURL(ValueError):
    """The URL is not a page ghostwatch reads."""


class NotAPage(ValueError):
    """The input is not an HTML document at all."""


class LayoutError(Exception):
    """Raised inside a reader when the capture is not what it expects; the
    message names what was missing, in Japanese, for the user."""


@dataclass(frozen=True)
class PageRef:
    """What a URL alone says: platform, page kind and the id it carries."""

    platform: str
    page: str  # "thread" | "contract_list"
    url: str  # the URL in its canonical form
    contract_id: str | None = None  # CrowdWorks: the URL's contract id
    thread_id: str | None = None  # Lancers: the URL's board id


@dataclass(slots=True)
class Message:
    sender: str  # "client" | "me" | "system"
    sent_at: datetime
    text: str
    id: str | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "sender": self.sender, "sent_at": iso(self.sent_at), "text": self.text}


@dataclass
class Thread:
    platform: str
    url: str
    thread_id: str
    contract_id: str
    source: str  # "api" (messages from the platform's JSON) | "page" (from the HTML)
    title: str | None
    client: str | None
    pay_type: str | None  # "fixed" | "hourly"
    status: str | None  # in_progress | delivered | plan_change | completed | cancelled
    escalation: str | None  # none | available | requested
    escalation_deadline: datetime | None
    history_collapsed: bool
    messages: list[Message] = field(default_factory=list)
    delivered_at: datetime | None = None  # when a platform notice on the page reported the delivery
    fact_sources: dict[str, str | None] = field(default_factory=dict)  # fact -> "api" | "page" | None
    page: str = "thread"

    @property
    def last_client_message_at(self) -> datetime | None:
        times = [m.sent_at for m in self.messages if m.sender == "client"]
        return max(times) if times else None

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "page": self.page,
            "url": self.url,
            "thread_id": self.thread_id,
            "contract_id": self.contract_id,
            "source": self.source,
            "title": self.title,
            "client": self.client,
            "pay_type": self.pay_type,
            "status": self.status,
            "escalation": self.escalation,
            "escalation_deadline": iso(self.escalation_deadline),
            "history_collapsed": self.history_collapsed,
            "delivered_at": iso(self.delivered_at),
            "messages": [m.to_json() for m in self.messages],
            "last_client_message_at": iso(self.last_client_message_at),
            "fact_sources": dict(self.fact_sources),
        }


@dataclass
class ListedContract:
    contract_id: str
    status: str | None
    url: str
    title: str | None
    pay_type: str | None = None

    def to_json(self) -> dict:
        data = {"contract_id": self.contract_id, "status": self.status, "url": self.url, "title": self.title}
        if self.pay_type is not None:
            data["pay_type"] = self.pay_type
        return data


@dataclass
class ContractList:
    platform: str
    url: str
    contracts: list[ListedContract]
    page: str = "contract_list"
    next_url: str | None = None  # the list's next page, when it has a pager

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "page": self.page,
            "url": self.url,
            "contracts": [c.to_json() for c in self.contracts],
            "next_url": self.next_url,
        }


@dataclass
class Inquiry:
    """A Lancers message board with no job: an inquiry, never a contract."""

    platform: str
    url: str
    thread_id: str
    title: str | None = None
    page: str = "inquiry"

    def to_json(self) -> dict:
        return {"platform": self.platform, "page": self.page, "url": self.url, "thread_id": self.thread_id,
                "title": self.title}


@dataclass
class Unreadable:
    platform: str
    url: str
    page: str
    reason: str
    contract_id: str | None = None
    thread_id: str | None = None
    unreadable: bool = True

    def to_json(self) -> dict:
        data = {
            "unreadable": True,
            "reason": self.reason,
            "platform": self.platform,
            "page": self.page,
            "url": self.url,
        }
        if self.contract_id is not None:
            data["contract_id"] = self.contract_id
        if self.thread_id is not None:
            data["thread_id"] = self.thread_id
        return data


Reading = Thread | ContractList | Inquiry | Unreadable
