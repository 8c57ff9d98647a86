"""CrowdWorks: every URL, endpoint, selector, text and time format ghostwatch
reads on crowdworks.jp.  When the real site differs, this file is the one to
change; then ``ghostwatch reparse`` re-reads every stored capture.

What is confirmed by public evidence and what is ASSUMED is marked on each
constant (see tests/fixtures/corpus/README.md).

- A contract ``/contracts/<id>``: ``#pack-message-thread[data]`` names the
  message thread; its messages come from ``messages.json`` when the capture
  holds it, else from the page's own list.  Facts come from
  ``table.contract.cw-table`` and the status sentences.
- Active contracts ``/e/contracts?status=active``: one section per contract
  type, one row per contract.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from collector.capture import Response, find_response, json_of
from collector.html import class_has_stem, has_class, has_stem, html_fragment_text, login_form_shown, text_of, visible_text
from collector.reading import MAX_ID_DIGITS, ContractList, LayoutError, ListedContract, Message, PageRef, Thread
from collector.timeutil import JST

PLATFORM = "crowdworks"
HOST = "crowdworks.jp"  # confirmed
HOSTS = (HOST, "www.crowdworks.jp")
BASE_URL = f"https://{HOST}"
CONTRACT_PATH = re.compile(r"^/contracts/(\d+)$")  # confirmed
LIST_PATH = "/e/contracts"  # confirmed: ?status=active
LIST_URL = f"{BASE_URL}{LIST_PATH}?status=active"
LOGIN_PATHS = ("/login",)  # confirmed
LOGIN_URL = BASE_URL + LOGIN_PATHS[0]


def contract_url(contract_id: str) -> str:
    return f"{BASE_URL}/contracts/{contract_id}"


def messages_json_url(thread_id: str) -> str:
    return f"{BASE_URL}/message/threads/{thread_id}/messages.json"  # confirmed


# --- URLs --------------------------------------------------------------------


def match_url(parts, url: str) -> PageRef | None:
    if parts.hostname not in HOSTS:
        return None
    path = parts.path.rstrip("/") or "/"
    if (m := CONTRACT_PATH.match(path)) and m.group(1).isascii() and len(m.group(1)) <= MAX_ID_DIGITS:
        return PageRef(PLATFORM, "thread", contract_url(m.group(1)), contract_id=m.group(1))
    if path == LIST_PATH:
        status = parse_qs(parts.query).get("status", ["active"])[0]
        if status == "active":
            return PageRef(PLATFORM, "contract_list", LIST_URL)
    return None


def is_login_page(url: str, html: str | None = None) -> bool:
    """A redirect to the login page, or a login form shown in its place."""
    parts = urlsplit(url)
    if parts.hostname in HOSTS and parts.path.rstrip("/") in LOGIN_PATHS:
        return True
    return login_form_shown(html, login_paths=LOGIN_PATHS, page_marker="pack-message-thread")


# --- times -------------------------------------------------------------------

# confirmed: 「2026年09月10日 11:22」 (zero-padded, Japan time, no zone), in
# messages.json's senddate and in time[datetime].
JAPANESE_TIME = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})$")


def japanese_time(value) -> datetime:
    m = JAPANESE_TIME.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise LayoutError(f"メッセージの日時の書式が不明です: {str(value)[:40]!r}")
    try:
        return datetime(*map(int, m.groups()), tzinfo=JST)
    except ValueError:
        raise LayoutError(f"メッセージの日時が読めません: {value!r}") from None


# --- the contract page ---------------------------------------------------------

THREAD_ID = "pack-message-thread"  # confirmed, with attribute data = JSON
FACTS_TABLE = f"//table[{has_class('contract')} and {has_class('cw-table')}]"  # confirmed
PAY_TYPE_TEXTS = (("時間単価", "hourly"), ("固定報酬制", "fixed"))  # confirmed
# Status sentences (confirmed texts; the container is not known): all of a
# tuple's texts must stand in the page's visible text outside the thread.
STATUS_SENTENCES = (
    (("業務を開始しています",), "in_progress"),
    (("仮払いを行っています", "業務を開始しない"), "in_progress"),  # awaiting escrow
    (("クライアント（発注者）が検収を行っています", "検収完了までしばらくお待ちください"), "delivered"),
    (("納品済み",), "delivered"),
    (("納品完了",), "delivered"),
    (("この契約は完了しました",), "completed"),  # ASSUMED
    (("この契約はキャンセルされました",), "cancelled"),  # ASSUMED
)
REQUESTED_SENTENCE = "連絡催促を申請中です"  # ASSUMED; no deadline is shown
COLLAPSED_TEXT = re.compile(r"他の\s*\d+\s*件のメッセージを表示")  # confirmed
DELIVERY_NOTICE = "納品を報告しました"  # a platform notice in the page's list


def _thread_data(doc, ref: PageRef) -> tuple:
    threads = doc.xpath(f"//*[@id='{THREAD_ID}']")
    if not threads:
        raise LayoutError("メッセージスレッド (#pack-message-thread) が見つかりません")
    raw = threads[0].get("data")
    if raw is None:
        raise LayoutError("メッセージスレッドに data 属性 (#pack-message-thread[data]) がありません")
    data = json_of(raw, "メッセージスレッドの data 属性", dict, LayoutError)
    if data.get("messageableType") != "Contract" or str(data.get("messageableId")) != ref.contract_id:
        raise LayoutError(
            f"メッセージスレッドがこの契約 ({ref.contract_id}) のものではありません "
            f"(messageableType={data.get('messageableType')!r}, messageableId={data.get('messageableId')!r})"
        )
    thread_id = data.get("id")
    if isinstance(thread_id, bool) or not isinstance(thread_id, (int, str)) or not str(thread_id).isdigit():
        raise LayoutError("メッセージスレッドの data 属性に id がありません")
    return threads[0], str(thread_id)


def _facts(doc) -> dict:
    facts = {"title": None, "client": None, "pay_type": None}
    tables = doc.xpath(FACTS_TABLE)
    if not tables:
        return facts
    for row in tables[0].iter("tr"):
        th, td = row.find("th"), row.find("td")
        if th is None or td is None:
            continue
        label = text_of(th)
        if label == "仕事":
            links = td.xpath(".//a[starts-with(@href, '/public/jobs/')]")
            facts["title"] = text_of(links[0]) or None if links else None
        elif label == "クライアント":
            links = td.xpath(".//a[starts-with(@href, '/public/employers/')]")
            facts["client"] = text_of(links[0]) or None if links else None
        elif label.startswith("契約金額"):
            amount = text_of(td)
            facts["pay_type"] = next((kind for text, kind in PAY_TYPE_TEXTS if text in amount), None)
    return facts


def _status(text: str) -> str | None:
    found = {status for sentences, status in STATUS_SENTENCES if all(s in text for s in sentences)}
    if len(found) > 1:
        raise LayoutError(f"契約の状態が複数読み取れます ({', '.join(sorted(found))})")
    return found.pop() if found else None


def _api_messages(responses: list[Response], thread_id: str) -> list[Message] | None:
    """The messages of messages.json, or None when it is absent, not 200 or
    not this JSON (then the page's own list is read).  A senddate in another
    layout is unreadable: the JSON is the authority."""
    response = find_response(responses, messages_json_url(thread_id))
    if response is None or response.status != 200:
        return None
    try:
        data = json.loads(response.body)
    except (ValueError, RecursionError):
        return None
    items = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    shaped = all(
        isinstance(item, dict) and isinstance(item.get("own_message"), bool) and "senddate" in item
        and str(item.get("id", "")).isdigit() and not isinstance(item.get("id"), bool)
        for item in items
    )
    if not shaped:
        return None
    messages = [
        Message(
            sender="me" if item["own_message"] else "client",  # ASSUMED: no platform notices
            sent_at=japanese_time(item["senddate"]),
            text=html_fragment_text(item["body"]) if isinstance(item.get("body"), str) else "",
            id=str(item["id"]),
        )
        for item in items
    ]
    return sorted(messages, key=lambda m: int(m.id))  # oldest first is ASSUMED: sort anyway


def _page_messages(thread) -> tuple[list[Message], bool]:
    """The page's own message list, and whether older messages are folded."""
    messages = []
    for item in thread.iter("div"):
        if not class_has_stem(item, "messageItem"):
            continue
        sender = time_el = None
        bodies = []
        for el in item.iter("a", "time", "div"):
            if el.tag == "time":
                if time_el is None and el.get("datetime") is not None:
                    time_el = el
            elif el.tag == "a":
                if sender is None and class_has_stem(el, "senderName"):
                    sender = el
            elif class_has_stem(el, "messageBody"):
                bodies.append(el)
        # The _messageSent_ marker may stand on any element of the item.
        sent = next((el for el in item.iter() if isinstance(el.tag, str) and class_has_stem(el, "messageSent")), None)
        if time_el is None:
            raise LayoutError("日時 (time[datetime]) のないメッセージがあります")
        # confirmed: own messages carry _messageSent_; ASSUMED: no sender link is a platform notice.
        kind = "me" if sent is not None else "client" if sender is not None else "system"
        # With two bodies the first is a short digest and the full one holds <p>.
        body = next((b for b in bodies if b.find(".//p") is not None), bodies[0] if bodies else None)
        item_id = (item.get("id") or "").removeprefix("message-")
        messages.append(Message(sender=kind, sent_at=japanese_time(time_el.get("datetime")),
                                text=text_of(body), id=item_id if item_id.isdigit() else None))
    collapsed = bool(thread.xpath(f".//*[{has_stem('expandButton')}]")) or any(
        COLLAPSED_TEXT.search(text_of(button)) for button in thread.iter("button")
    )
    return messages, collapsed


def read_thread(doc, ref: PageRef, responses: list[Response]) -> Thread:
    thread, thread_id = _thread_data(doc, ref)
    facts = _facts(doc)
    text = visible_text(doc, skip_ids=(THREAD_ID,))
    status = _status(text)
    page_messages, collapsed = _page_messages(thread)
    messages = _api_messages(responses, thread_id)
    source = "api"
    if messages is None:
        messages, source = page_messages, "page"
        if not messages:
            raise LayoutError("メッセージが 1 件も読めません (messages.json も div[class*=_messageItem_] もありません)")
    else:
        collapsed = False  # ASSUMED: messages.json holds every message, folded ones included
    delivered = [m.sent_at for m in page_messages if m.sender == "system" and DELIVERY_NOTICE in m.text]
    sources = {k: ("page" if v is not None else None) for k, v in facts.items()}
    sources.update(status="page" if status else None, escalation="page", messages=source)
    return Thread(
        platform=PLATFORM,
        url=ref.url,
        thread_id=thread_id,
        contract_id=ref.contract_id,
        source=source,
        status=status,
        escalation="requested" if REQUESTED_SENTENCE in text else "none",
        escalation_deadline=None,
        history_collapsed=collapsed,
        messages=messages,
        delivered_at=max(delivered) if delivered else None,
        fact_sources=sources,
        **facts,
    )


# --- active contracts --------------------------------------------------------

# confirmed: one section per contract type; competition rows are not listed
# (連絡催促 covers project contracts only).
SECTIONS = (("hourly", "hourly"), ("fixed_price", "fixed"), ("competition", None))
LIST_STATUSES = {"進行中": "in_progress", "仮払い待ち": "in_progress", "検収中": "delivered", "納品済み": "delivered"}
NO_DATA = f".//div[{has_class('nodata')}]"  # 「契約がありません。」


def read_list(doc, ref: PageRef, responses: list[Response]) -> ContractList:
    contracts = []
    found = False
    for section_class, pay_type in SECTIONS:
        for section in doc.xpath(f"//div[{has_class(section_class)} and {has_class('section')}]"):
            found = True
            if pay_type is None:
                continue
            for row in section.iter("tr"):
                cells = row.findall("td")
                if not cells:
                    continue  # a header row
                ids = {m.group(1) for link in row.xpath(".//a[starts-with(@href, '/contracts/')]")
                       if (m := CONTRACT_PATH.match(urlsplit(link.get("href")).path.rstrip("/")))}
                if len(ids) != 1:
                    raise LayoutError("契約中の仕事の行に、契約へのリンク (a[href='/contracts/<id>']) が 1 つではありません")
                contract_id = ids.pop()
                link = row.xpath(f".//a[@href='/contracts/{contract_id}']")
                status = next((LIST_STATUSES[t] for cell in cells if (t := text_of(cell)) in LIST_STATUSES), None)
                contracts.append(ListedContract(contract_id=contract_id, status=status,
                                                url=contract_url(contract_id),
                                                title=(text_of(link[0]) if link else None) or None,
                                                pay_type=pay_type))
    if not found:
        raise LayoutError("契約中の仕事の一覧 (div.hourly.section / div.fixed_price.section) が見つかりません")
    # ASSUMED: one page (no pager is known for this list).
    return ContractList(platform=PLATFORM, url=ref.url, contracts=contracts)


# --- what the code above relies on, for ``ghostwatch doctor`` (collector/markers.py) ---
# The constants above are referenced there directly; these are the literals the
# code above reads inline, named here once for the doctor's checklist (a test
# checks that each still stands in the code above).  Change both together.
THREAD_DATA_KEYS = ("id", "messageableId", "messageableType")  # confirmed, in #pack-message-thread[data]
THREAD_DATA_TYPE = "Contract"  # confirmed
MESSAGES_JSON_KEYS = ("id", "own_message", "senddate", "body")  # confirmed, each of "messages"
MESSAGE_STEMS = {"item": "messageItem", "sender": "senderName", "body": "messageBody",
                 "sent": "messageSent", "expand": "expandButton"}  # confirmed CSS-module stems
FACT_LABELS = {"title": ("仕事", "/public/jobs/"), "client": ("クライアント", "/public/employers/"),
               "pay_type": ("契約金額", None)}  # confirmed th texts and link prefixes
