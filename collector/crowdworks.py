"""CrowdWorks: every URL pattern, selector and text ghostwatch reads on crowdworks.jp.

When the real site changes its markup, this file is the one to change; then
``ghostwatch reparse`` re-reads every stored snapshot.

Pages:

- active contracts ``/e/contracts?status=active``: ``table.contracts-table``,
  one row a contract;
- a contract ``/contracts/<id>``: the summary ``#contract_summary`` and the
  message thread ``#pack-message-thread``.

The thread's class names end in a build hash (``_messageItem_k2j3a``) that
changes between releases, so they are matched by their stem.  ``time[datetime]``
is an exact instant, in any offset.
"""

from __future__ import annotations

import re
from datetime import datetime

from collector import pages
from collector.pages import (
    ContractList,
    LayoutError,
    ListedContract,
    Message,
    PageRef,
    Thread,
    text_of,
)
from collector.timeutil import parse_instant

PLATFORM = "crowdworks"
HOST = "crowdworks.jp"
BASE_URL = f"https://{HOST}"
LIST_PATH = "/e/contracts"
LIST_URL = f"{BASE_URL}{LIST_PATH}?status=active"
LOGIN_PATHS = ("/login",)
LOGIN_URL = BASE_URL + LOGIN_PATHS[0]
CONTRACT_PATH = re.compile(r"^/contracts/(\d+)$")


def contract_url(contract_id: str) -> str:
    return f"{BASE_URL}/contracts/{contract_id}"


# --- URLs -----------------------------------------------------------------


def match_url(parts, url: str) -> PageRef | None:
    if parts.hostname not in (HOST, "www.crowdworks.jp"):
        return None
    path = parts.path.rstrip("/") or "/"
    if m := CONTRACT_PATH.match(path):
        return PageRef(PLATFORM, "thread", m.group(1), contract_url(m.group(1)))
    if path == LIST_PATH:
        query = f"?{parts.query}" if parts.query else ""
        return PageRef(PLATFORM, "contract_list", None, f"{BASE_URL}{LIST_PATH}{query}")
    return None


def is_login_page(url: str, html: str | None = None) -> bool:
    """A redirect to the login page, or a login form shown in its place."""
    return pages.is_login_page(url, html, hosts=(HOST, "www.crowdworks.jp"), login_paths=LOGIN_PATHS,
                               page_marker="pack-message-thread")


# --- Contract page --------------------------------------------------------

PAY_TYPES = {"固定報酬制": "fixed", "時間単価制": "hourly"}

# The status banner of the summary: a text it contains, and what it means.
STATUS_BANNERS = (
    ("この契約はキャンセルされました", "cancelled"),
    ("この契約は完了しました", "completed"),
    ("検収を行っています", "delivered"),
    ("納品完了", "delivered"),
    ("納品済み", "delivered"),
    ("仮払いを行っています", "in_progress"),
    ("業務を開始しています", "in_progress"),
)
REQUESTED_BANNER = "連絡催促を申請中です"
DELIVERY_NOTICE = "納品を報告しました"
COLLAPSED_TEXT = re.compile(r"他の\s*\d+\s*件のメッセージを表示")


def _stem(name: str) -> str:
    """XPath test for a class token ``_<name>_<hash>``, whatever the hash."""
    return f"contains(concat(' ', normalize-space(@class)), ' _{name}_')"


def _class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _has_stem(el, name: str) -> bool:
    """Whether ``el`` has a class ``_<name>_<hash>``, whatever the hash."""
    classes = el.get("class")
    if not classes or f"_{name}_" not in classes:
        return False
    return any(c.startswith(f"_{name}_") for c in classes.split())


def _message_parts(item) -> tuple:
    """One pass over a message's descendants: (sender link, time, body)."""
    sender = time_el = body = None
    for el in item.iter("a", "time", "div"):
        if el.tag == "time":
            if time_el is None and el.get("datetime") is not None:
                time_el = el
        elif el.tag == "a":
            if sender is None and _has_stem(el, "senderName"):
                sender = el
        elif body is None and _has_stem(el, "messageBody"):
            body = el
    return sender, time_el, body


def read_thread(doc, ref: PageRef, captured_at: datetime) -> Thread:
    threads = doc.xpath("//*[@id='pack-message-thread']")
    if not threads:
        raise LayoutError("メッセージスレッド (#pack-message-thread) が見つかりません")
    thread = threads[0]
    summaries = doc.xpath("//*[@id='contract_summary']") or doc.xpath(f"//section[{_class('contract-summary')}]")
    if not summaries:
        raise LayoutError("契約の概要 (#contract_summary) が見つかりません")
    summary = summaries[0]

    title_el = summary.xpath(f".//*[{_class('contract-summary__title')}]")
    title = text_of(title_el[0]) if title_el else ""
    if not title:
        raise LayoutError("仕事名 (.contract-summary__title) が見つかりません")
    client_el = summary.xpath(f".//*[{_class('contract-summary__client')}]//a")
    client = text_of(client_el[0]) if client_el else ""
    if not client:
        raise LayoutError("クライアント名 (.contract-summary__client a) が見つかりません")

    pay_text = ""
    for dt in summary.xpath(".//dt"):
        if text_of(dt) == "報酬形式":
            dd = dt.getnext()
            pay_text = text_of(dd) if dd is not None else ""
    pay_type = PAY_TYPES.get(pay_text)
    if pay_type is None:
        raise LayoutError(f"報酬形式が読めません: {pay_text!r}")

    banner_el = summary.xpath(f".//*[{_class('contract-status__message')}]")
    banner = text_of(banner_el[0]) if banner_el else ""
    status = next((value for text, value in STATUS_BANNERS if text in banner), None)
    if status is None:
        raise LayoutError(f"契約の状態が読めません: {banner!r}")

    escalation = "requested" if REQUESTED_BANNER in text_of(summary) else "none"

    messages: list[Message] = []
    delivered_at = None
    for item in (div for div in thread.iter("div") if _has_stem(div, "messageItem")):
        classes = item.get("class") or ""
        sender_el, time_el, body = _message_parts(item)
        if "_systemMessage_" in classes:
            sender = "system"
        elif "_ownMessage_" in classes:
            sender = "me"
        else:
            if sender_el is None:
                raise LayoutError("送信者の読めないメッセージがあります")
            sender = "client"
        if time_el is None:
            raise LayoutError("日時 (time[datetime]) のないメッセージがあります")
        try:
            sent_at = parse_instant(time_el.get("datetime"))
        except ValueError as err:
            raise LayoutError(f"メッセージの日時が読めません: {time_el.get('datetime')!r}") from err
        text = text_of(body) if body is not None else ""
        message = Message(sender=sender, sent_at=sent_at, text=text, id=item.get("data-message-id"))
        if sender == "system" and DELIVERY_NOTICE in text:
            delivered_at = sent_at
        messages.append(message)
    if not messages:
        raise LayoutError("メッセージが 1 件も読めません (div[class*=_messageItem_])")

    collapsed = bool(thread.xpath(f".//*[{_stem('expandButton')}]")) or any(
        COLLAPSED_TEXT.search(text_of(button)) for button in thread.xpath(".//button")
    )

    return Thread(
        platform=PLATFORM,
        url=ref.url,
        contract_id=ref.contract_id,
        title=title,
        client=client,
        pay_type=pay_type,
        status=status,
        escalation=escalation,
        escalation_deadline=None,
        history_collapsed=collapsed,
        messages=messages,
        delivered_at=delivered_at,
    )


# --- Active contracts -----------------------------------------------------

LIST_STATUSES = {
    "進行中": "in_progress",
    "仮払い待ち": "in_progress",
    "検収中": "delivered",
    "納品済み": "delivered",
}
LIST_EMPTY_TEXTS = ("契約中の仕事はありません",)
# The pager's "next" link, when the list runs to several pages.
NEXT_PAGE_XPATH = (
    "//a[@rel='next'] | //a[contains(@class, 'next_page')] | "
    "//*[contains(@class, 'pagination')]//a[normalize-space() = '次へ' or contains(@class, 'next')]"
)


def read_list(doc, ref: PageRef, captured_at: datetime) -> ContractList:
    tables = doc.xpath(f"//table[{_class('contracts-table')}]")
    if not tables:
        if any(t in text_of(doc.find("body")) for t in LIST_EMPTY_TEXTS):
            return ContractList(platform=PLATFORM, url=ref.url, contracts=[])
        raise LayoutError("契約の一覧 (table.contracts-table) が見つかりません")
    contracts = []
    for row in tables[0].xpath(".//tbody/tr"):
        links = row.xpath(".//a[starts-with(@href, '/contracts/')]")
        if not links:
            raise LayoutError("契約へのリンクがない行があります")
        href = links[0].get("href").split("#", 1)[0]
        m = CONTRACT_PATH.match(href.rstrip("/"))
        if not m:
            raise LayoutError(f"契約へのリンクが読めません: {href!r}")
        status_el = row.xpath(f".//*[{_class('contracts-table__status')}]")
        status_text = text_of(status_el[0]) if status_el else ""
        status = LIST_STATUSES.get(status_text)
        if status is None:
            raise LayoutError(f"一覧の状態が読めません: {status_text!r}")
        contracts.append(
            ListedContract(
                contract_id=m.group(1),
                status=status,
                url=contract_url(m.group(1)),
                title=text_of(links[0]),
            )
        )
    if not contracts and not any(t in text_of(doc.find("body")) for t in LIST_EMPTY_TEXTS):
        raise LayoutError("一覧に契約が 1 件も見つかりません")
    return ContractList(
        platform=PLATFORM,
        url=ref.url,
        contracts=contracts,
        next_url=pages.next_list_url(doc, ref.url, NEXT_PAGE_XPATH, PLATFORM),
    )
