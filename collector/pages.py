"""What a page says: the reading types, and ``read_page`` to get one.

A page goes in as its HTML, its URL and the instant it was captured; out comes a
``Thread`` (one contract's facts and messages), a ``ContractList``, or an
``Unreadable`` that names what was missing.  The selectors and texts of each
platform live in its own module (``collector.lancers``, ``collector.crowdworks``);
this module only dispatches and defines the shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree

from collector.timeutil import aware, iso

SENDERS = ("client", "me", "system")


class UnsupportedURL(ValueError):
    """The URL is not a page ghostwatch reads."""


class NotAPage(ValueError):
    """The input is not an HTML document at all."""


class LayoutError(Exception):
    """Raised inside an adapter when the page does not have the expected layout."""


@dataclass(frozen=True)
class PageRef:
    platform: str
    page: str  # "thread" | "contract_list"
    contract_id: str | None
    url: str


@dataclass
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
    contract_id: str
    title: str
    client: str
    pay_type: str  # "fixed" | "hourly"
    status: str  # in_progress | delivered | plan_change | completed | cancelled
    escalation: str  # none | available | requested
    escalation_deadline: datetime | None
    history_collapsed: bool
    messages: list[Message] = field(default_factory=list)
    delivered_at: datetime | None = None  # when the platform noted the delivery / 完了報告
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
            "contract_id": self.contract_id,
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
        }


@dataclass
class ListedContract:
    contract_id: str
    status: str
    url: str
    title: str

    def to_json(self) -> dict:
        return {"contract_id": self.contract_id, "status": self.status, "url": self.url, "title": self.title}


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
class Unreadable:
    platform: str
    url: str
    page: str
    reason: str
    contract_id: str | None = None
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
        return data


Reading = Thread | ContractList | Unreadable


def _platforms():
    from collector import crowdworks, lancers

    return (lancers, crowdworks)


def platform_module(name: str):
    for module in _platforms():
        if module.PLATFORM == name:
            return module
    raise KeyError(name)


def identify(url: str) -> PageRef:
    """Which platform and page kind a URL is; raises UnsupportedURL otherwise."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as err:
        raise UnsupportedURL(f"URL として読めません: {url!r}") from err
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsupportedURL(f"対応していない URL です: {url!r}")
    for module in _platforms():
        ref = module.match_url(parts, url.strip())
        if ref is not None:
            return ref
    raise UnsupportedURL(
        f"対応していないページです: {url} "
        "(Lancers のメッセージ・進行中の仕事、CrowdWorks の契約ページ・契約中の仕事に対応)"
    )


def next_list_url(doc, base_url: str, xpath: str, platform: str) -> str | None:
    """The absolute URL of a list's next page (a pager link matched by
    ``xpath``), when it is a list page of the same platform."""
    for link in doc.xpath(xpath):
        href = link.get("href")
        if not href:
            continue
        url = urljoin(base_url, href)
        try:
            ref = identify(url)
        except UnsupportedURL:
            continue
        if ref.platform == platform and ref.page == "contract_list" and url != base_url:
            return url
    return None


def is_login_page(url: str, html: str | None, *, hosts: tuple[str, ...], login_paths: tuple[str, ...],
                  page_marker: str) -> bool:
    """A redirect to a platform's login page, or a login form shown in place of
    the page (a page without ``page_marker`` that asks for a password)."""
    parts = urlsplit(url)
    if parts.hostname in hosts and parts.path.rstrip("/") in login_paths:
        return True
    if not html:
        return False
    if 'type="password"' not in html:
        return False
    actions = "|".join(re.escape(path) for path in login_paths)
    if page_marker not in html:
        return "ログイン" in html or bool(re.search(rf'<form[^>]+action="[^"]*(?:{actions})', html))
    return False


def parse_html(html: str | bytes):
    """The document tree, or NotAPage for input that is not HTML (empty,
    binary, not UTF-8, or with no HTML element near its start)."""
    raw = html.encode("utf-8") if isinstance(html, str) else bytes(html)
    head = raw[:4096]
    if not raw.strip():
        raise NotAPage("HTML ではありません（空です）")
    if b"\x00" in head:
        raise NotAPage("HTML ではありません（バイナリデータです）")
    try:
        head_text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not just a character cut at the 4 KiB mark
            raise NotAPage("HTML ではありません（UTF-8 として読めません）") from err
        head_text = head[: err.start].decode("utf-8")
    start = head_text.lstrip().lstrip("\ufeff")[:2048].lower()
    if not any(tag in start for tag in ("<html", "<!doctype html", "<body", "<head")):
        raise NotAPage("HTML ではありません（<html> 要素がありません）")
    try:
        root = etree.fromstring(raw, _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as err:
        raise NotAPage(f"HTML として読めません: {err}") from err
    if root is None:
        raise NotAPage("HTML ではありません（要素がありません）")
    return root


# Plain lxml elements (no lxml.html element classes): the adapters only need
# XPath and text, and this keeps reading a large thread close to bare parsing.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)


def read_page(html: str | bytes, url: str, captured_at: datetime) -> Reading:
    """Read a saved page.  Raises UnsupportedURL or NotAPage for bad input;
    a page whose layout is not recognised comes back as ``Unreadable``."""
    ref = identify(url)
    doc = parse_html(html)
    module = platform_module(ref.platform)
    captured_at = aware(captured_at)
    try:
        if ref.page == "thread":
            return module.read_thread(doc, ref, captured_at)
        return module.read_list(doc, ref, captured_at)
    except LayoutError as err:
        return Unreadable(
            platform=ref.platform, url=ref.url, page=ref.page, reason=str(err), contract_id=ref.contract_id
        )


def text_of(element) -> str:
    """Visible text of an element, as a browser lays it out: ``<br>`` and block
    ends are line breaks, other whitespace (source newlines too) is one space."""
    if element is None:
        return ""
    pieces: list[str] = []  # runs of text; "\n" alone marks a line break
    children = list(element)
    if all(child.tag == "br" for child in children):
        # The common message body (text and <br>s only), without the walk.
        pieces.append(element.text or "")
        for child in children:
            pieces.append(LINE_BREAK)
            pieces.append(child.tail or "")
        return _lines(pieces)

    def walk(el):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag not in ("script", "style", "template"):
            if tag == "br":
                pieces.append(LINE_BREAK)
            if el.text:
                pieces.append(el.text)
            for child in el:
                walk(child)
            if tag in BLOCK_TAGS:
                pieces.append(LINE_BREAK)
        if el.tail:
            pieces.append(el.tail)

    if element.text:
        pieces.append(element.text)
    for child in children:
        walk(child)
    return _lines(pieces)


LINE_BREAK = "\x00"  # never in parsed text: parse_html refuses NUL


def _lines(pieces: list[str]) -> str:
    lines = [" ".join(line.split()) for line in "".join(pieces).split(LINE_BREAK)]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "dd", "dt", "section", "h1", "h2", "h3", "h4", "tr", "table", "blockquote", "pre"})
