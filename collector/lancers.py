"""Lancers: every URL, endpoint, selector, text and time format ghostwatch reads
on www.lancers.jp.  When the real site differs, this file is the one to change;
then ``ghostwatch reparse`` re-reads every stored capture.

What is confirmed by public evidence and what is ASSUMED is marked on each
constant (see tests/fixtures/corpus/README.md).

- A thread ``/mypage/message?boardId=<board id>`` is a JavaScript app: its
  messages come from ``/v1/message_api`` JSON (the capture holds it); the deal
  panel in the HTML gives the facts the JSON lacks.  The contract is the job
  (``with.job.id`` of the board detail); a board with no job is an inquiry.
- The working list ``/mypage/proposals/all/working[/page:N]`` gives job ids and
  states; it has no links to the boards (the collector joins them through the
  boards list API).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from collector.capture import Response, checked_json, find_response, json_body, json_of
from collector.html import has_class, login_form_shown, text_of
from collector.reading import (
    MAX_ID_DIGITS,
    ContractList,
    Inquiry,
    LayoutError,
    ListedContract,
    Message,
    PageRef,
    Thread,
)
from collector.timeutil import JST

PLATFORM = "lancers"
HOST = "www.lancers.jp"  # confirmed
HOSTS = (HOST, "lancers.jp")
BASE_URL = f"https://{HOST}"
THREAD_PATH = "/mypage/message"  # confirmed: ?boardId=<board id>
LIST_PATH = "/mypage/proposals/all/working"  # confirmed
LIST_URL = BASE_URL + LIST_PATH
LIST_PAGE_PATH = re.compile(r"^/mypage/proposals/all/working(?:/page:(\d+))?$")  # page:N ASSUMED
WORK_PATH = re.compile(r"^/work/detail/(\d+)$")  # confirmed
# confirmed: the login form, the e-mail code step, the password reminder.
LOGIN_PATHS = ("/user/login", "/user/verify_code", "/user/reminder")
LOGIN_URL = BASE_URL + LOGIN_PATHS[0]
GOOGLE_SIGN_IN_HOST = "accounts.google.com"  # confirmed: "Google でログイン"

# --- the message API (confirmed endpoints) ----------------------------------
API_BASE = "/v1/message_api"
PAGE_SIZE = 20  # confirmed: limit=20; a shorter page is the thread's start


def thread_url(board_id: str) -> str:
    return f"{BASE_URL}{THREAD_PATH}?boardId={board_id}"


def work_url(job_id: str) -> str:
    return f"{BASE_URL}/work/detail/{job_id}"


def board_detail_url(board_id: str) -> str:
    return f"{BASE_URL}{API_BASE}/boards/{board_id}"


def messages_url(board_id: str, before_id: str | None = None) -> str:
    """The newest page of a board's messages, or the page before message ``before_id``."""
    query = {"limit": PAGE_SIZE}
    if before_id is not None:
        query.update(message_id=before_id, direction="prev")
    return f"{BASE_URL}{API_BASE}/boards/{board_id}/messages?{urlencode(query)}"


def boards_list_url(modified: str | None = None) -> str:
    """The boards list (newest first); the next page starts at the last board's ``modified``."""
    query = {"limit": PAGE_SIZE}
    if modified is not None:
        query["modified"] = modified
    return f"{BASE_URL}{API_BASE}/boards/?{urlencode(query)}"


def read_boards_page(body: str) -> list[dict]:
    """A boards list page: ``[{"id": str, "modified": str}]``; ValueError when not that JSON."""
    data = json_of(body, "ボード一覧", list)
    boards = []
    for item in data:
        if not isinstance(item, dict) or _digits(item.get("id")) is None or not isinstance(item.get("modified"), str):
            raise ValueError("ボード一覧に id と modified のない項目があります")
        boards.append({"id": _digits(item["id"]), "modified": item["modified"]})
    return boards


def job_id_of_board(detail_body: str) -> str | None:
    """The job id of a board detail body; None for an inquiry (no job).
    ValueError when the body is not a board detail."""
    return _job_id(json_of(detail_body, "ボードの詳細", dict))


def _job_id(detail: dict) -> str | None:
    # confirmed: with = {"job": {"id"}, "proposal": {"id"}}; with = {} is an inquiry.
    with_ = detail.get("with")
    job = with_.get("job") if isinstance(with_, dict) else None
    return _digits(job.get("id")) if isinstance(job, dict) else None


def _digits(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


# --- URLs --------------------------------------------------------------------


def match_url(parts, url: str) -> PageRef | None:
    if parts.hostname not in HOSTS:
        return None
    path = parts.path.rstrip("/") or "/"
    if path == THREAD_PATH:
        board = parse_qs(parts.query).get("boardId", [""])[0]
        if board.isascii() and board.isdigit() and len(board) <= MAX_ID_DIGITS:
            return PageRef(PLATFORM, "thread", thread_url(board), thread_id=board)
        return None
    if LIST_PAGE_PATH.match(path):
        return PageRef(PLATFORM, "contract_list", BASE_URL + path)
    return None


def is_login_page(url: str, html: str | None = None) -> bool:
    """A redirect to a login step (form, e-mail code, reminder, Google sign-in),
    or a login form shown in place of the page."""
    parts = urlsplit(url)
    if parts.hostname == GOOGLE_SIGN_IN_HOST:
        return True
    if parts.hostname in HOSTS and parts.path.rstrip("/") in LOGIN_PATHS:
        return True
    return login_form_shown(html, login_paths=LOGIN_PATHS, page_marker="p-message-board")


# --- message times -------------------------------------------------------------

# ASSUMED: the format of ``modified`` is not confirmed.  Accepted: ISO 8601 with
# an offset or Z (fractional seconds allowed), "YYYY-MM-DD HH:MM:SS" (Japan
# time), and Unix seconds as an integer.  Anything else is unreadable.
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
JAPAN_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")


def message_time(value) -> datetime:
    """A message's ``modified`` as an aware instant; LayoutError for an unknown format."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, JST)
        if isinstance(value, str):
            if ISO_WITH_OFFSET.match(value):
                # An aware instant in the offset it was written with (shown in Japan time by iso()).
                return datetime.fromisoformat(value)
            if m := JAPAN_LOCAL.match(value):
                return datetime(*map(int, m.groups()), tzinfo=JST)
    except (ValueError, OverflowError, OSError):
        raise LayoutError(f"メッセージの日時が読めません: {value!r}") from None
    raise LayoutError(f"メッセージの日時 (modified) の書式が不明です: {str(value)[:40]!r}")


def _message(item) -> Message:
    # confirmed keys: id, modified, send_user.is_client, description.
    try:
        raw_id, user = item["id"], item["send_user"]
        is_client = user["is_client"]
    except (TypeError, KeyError):
        raise LayoutError("メッセージ API の項目に id / send_user.is_client がありません") from None
    message_id = str(raw_id) if type(raw_id) is int and raw_id >= 0 else _digits(raw_id)
    if message_id is None or type(is_client) is not bool:
        raise LayoutError("メッセージ API の項目の id / send_user.is_client が読めません")
    text = item.get("description")
    return Message(
        sender="client" if is_client else "me",  # ASSUMED: no platform notices in the API
        sent_at=message_time(item.get("modified")),
        text=text.replace("\r\n", "\n") if type(text) is str else "",
        id=message_id,
    )


MAX_MESSAGE_PAGES = 100  # older pages read from one capture at most


def _read_messages(responses: list[Response], board_id: str) -> tuple[list[Message], bool]:
    """Every captured page of the board's messages, newest first then older
    pages, and whether older messages may exist that the capture lacks."""
    page = json_body(responses, messages_url(board_id), "メッセージ API", list)
    by_id: dict[int, Message] = {}
    for _ in range(MAX_MESSAGE_PAGES):
        for item in page:
            message = _message(item)
            by_id.setdefault(int(message.id), message)
        if len(page) < PAGE_SIZE:
            return _by_id(by_id), False  # the thread's start
        older = find_response(responses, messages_url(board_id, str(min(by_id))))
        if older is None:
            return _by_id(by_id), True  # not captured: the oldest page held is full
        page = checked_json(older, "メッセージ API（過去のページ）", list)
    return _by_id(by_id), True


def _by_id(by_id: dict[int, Message]) -> list[Message]:
    # Order within a page is not confirmed: by id, never by position.
    return [by_id[key] for key in sorted(by_id)]


# --- the deal panel (ASSUMED: no public evidence) ---------------------------

DEAL_PANEL = f"//aside[{has_class('p-message-board__deal')}]"
WORK_TITLE = f".//a[{has_class('p-message-board__work-title')}]"
PAY_TYPES = {"固定報酬制": "fixed", "時間報酬制": "hourly"}
STATUS_TEXTS = {
    "進行中": "in_progress",
    "完了報告済み": "delivered",
    "計画変更中": "plan_change",
    "完了": "completed",
    "キャンセル": "cancelled",
}
CONTACT_REQUEST_BUTTON = f".//*[{has_class('p-message-board__contact-request')}]"
CONTACT_REQUEST_BUTTON_TEXT = "連絡催促申請"
CONTACT_REQUEST_STATUS = f".//*[{has_class('p-message-board__contact-request-status')}]"
CONTACT_REQUEST_STATUS_TEXT = "連絡催促申請中"
DEADLINE_RE = re.compile(r"連絡期限[：:]\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})")


def _deal_value(deal, label: str) -> str | None:
    for dt in deal.iter("dt"):
        if text_of(dt) == label:
            dd = dt.getnext()
            if dd is not None and dd.tag == "dd":
                return text_of(dd) or None
    return None


def _deal_facts(doc) -> dict:
    """client, pay_type, status, escalation and its deadline; all None without the panel."""
    facts = dict.fromkeys(("client", "pay_type", "status", "escalation", "escalation_deadline"))
    deals = doc.xpath(DEAL_PANEL)
    if not deals:
        return facts
    deal = deals[0]
    facts["client"] = _deal_value(deal, "クライアント")
    facts["pay_type"] = PAY_TYPES.get(_deal_value(deal, "報酬形式") or "")
    facts["status"] = STATUS_TEXTS.get(_deal_value(deal, "状態") or "")
    facts["escalation"] = "none"
    if any(text_of(el) == CONTACT_REQUEST_BUTTON_TEXT for el in deal.xpath(CONTACT_REQUEST_BUTTON)):
        facts["escalation"] = "available"
    for box in deal.xpath(CONTACT_REQUEST_STATUS):
        box_text = text_of(box)
        if CONTACT_REQUEST_STATUS_TEXT in box_text:
            facts["escalation"] = "requested"
            if m := DEADLINE_RE.search(box_text):
                try:
                    facts["escalation_deadline"] = datetime(*map(int, m.groups()), tzinfo=JST)
                except ValueError:
                    raise LayoutError(f"連絡期限の日付が読めません: {m.group(0)!r}") from None
    return facts


# --- thread ------------------------------------------------------------------


def read_thread(doc, ref: PageRef, responses: list[Response]) -> Thread | Inquiry:
    board_id = ref.thread_id
    detail = json_body(responses, board_detail_url(board_id), "ボードの詳細 API", dict)
    title = detail.get("title") if isinstance(detail.get("title"), str) else None
    job_id = _job_id(detail)
    if job_id is None:
        return Inquiry(platform=PLATFORM, url=ref.url, thread_id=board_id, title=title)
    messages, collapsed = _read_messages(responses, board_id)
    facts = _deal_facts(doc)
    sources = {"title": "api" if title else None, "messages": "api"}
    sources.update({k: ("page" if facts[k] is not None else None)
                    for k in ("client", "pay_type", "status", "escalation")})
    return Thread(
        platform=PLATFORM,
        url=ref.url,
        thread_id=board_id,
        contract_id=job_id,
        source="api",
        title=title,
        history_collapsed=collapsed,
        messages=messages,
        fact_sources=sources,
        **facts,
    )


# --- the working list --------------------------------------------------------

LIST_CARDS = f"//li[{has_class('p-mypage-work__media')} and {has_class('c-media-job')}]"  # confirmed
JOB_LINK = (f".//a[{has_class('c-link')} and {has_class('c-link--black')}"
            " and starts-with(@href, '/work/detail/')]")  # confirmed
CARD_STATUSES = f".//*[{has_class('c-media-job__statuses')}]//*[{has_class('c-media-job__status')}]"
# The second status chip is the state: 進行中 confirmed; the others ASSUMED.
LIST_STATUSES = {"進行中": "in_progress", "完了報告済み": "delivered", "計画変更中": "plan_change"}
PAGER_LINKS = f"//*[{has_class('p-mypage-pagers')}]//a[@href]"  # pager confirmed
NEXT_TEXT = "次へ"  # ASSUMED
LIST_EMPTY_TEXT = "進行中の仕事はありません"  # ASSUMED


def read_list(doc, ref: PageRef, responses: list[Response]) -> ContractList:
    contracts = []
    for card in doc.xpath(LIST_CARDS):
        links = card.xpath(JOB_LINK)
        m = WORK_PATH.match(urlsplit(links[0].get("href", "")).path) if links else None
        if not m:
            raise LayoutError("進行中の仕事に、仕事へのリンク (a.c-link--black[href^='/work/detail/']) がありません")
        chips = card.xpath(CARD_STATUSES)
        status = LIST_STATUSES.get(text_of(chips[1])) if len(chips) > 1 else None
        contracts.append(ListedContract(contract_id=m.group(1), status=status, url=work_url(m.group(1)),
                                        title=text_of(links[0]) or None))
    if not contracts and LIST_EMPTY_TEXT not in text_of(doc.find("body")):
        raise LayoutError("進行中の仕事のカード (li.p-mypage-work__media) が見つかりません")
    return ContractList(platform=PLATFORM, url=ref.url, contracts=contracts, next_url=_next_url(doc, ref.url))


def _next_url(doc, base_url: str) -> str | None:
    for link in doc.xpath(PAGER_LINKS):
        if text_of(link) != NEXT_TEXT:
            continue
        url = urljoin(base_url, link.get("href"))
        parts = urlsplit(url)
        if parts.hostname in HOSTS and LIST_PAGE_PATH.match(parts.path.rstrip("/")) and url != base_url:
            return url
    return None


# --- what the code above relies on, for ``ghostwatch doctor`` (collector/markers.py) ---
# The constants above are referenced there directly; these are the literals the
# code above reads inline, named here once for the doctor's checklist (a test
# checks that each still stands in the code above).  Change both together.
DEAL_LABELS = {"client": "クライアント", "pay_type": "報酬形式", "status": "状態"}  # ASSUMED, dt texts
BOARD_DETAIL_KEYS = ("with", "with.job.id", "title")  # confirmed
MESSAGE_KEYS = ("id", "modified", "send_user.is_client", "description")  # confirmed
BOARDS_LIST_KEYS = ("id", "modified")  # confirmed
