"""Lancers: every URL pattern, selector and text ghostwatch reads on www.lancers.jp.

When the real site changes its markup, this file is the one to change; then
``ghostwatch reparse`` re-reads every stored snapshot.

Pages:

- the in-progress list ``/mypage/proposals/all/working``: one
  ``li.p-mypage-work__media.c-media-job`` per contract;
- a thread ``/mypage/message?boardId=<id>``: the deal panel
  ``aside.p-message-board__deal`` and messages ``li.p-message-list__item--*``.

Times on a thread are relative to the moment the page was shown (今日 14:32,
昨日 09:10, 11月12日 14:32, 2025年12月28日 14:32) and are resolved against the
capture instant, in Japan time, never against the clock at parse time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qs

from lxml import etree

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
from collector.timeutil import JST

PLATFORM = "lancers"
HOST = "www.lancers.jp"
BASE_URL = f"https://{HOST}"
LIST_PATH = "/mypage/proposals/all/working"
LIST_URL = BASE_URL + LIST_PATH
THREAD_PATH = "/mypage/message"
LOGIN_PATHS = ("/user/login",)
LOGIN_URL = BASE_URL + LOGIN_PATHS[0]


def thread_url(contract_id: str) -> str:
    return f"{BASE_URL}{THREAD_PATH}?boardId={contract_id}"


# --- URLs -----------------------------------------------------------------


def match_url(parts, url: str) -> PageRef | None:
    if parts.hostname not in (HOST, "lancers.jp"):
        return None
    path = parts.path.rstrip("/") or "/"
    if path == THREAD_PATH:
        board = parse_qs(parts.query).get("boardId", [""])[0]
        if board.isdigit():
            return PageRef(PLATFORM, "thread", board, thread_url(board))
        return None
    if path == LIST_PATH:
        query = f"?{parts.query}" if parts.query else ""  # ?page=2 of a long list
        return PageRef(PLATFORM, "contract_list", None, LIST_URL + query)
    return None


def is_login_page(url: str, html: str | None = None) -> bool:
    """A redirect to the login page, or a login form shown in its place."""
    return pages.is_login_page(url, html, hosts=(HOST, "lancers.jp"), login_paths=LOGIN_PATHS,
                               page_marker="p-message-board")


# --- Thread ---------------------------------------------------------------

PAY_TYPES = {"固定報酬制": "fixed", "時間報酬制": "hourly"}

# The status chip in the deal panel: its text, and its class modifier as a
# second opinion.
STATUS_TEXTS = {
    "進行中": "in_progress",
    "完了報告済み": "delivered",
    "計画変更中": "plan_change",
    "完了": "completed",
    "キャンセル": "cancelled",
    "キャンセル済み": "cancelled",
}

SENDER_MODIFIERS = {
    "p-message-list__item--partner": "client",
    "p-message-list__item--self": "me",
    "p-message-list__item--system": "system",
}

CONTACT_REQUEST_BUTTON_TEXT = "連絡催促申請"
CONTACT_REQUEST_STATUS_TEXT = "連絡催促申請中"
DEADLINE_RE = re.compile(r"連絡期限[：:]\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})")
DELIVERY_NOTICE = "完了報告が提出されました"
OLDER_MESSAGES_TEXT = "以前のメッセージ"

TIME_TODAY = re.compile(r"^今日\s*(\d{1,2}):(\d{2})$")
TIME_YESTERDAY = re.compile(r"^昨日\s*(\d{1,2}):(\d{2})$")
TIME_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})$")
TIME_FULL = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})$")


def _class_xpath(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


# Compiled once: a long thread runs these for every message.
_ITEMS = etree.XPath(f"./li[{_class_xpath('p-message-list__item')}]")
_LIST_CONTROLS = etree.XPath("./button | ./a | ./li/button | ./li/a | ./div/button | ./div/a")


def _message_parts(item) -> tuple:
    """One pass over a message's descendants: (time element, body element)."""
    time_el = body = None
    for el in item.iter("time", "div"):
        classes = el.get("class")
        if not classes:
            continue
        if el.tag == "time":
            if time_el is None and "p-message-list__time" in classes.split():
                time_el = el
        elif body is None and "p-message-list__body" in classes.split():
            body = el
    return time_el, body


@lru_cache(maxsize=4096)
def resolve_time(text: str, captured_at: datetime) -> datetime:
    """A Lancers message time, resolved against the capture instant (Japan time)."""
    text = " ".join(text.split())
    local = captured_at.astimezone(JST)
    try:
        if m := TIME_FULL.match(text):
            y, mo, d, h, mi = map(int, m.groups())
            return datetime(y, mo, d, h, mi, tzinfo=JST)
        if m := TIME_TODAY.match(text):
            h, mi = map(int, m.groups())
            return datetime(local.year, local.month, local.day, h, mi, tzinfo=JST)
        if m := TIME_YESTERDAY.match(text):
            h, mi = map(int, m.groups())
            day = local.date() - timedelta(days=1)
            return datetime(day.year, day.month, day.day, h, mi, tzinfo=JST)
        if m := TIME_MONTH_DAY.match(text):
            mo, d, h, mi = map(int, m.groups())
            # "This year" as the page saw it; a date that would lie after the
            # capture belongs to the year before (a page shown in early January).
            candidate = datetime(local.year, mo, d, h, mi, tzinfo=JST)
            if candidate > local + timedelta(days=1):
                candidate = datetime(local.year - 1, mo, d, h, mi, tzinfo=JST)
            return candidate
    except ValueError as err:  # 2月30日 and the like
        raise LayoutError(f"メッセージの日時が読めません: {text!r}") from err
    raise LayoutError(f"メッセージの日時の書式が不明です: {text!r}")


def _deal_value(deal, label: str):
    for dt in deal.xpath(".//dt"):
        if text_of(dt) == label:
            dd = dt.getnext()
            if dd is not None and dd.tag == "dd":
                return dd
    return None


def read_thread(doc, ref: PageRef, captured_at: datetime) -> Thread:
    board = doc.xpath(f"//div[{_class_xpath('p-message-board')}]")
    if not board:
        raise LayoutError("メッセージボード (.p-message-board) が見つかりません")
    lists = doc.xpath(f"//ul[{_class_xpath('p-message-list')}]")
    if not lists:
        raise LayoutError("メッセージ一覧 (ul.p-message-list) が見つかりません")
    message_list = lists[0]
    deals = doc.xpath(f"//aside[{_class_xpath('p-message-board__deal')}]")
    if not deals:
        raise LayoutError("取引情報 (aside.p-message-board__deal) が見つかりません")
    deal = deals[0]

    title_el = deal.xpath(f".//*[{_class_xpath('p-message-board__work-title')}]")
    title = text_of(title_el[0]) if title_el else ""
    if not title:
        raise LayoutError("仕事名 (.p-message-board__work-title) が見つかりません")
    client_el = _deal_value(deal, "クライアント")
    if client_el is None or not text_of(client_el):
        raise LayoutError("取引情報に「クライアント」がありません")
    client = text_of(client_el)

    pay_el = _deal_value(deal, "報酬形式")
    pay_text = text_of(pay_el) if pay_el is not None else ""
    pay_type = PAY_TYPES.get(pay_text)
    if pay_type is None:
        raise LayoutError(f"報酬形式が読めません: {pay_text!r}")

    status_el = _deal_value(deal, "状態")
    status_text = text_of(status_el) if status_el is not None else ""
    status = STATUS_TEXTS.get(status_text)
    if status is None:
        raise LayoutError(f"取引の状態が読めません: {status_text!r}")

    escalation, deadline = "none", None
    for button in deal.xpath(f".//*[{_class_xpath('p-message-board__contact-request')}]"):
        if text_of(button) == CONTACT_REQUEST_BUTTON_TEXT:
            escalation = "available"
    for status_box in deal.xpath(f".//*[{_class_xpath('p-message-board__contact-request-status')}]"):
        box_text = text_of(status_box)
        if CONTACT_REQUEST_STATUS_TEXT in box_text:
            escalation = "requested"
            if m := DEADLINE_RE.search(box_text):
                y, mo, d, h, mi = map(int, m.groups())
                deadline = datetime(y, mo, d, h, mi, tzinfo=JST)

    messages: list[Message] = []
    delivered_at = None
    for item in _ITEMS(message_list):
        classes = (item.get("class") or "").split()
        senders = [SENDER_MODIFIERS[c] for c in classes if c in SENDER_MODIFIERS]
        if len(senders) != 1:
            raise LayoutError(f"送信者の種類が読めないメッセージがあります (class={' '.join(classes)!r})")
        time_el, body = _message_parts(item)
        if time_el is None:
            raise LayoutError("日時 (time.p-message-list__time) のないメッセージがあります")
        sent_at = resolve_time("".join(time_el.itertext()), captured_at)
        text = text_of(body) if body is not None else ""
        message = Message(sender=senders[0], sent_at=sent_at, text=text, id=item.get("data-message-id"))
        if message.sender == "system" and DELIVERY_NOTICE in text:
            delivered_at = sent_at
        messages.append(message)
    if not messages:
        raise LayoutError("メッセージが 1 件も読めません")

    # A "load older messages" control at the top of the list or beside it.
    controls = _LIST_CONTROLS(message_list) + _LIST_CONTROLS(message_list.getparent())
    collapsed = any(OLDER_MESSAGES_TEXT in text_of(el) for el in controls)

    return Thread(
        platform=PLATFORM,
        url=ref.url,
        contract_id=ref.contract_id,
        title=title,
        client=client,
        pay_type=pay_type,
        status=status,
        escalation=escalation,
        escalation_deadline=deadline,
        history_collapsed=collapsed,
        messages=messages,
        delivered_at=delivered_at,
    )


# --- In-progress list -----------------------------------------------------

LIST_STATUS_MODIFIERS = {
    "c-media-job__status--active": "in_progress",
    "c-media-job__status--reported": "delivered",
    "c-media-job__status--changing": "plan_change",
}
LIST_EMPTY_TEXTS = ("進行中の仕事はありません", "進行中のお仕事はありません")
# The pager's "next" link, when the list runs to several pages.
NEXT_PAGE_XPATH = (
    "//a[@rel='next'] | //*[contains(@class, 'c-pager')]//a[contains(@class, 'next') or normalize-space() = '次へ']"
)


def read_list(doc, ref: PageRef, captured_at: datetime) -> ContractList:
    containers = doc.xpath(f"//*[{_class_xpath('p-mypage-work')}]")
    if not containers:
        raise LayoutError("進行中の仕事の一覧 (.p-mypage-work) が見つかりません")
    items = containers[0].xpath(
        f".//li[{_class_xpath('p-mypage-work__media')} and {_class_xpath('c-media-job')}]"
    )
    contracts = []
    for item in items:
        status_el = item.xpath(f".//*[{_class_xpath('c-media-job__status')}]")
        modifiers = (status_el[0].get("class") or "").split() if status_el else []
        statuses = [LIST_STATUS_MODIFIERS[c] for c in modifiers if c in LIST_STATUS_MODIFIERS]
        if len(statuses) != 1:
            raise LayoutError(f"一覧の状態が読めません: {text_of(status_el[0]) if status_el else '(なし)'!r}")
        job = item.xpath(f".//a[{_class_xpath('c-link')} and {_class_xpath('c-link--black')} and starts-with(@href, '/work/detail/')]")
        title = text_of(job[0]) if job else ""
        links = item.xpath(".//a[contains(@href, '/mypage/message?boardId=')]")
        if not links:
            raise LayoutError(f"メッセージへのリンクがない仕事があります: {title!r}")
        board = parse_qs(links[0].get("href").split("?", 1)[1]).get("boardId", [""])[0]
        if not board.isdigit():
            raise LayoutError(f"メッセージへのリンクが読めません: {links[0].get('href')!r}")
        contracts.append(
            ListedContract(contract_id=board, status=statuses[0], url=thread_url(board), title=title)
        )
    if not contracts and not any(t in text_of(containers[0]) for t in LIST_EMPTY_TEXTS):
        raise LayoutError("一覧に仕事が 1 件も見つかりません (li.p-mypage-work__media)")
    return ContractList(
        platform=PLATFORM,
        url=ref.url,
        contracts=contracts,
        next_url=pages.next_list_url(doc, ref.url, NEXT_PAGE_XPATH, PLATFORM),
    )
