"""What the readers rely on, as data ``ghostwatch doctor`` checks against real pages.

Every marker refers to the platform module's own constant (``lancers.DEAL_PANEL``,
``crowdworks.STATUS_SENTENCES``, …) or to the short block of literals at the end
of that module (``lancers.DEAL_LABELS``, ``crowdworks.MESSAGE_STEMS``, …): this
file holds no selector, text or key of its own, so a fix to a platform module
is what the doctor checks next time.

A marker has a level:

- ``every``: every page of its kind must show it (where it applies);
- ``some``: at least one page of its kind must show it (a panel some boards lack,
  the page's own message list when ``messages.json`` answered, …);
- ``state``: shown only on pages in some state (the 連絡催促申請 button, a
  completed contract's sentence): reported as seen or not seen, never missing.

``check_pages(platform, pages)`` evaluates the markers on captured pages (each a
``Page``), and gives the time formats seen (as patterns), the JSON key sets
with their value types, what the reader concluded, and where the reading and
the page disagree.  Nothing it returns holds a value of the page: ids go
through the ``Redactor``'s hashes, texts through its shapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from collector import crowdworks, lancers
from collector.capture import find_response, parse_responses
from collector.html import class_has_stem, has_class, has_stem, parse_html, text_of, visible_text
from collector.pages import UnsupportedURL, identify
from collector.reading import ContractList, Inquiry, LayoutError, Thread, Unreadable
from collector.redact import Redactor, time_pattern

PLATFORMS = ("lancers", "crowdworks")
PAGE_KINDS = ("contract_list", "boards_list", "thread")
PAGE_LABELS = {
    ("lancers", "contract_list"): "進行中の仕事一覧",
    ("lancers", "boards_list"): "メッセージボード一覧 API",
    ("lancers", "thread"): "メッセージボード（ページと API）",
    ("crowdworks", "contract_list"): "契約中の仕事一覧",
    ("crowdworks", "thread"): "契約ページ（ページと messages.json）",
}


# --- the words a redacted report may keep ------------------------------------------


def known_texts() -> set[str]:
    """The platforms' own fixed words and sentences the readers look for."""
    texts = {lancers.NEXT_TEXT, lancers.LIST_EMPTY_TEXT, lancers.CONTACT_REQUEST_BUTTON_TEXT,
             lancers.CONTACT_REQUEST_STATUS_TEXT, crowdworks.REQUESTED_SENTENCE, crowdworks.DELIVERY_NOTICE,
             crowdworks.THREAD_DATA_TYPE}
    texts.update(lancers.LIST_STATUSES, lancers.PAY_TYPES, lancers.STATUS_TEXTS, lancers.DEAL_LABELS.values())
    texts.update(crowdworks.LIST_STATUSES, (t for t, _ in crowdworks.PAY_TYPE_TEXTS))
    texts.update(label for label, _ in crowdworks.FACT_LABELS.values())
    for sentences, _ in crowdworks.STATUS_SENTENCES:
        texts.update(sentences)
    # The Japanese words inside the readers' patterns (連絡期限, 件のメッセージを表示, …).
    for pattern in (lancers.DEADLINE_RE, crowdworks.COLLAPSED_TEXT):
        texts.update(w for w in re.findall(r"[^\x00-\x7f（）：]{2,}", pattern.pattern) if not w.startswith("\\"))
    return {t for t in texts if t}


def known_path_words() -> set[str]:
    """The words of the URLs the readers and the collector use (kept in a redacted URL)."""
    sources = [lancers.THREAD_PATH, lancers.LIST_PATH, lancers.API_BASE, *lancers.LOGIN_PATHS,
               lancers.LIST_PAGE_PATH.pattern, lancers.WORK_PATH.pattern, lancers.JOB_LINK,
               lancers.messages_url("1", "2"), lancers.boards_list_url("x"),
               crowdworks.LIST_URL, crowdworks.CONTRACT_PATH.pattern, crowdworks.messages_json_url("1"),
               *crowdworks.LOGIN_PATHS, *(prefix for _, prefix in crowdworks.FACT_LABELS.values() if prefix)]
    words = set()
    for source in sources:
        words.update(w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.json)?", source)
                     if w not in ("https", "http", "www", "jp", "d", "x"))
    words.update(crowdworks.HOSTS + lancers.HOSTS)
    return words


def known_json_values() -> set[str]:
    return {crowdworks.THREAD_DATA_TYPE, "prev", "active"}


def redactor(key: bytes) -> Redactor:
    """A ``Redactor`` keyed with ``key`` that keeps the readers' own words."""
    return Redactor(key, known_texts(), known_path_words(), known_json_values())


# --- pages ------------------------------------------------------------------------------


@dataclass
class Page:
    """One captured page (or, for ``boards_list``, one JSON response) to check."""

    platform: str
    kind: str  # contract_list | boards_list | thread
    url: str
    html: str = ""
    responses: list = field(default_factory=list)
    reading: object = None  # what the reader concluded (a Reading), None when not read
    listed_status: str | None = None  # the list's status for this contract
    listed_id: str | None = None  # the contract id the list gave
    doc: object = None

    def __post_init__(self):
        self.responses = parse_responses(self.responses)
        if self.html and self.doc is None:
            try:
                self.doc = parse_html(self.html)
            except Exception:  # noqa: BLE001 - not HTML: markers of the page are missing
                self.doc = None

    def xpath(self, expr: str, node=None) -> list:
        root = node if node is not None else self.doc
        return root.xpath(expr) if root is not None else []

    def json(self, url: str):
        """The JSON of the captured response at ``url``, or None (absent, not 200, not JSON)."""
        return _json_or_none(find_response(self.responses, url))

    def first_json(self):
        """The JSON of the capture's first response (a list page's own), or None."""
        return _json_or_none(self.responses[0] if self.responses else None)

    @property
    def is_inquiry(self) -> bool:
        return isinstance(self.reading, Inquiry)


def _path(value, dotted: str):
    """``value`` at a dotted path (``send_user.is_client``); KeyError when absent."""
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def _has_path(value, dotted: str) -> bool:
    try:
        _path(value, dotted)
        return True
    except KeyError:
        return False


# --- markers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    key: str  # stable name: "lancers.thread.deal_panel"
    page: str  # page kind
    kind: str  # selector | text | json_key | json
    what: str  # the selector (CSS-like), the text, the JSON path
    source: str  # the constant in the platform module: "lancers.DEAL_PANEL"
    level: str  # every | some | state
    assumed: bool
    test: Callable[[Page], bool | None]  # None: does not apply to this page


def css(xpath: str) -> str:
    """An XPath built with ``has_class`` / ``has_stem`` shown CSS-like:
    ``//li[has_class(a) and has_class(b)]`` is ``li.a.b``."""
    out = re.sub(r"contains\(concat\(' ', normalize-space\(@class\), ' '\), ' ([^']+) '\)", "\x01.\\1", xpath)
    out = re.sub(r"contains\(concat\(' ', normalize-space\(@class\)\), ' _([^']+)_'\)", "\x01[class*=_\\1_]", out)
    out = re.sub(r"starts-with\(@href, '([^']+)'\)", "\x01[href^=\\1]", out)
    out = re.sub(r"\[((?:\x01[^\x01\]]+\]?(?: and )?)+)\]",
                 lambda m: m.group(1).replace(" and ", "").replace("\x01", ""), out)
    out = out.replace("\x01", "")
    out = re.sub(r"^\.?//", "", out).replace("//", " ").replace("[@", "[")
    return re.sub(r"(^| )\*(?=[.\[])", r"\1", out)


def _lancers_markers() -> list[Marker]:
    L = lancers
    m: list[Marker] = []

    def add(key, page, kind, what, source, level, assumed, test):
        m.append(Marker(f"lancers.{page}.{key}", page, kind, what, source, level, assumed, test))

    # the working list
    def cards(p):
        return p.xpath(L.LIST_CARDS)

    add("cards", "contract_list", "selector", css(L.LIST_CARDS), "lancers.LIST_CARDS", "some", False,
        lambda p: bool(cards(p)))
    add("job_link", "contract_list", "selector", css(L.JOB_LINK), "lancers.JOB_LINK", "every", False,
        lambda p: all(p.xpath(L.JOB_LINK, c) for c in cards(p)) if cards(p) else None)
    add("status_chips", "contract_list", "selector", css(L.CARD_STATUSES) + " (2+)", "lancers.CARD_STATUSES",
        "every", False, lambda p: all(len(p.xpath(L.CARD_STATUSES, c)) >= 2 for c in cards(p)) if cards(p) else None)

    def chip(p, c):
        chips = p.xpath(L.CARD_STATUSES, c)
        return text_of(chips[1]) if len(chips) > 1 else None

    add("status_known", "contract_list", "text", "2番目のステータス ∈ " + "/".join(L.LIST_STATUSES),
        "lancers.LIST_STATUSES", "some", False,
        lambda p: any(chip(p, c) in L.LIST_STATUSES for c in cards(p)) if cards(p) else None)
    for text in L.LIST_STATUSES:
        add(f"status:{text}", "contract_list", "text", text, "lancers.LIST_STATUSES", "state", text != "進行中",
            (lambda t: lambda p: any(chip(p, c) == t for c in cards(p)) if cards(p) else None)(text))
    add("pager", "contract_list", "selector", css(L.PAGER_LINKS), "lancers.PAGER_LINKS", "state", False,
        lambda p: bool(p.xpath(L.PAGER_LINKS)))
    add("next", "contract_list", "text", L.NEXT_TEXT, "lancers.NEXT_TEXT", "state", True,
        lambda p: any(text_of(a) == L.NEXT_TEXT for a in p.xpath(L.PAGER_LINKS)))
    add("empty", "contract_list", "text", L.LIST_EMPTY_TEXT, "lancers.LIST_EMPTY_TEXT", "state", True,
        lambda p: L.LIST_EMPTY_TEXT in visible_text(p.doc) if p.doc is not None else False)

    # the boards list API
    def boards_ok(p):
        r = p.responses[0] if p.responses else None
        if r is None or r.status != 200:
            return False
        try:
            L.read_boards_page(r.body)
            return True
        except ValueError:
            return False

    add("array", "boards_list", "json", L.boards_list_url().replace(L.BASE_URL, "") + " → [...]",
        "lancers.boards_list_url / read_boards_page", "every", False, boards_ok)
    for k in L.BOARDS_LIST_KEYS:
        add(f"key:{k}", "boards_list", "json_key", f"[].{k}", "lancers.BOARDS_LIST_KEYS", "every", False,
            (lambda k: lambda p: _all_items(p.first_json(), k))(k))

    # a board: detail and messages
    def detail(p):
        return p.json(L.board_detail_url(_board_id(p))) if _board_id(p) else None

    def messages(p):
        if p.is_inquiry or not _board_id(p):
            return None
        return p.json(L.messages_url(_board_id(p)))

    add("detail", "thread", "json", "/v1/message_api/boards/<id> → {...}", "lancers.board_detail_url", "every", False,
        lambda p: isinstance(detail(p), dict) if _board_id(p) else False)
    for k in L.BOARD_DETAIL_KEYS:
        level = "every" if k == "with" else "some"
        add(f"detail_key:{k}", "thread", "json_key", k, "lancers.BOARD_DETAIL_KEYS", level, False,
            (lambda k: lambda p: _has_path(detail(p), k) if isinstance(detail(p), dict) else None)(k))
    add("messages", "thread", "json", "/v1/message_api/boards/<id>/messages?limit=20 → [...]",
        "lancers.messages_url", "every", False,
        lambda p: None if p.is_inquiry else isinstance(messages(p), list))
    for k in L.MESSAGE_KEYS:
        add(f"message_key:{k}", "thread", "json_key", f"[].{k}", "lancers.MESSAGE_KEYS", "every", False,
            (lambda k: lambda p: _all_items(messages(p), k) if messages(p) else None)(k))

    def deal(p):
        found = p.xpath(L.DEAL_PANEL) if not p.is_inquiry else []
        return found[0] if found else None

    def on_board(test):
        return lambda p: None if p.is_inquiry or p.doc is None else test(p)

    add("deal_panel", "thread", "selector", css(L.DEAL_PANEL), "lancers.DEAL_PANEL", "some", True,
        on_board(lambda p: deal(p) is not None))
    add("work_title", "thread", "selector", css(L.WORK_TITLE), "lancers.WORK_TITLE", "some", True,
        on_board(lambda p: deal(p) is not None and bool(p.xpath(L.WORK_TITLE, deal(p)))))
    for fact, label in L.DEAL_LABELS.items():
        add(f"label:{label}", "thread", "text", f"dt「{label}」+ dd", "lancers.DEAL_LABELS", "some", True,
            (lambda label: on_board(lambda p: _dd(deal(p), label) is not None))(label))
    add("pay_known", "thread", "text", "報酬形式 ∈ " + "/".join(L.PAY_TYPES), "lancers.PAY_TYPES", "some", True,
        on_board(lambda p: _dd(deal(p), L.DEAL_LABELS["pay_type"]) in L.PAY_TYPES))
    add("status_known", "thread", "text", "状態 ∈ " + "/".join(L.STATUS_TEXTS), "lancers.STATUS_TEXTS", "some", True,
        on_board(lambda p: _dd(deal(p), L.DEAL_LABELS["status"]) in L.STATUS_TEXTS))
    for text in L.STATUS_TEXTS:
        add(f"status:{text}", "thread", "text", f"状態「{text}」", "lancers.STATUS_TEXTS", "state", True,
            (lambda t: on_board(lambda p: _dd(deal(p), L.DEAL_LABELS["status"]) == t))(text))
    add("button", "thread", "selector", f"{css(L.CONTACT_REQUEST_BUTTON)}「{L.CONTACT_REQUEST_BUTTON_TEXT}」",
        "lancers.CONTACT_REQUEST_BUTTON / CONTACT_REQUEST_BUTTON_TEXT", "state", True,
        on_board(lambda p: deal(p) is not None and any(
            text_of(e) == L.CONTACT_REQUEST_BUTTON_TEXT for e in p.xpath(L.CONTACT_REQUEST_BUTTON, deal(p)))))
    add("request_status", "thread", "selector",
        f"{css(L.CONTACT_REQUEST_STATUS)}「{L.CONTACT_REQUEST_STATUS_TEXT}…」",
        "lancers.CONTACT_REQUEST_STATUS / CONTACT_REQUEST_STATUS_TEXT", "state", True,
        on_board(lambda p: deal(p) is not None and any(
            L.CONTACT_REQUEST_STATUS_TEXT in text_of(e) for e in p.xpath(L.CONTACT_REQUEST_STATUS, deal(p)))))
    add("deadline", "thread", "text", "連絡期限：YYYY年M月D日 H:MM", "lancers.DEADLINE_RE", "state", True,
        on_board(lambda p: deal(p) is not None and any(
            L.DEADLINE_RE.search(text_of(e)) for e in p.xpath(L.CONTACT_REQUEST_STATUS, deal(p)))))
    return m


def _board_id(p: Page) -> str | None:
    tid = getattr(p.reading, "thread_id", None)
    if tid is None:
        try:
            tid = identify(p.url).thread_id
        except UnsupportedURL:
            return None
    return tid


def _json_or_none(response) -> object:
    if response is None or response.status != 200:
        return None
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        return None


def _all_items(items, dotted: str) -> bool | None:
    if not isinstance(items, list):
        return False
    if not items:
        return None
    return all(_has_path(item, dotted) for item in items)


def _dd(deal, label: str) -> str | None:
    """The deal panel's value for a label, as the reader takes it (``lancers._deal_value``)."""
    return lancers._deal_value(deal, label) if deal is not None else None


def _crowdworks_markers() -> list[Marker]:
    C = crowdworks
    m: list[Marker] = []
    stems = C.MESSAGE_STEMS

    def add(key, page, kind, what, source, level, assumed, test):
        m.append(Marker(f"crowdworks.{page}.{key}", page, kind, what, source, level, assumed, test))

    # the active contracts list
    def sections(p, name=None):
        names = [name] if name else [s for s, _ in C.SECTIONS]
        return [s for n in names for s in p.xpath(f"//div[{has_class(n)} and {has_class('section')}]")]

    def rows(p):
        return [r for s in sections(p) for r in s.iter("tr") if r.findall("td")]

    add("sections", "contract_list", "selector", " / ".join(f"div.{s}.section" for s, _ in C.SECTIONS),
        "crowdworks.SECTIONS", "every", False, lambda p: bool(sections(p)))
    for name, _ in C.SECTIONS:
        add(f"section:{name}", "contract_list", "selector", f"div.{name}.section", "crowdworks.SECTIONS", "state",
            False, (lambda n: lambda p: bool(sections(p, n)))(name))
    add("row_link", "contract_list", "selector", "tr a[href=/contracts/<id>] (1)", "crowdworks.CONTRACT_PATH",
        "every", False, lambda p: all(len({a.get("href") for a in r.xpath(".//a[starts-with(@href, '/contracts/')]")
                                          if C.CONTRACT_PATH.match(a.get("href").rstrip("/"))}) == 1
                                      for r in rows(p)) if rows(p) else None)

    def row_status(r):
        return next((t for cell in r.findall("td") if (t := text_of(cell)) in C.LIST_STATUSES), None)

    add("status_known", "contract_list", "text", "td ∈ " + "/".join(C.LIST_STATUSES), "crowdworks.LIST_STATUSES",
        "some", False, lambda p: any(row_status(r) for r in rows(p)) if rows(p) else None)
    for text in C.LIST_STATUSES:
        add(f"status:{text}", "contract_list", "text", text, "crowdworks.LIST_STATUSES", "state", False,
            (lambda t: lambda p: any(row_status(r) == t for r in rows(p)))(text))
    add("nodata", "contract_list", "selector", css(C.NO_DATA), "crowdworks.NO_DATA", "state", False,
        lambda p: bool(p.xpath(C.NO_DATA)))

    # a contract page
    def thread(p):
        found = p.xpath(f"//*[@id='{C.THREAD_ID}']")
        return found[0] if found else None

    def data(p):
        t = thread(p)
        try:
            value = json.loads(t.get("data")) if t is not None and t.get("data") is not None else None
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    add("thread", "thread", "selector", f"#{C.THREAD_ID}", "crowdworks.THREAD_ID", "every", False,
        lambda p: thread(p) is not None)
    add("thread_data", "thread", "selector", f"#{C.THREAD_ID}[data] (JSON)", "crowdworks.THREAD_ID", "every", False,
        lambda p: data(p) is not None)
    for k in C.THREAD_DATA_KEYS:
        add(f"data_key:{k}", "thread", "json_key", f"data.{k}", "crowdworks.THREAD_DATA_KEYS", "every", False,
            (lambda k: lambda p: k in data(p) if data(p) is not None else False)(k))
    add("data_type", "thread", "json", f"data.messageableType = {C.THREAD_DATA_TYPE!r}", "crowdworks.THREAD_DATA_TYPE",
        "every", False, lambda p: (data(p) or {}).get("messageableType") == C.THREAD_DATA_TYPE)

    def mjson(p):
        d = data(p)
        tid = d.get("id") if d else None
        return p.json(C.messages_json_url(str(tid))) if tid is not None else None

    def mitems(p):
        value = mjson(p)
        items = value.get("messages") if isinstance(value, dict) else None
        return items if isinstance(items, list) else None

    add("messages_json", "thread", "json", '/message/threads/<id>/messages.json → {"messages": [...]}',
        "crowdworks.messages_json_url", "some", False, lambda p: mitems(p) is not None)
    for k in C.MESSAGES_JSON_KEYS:
        add(f"message_key:{k}", "thread", "json_key", f"messages[].{k}", "crowdworks.MESSAGES_JSON_KEYS", "every",
            False, (lambda k: lambda p: _all_items(mitems(p), k) if mitems(p) else None)(k))

    def items(p):
        t = thread(p)
        return [d for d in t.iter("div") if class_has_stem(d, stems["item"])] if t is not None else []

    def in_items(p, test):
        its = items(p)
        return any(test(el) for it in its for el in it.iter() if isinstance(el.tag, str)) if its else None

    add("item", "thread", "selector", f"div[class*=_{stems['item']}_]", "crowdworks.MESSAGE_STEMS", "some", False,
        lambda p: bool(items(p)))
    add("time", "thread", "selector", "time[datetime] (each item)", "crowdworks._page_messages", "every", False,
        lambda p: all(it.xpath(".//time[@datetime]") for it in items(p)) if items(p) else None)
    for role, tag in (("sender", "a"), ("body", "div"), ("sent", None)):
        stem = stems[role]
        add(f"stem:{stem}", "thread", "selector", f"{tag or ''}[class*=_{stem}_]", "crowdworks.MESSAGE_STEMS",
            "some", False, (lambda stem, tag: lambda p: in_items(
                p, lambda el: class_has_stem(el, stem) and (tag is None or el.tag == tag)))(stem, tag))
    add("collapsed", "thread", "text", f"[class*=_{stems['expand']}_] / {C.COLLAPSED_TEXT.pattern}",
        "crowdworks.COLLAPSED_TEXT", "state", False,
        lambda p: thread(p) is not None and (bool(p.xpath(f".//*[{has_stem(stems['expand'])}]", thread(p))) or any(
            C.COLLAPSED_TEXT.search(text_of(b)) for b in thread(p).iter("button"))))

    def table(p):
        found = p.xpath(C.FACTS_TABLE)
        return found[0] if found else None

    add("facts_table", "thread", "selector", css(C.FACTS_TABLE), "crowdworks.FACTS_TABLE", "some", False,
        lambda p: table(p) is not None)

    def row_with(p, label):
        t = table(p)
        if t is None:
            return None
        for r in t.iter("tr"):
            th, td = r.find("th"), r.find("td")
            if th is not None and td is not None and (text_of(th) == label or
                                                      label == C.FACT_LABELS["pay_type"][0]
                                                      and text_of(th).startswith(label)):
                return td
        return None

    for fact, (label, prefix) in C.FACT_LABELS.items():
        what = f"th「{label}」" + (f" + a[href^={prefix}]" if prefix else "")
        add(f"fact:{label}", "thread", "text", what, "crowdworks.FACT_LABELS", "some", False,
            (lambda label, prefix: lambda p: (td := row_with(p, label)) is not None and (
                prefix is None or bool(td.xpath(f".//a[starts-with(@href, '{prefix}')]"))))(label, prefix))
    add("pay_known", "thread", "text", "契約金額 ∋ " + "/".join(t for t, _ in C.PAY_TYPE_TEXTS),
        "crowdworks.PAY_TYPE_TEXTS", "some", False,
        lambda p: (td := row_with(p, C.FACT_LABELS["pay_type"][0])) is not None and any(
            t in text_of(td) for t, _ in C.PAY_TYPE_TEXTS))
    for text, kind in C.PAY_TYPE_TEXTS:
        add(f"pay:{text}", "thread", "text", text, "crowdworks.PAY_TYPE_TEXTS", "state", False,
            (lambda t: lambda p: (td := row_with(p, C.FACT_LABELS["pay_type"][0])) is not None and t in text_of(td))(
                text))

    def page_text(p):
        return visible_text(p.doc, skip_ids=(C.THREAD_ID,)) if p.doc is not None else ""

    add("status_known", "thread", "text", "状態の文（STATUS_SENTENCES のどれか）", "crowdworks.STATUS_SENTENCES",
        "some", False, lambda p: any(all(s in page_text(p) for s in ss) for ss, _ in C.STATUS_SENTENCES))
    for sentences, status in C.STATUS_SENTENCES:
        assumed = status in ("completed", "cancelled")
        add(f"status:{'+'.join(sentences)}", "thread", "text", "＋".join(f"「{s}」" for s in sentences),
            "crowdworks.STATUS_SENTENCES", "state", assumed,
            (lambda ss: lambda p: all(s in page_text(p) for s in ss))(sentences))
    add("requested", "thread", "text", f"「{C.REQUESTED_SENTENCE}」", "crowdworks.REQUESTED_SENTENCE", "state", True,
        lambda p: C.REQUESTED_SENTENCE in page_text(p))
    return m


MARKERS: dict[str, list[Marker]] = {"lancers": _lancers_markers(), "crowdworks": _crowdworks_markers()}


# --- time formats ---------------------------------------------------------------------------


@dataclass
class TimeSeen:
    where: str  # "lancers messages[].modified"
    pattern: str
    accepted: bool  # the reader's own parser takes it
    count: int = 1


def _accepts(parser, value) -> bool:
    try:
        parser(value)
        return True
    except (LayoutError, ValueError, TypeError, OverflowError):
        return False


def times_of(page: Page) -> list[tuple[str, str, bool]]:
    """(where, pattern, accepted) for each time value the page holds where a reader looks."""
    out = []
    if page.platform == "lancers" and page.kind == "thread" and not page.is_inquiry and _board_id(page):
        board = _board_id(page)
        for r in page.responses:
            if r.url.split("?")[0] != lancers.messages_url(board).split("?")[0] or r.status != 200:
                continue
            try:
                items = json.loads(r.body)
            except (ValueError, RecursionError):
                continue
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and "modified" in item:
                    value = item["modified"]
                    out.append(("messages[].modified", time_pattern(value), _accepts(lancers.message_time, value)))
        deal = page.xpath(lancers.DEAL_PANEL)
        for box in page.xpath(lancers.CONTACT_REQUEST_STATUS, deal[0]) if deal else []:
            text = text_of(box)
            if lancers.CONTACT_REQUEST_STATUS_TEXT in text:
                m = re.search(r"連絡期限[：:]?\s*(.*?)[）)]?$", text)
                value = m.group(1) if m else text
                out.append(("連絡期限", time_pattern(value), bool(lancers.DEADLINE_RE.search(text))))
    if page.platform == "lancers" and page.kind == "boards_list":
        for item in page.first_json() or []:
            if isinstance(item, dict) and "modified" in item:
                # passed back as the next page's parameter, never parsed: any format is taken
                out.append(("boards[].modified", time_pattern(item["modified"]), True))
    if page.platform == "crowdworks" and page.kind == "thread":
        threads = page.xpath(f"//*[@id='{crowdworks.THREAD_ID}']")
        data = None
        if threads and threads[0].get("data"):
            try:
                data = json.loads(threads[0].get("data"))
            except (ValueError, RecursionError):
                data = None
        if isinstance(data, dict) and data.get("id") is not None:
            value = page.json(crowdworks.messages_json_url(str(data["id"])))
            for item in value.get("messages", []) if isinstance(value, dict) else []:
                if isinstance(item, dict) and "senddate" in item:
                    out.append(("messages.json senddate", time_pattern(item["senddate"]),
                                _accepts(crowdworks.japanese_time, item["senddate"])))
        for t in threads[0].xpath(".//time[@datetime]") if threads else []:
            out.append(("time[datetime]", time_pattern(t.get("datetime")),
                        _accepts(crowdworks.japanese_time, t.get("datetime"))))
    return out


# --- JSON key sets ----------------------------------------------------------------------------


def _type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "array"
    return "object"


def key_types(value, prefix: str = "", out: dict | None = None) -> dict[str, set[str]]:
    """Every key path of a JSON value with the types seen there (``[]`` for array items)."""
    out = {} if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            name = "#" if str(k).isdigit() else str(k)
            path = f"{prefix}.{name}" if prefix else name
            out.setdefault(path, set()).add(_type(v))
            key_types(v, path, out)
    elif isinstance(value, list):
        for v in value:
            path = f"{prefix}[]"
            out.setdefault(path, set()).add(_type(v))
            key_types(v, path, out)
    return out


def endpoint_of(platform: str, url: str) -> str:
    """A response's endpoint with its ids as ``<id>``: the name its keys are reported under."""
    parts = urlsplit(url)
    path = re.sub(r"/\d+", "/<id>", parts.path)
    if platform == "lancers" and path.endswith("/messages"):
        return path + ("?…direction=prev" if "direction=prev" in parts.query else "?limit=20")
    return path


def json_keys(page: Page) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for r in page.responses:
        if r.status != 200:
            continue
        try:
            value = json.loads(r.body)
        except (ValueError, RecursionError):
            continue
        key_types(value, "", out.setdefault(endpoint_of(page.platform, r.url), {}))
    if page.platform == "crowdworks" and page.kind == "thread":
        for t in page.xpath(f"//*[@id='{crowdworks.THREAD_ID}'][@data]"):
            try:
                key_types(json.loads(t.get("data")), "", out.setdefault(f"#{crowdworks.THREAD_ID}[data]", {}))
            except (ValueError, RecursionError):
                pass
    return out


# --- what the reader concluded, and where it disagrees with the page --------------------------


def conclusion(reading, redactor) -> dict:
    """What the reader concluded, without a value of the page (ids hashed, reasons redacted)."""
    if reading is None:
        return {"page": None}
    if isinstance(reading, Unreadable):
        return {"page": reading.page, "unreadable": True, "reason": redactor.reason(reading.reason)}
    if isinstance(reading, Inquiry):
        return {"page": "inquiry", "thread_id": redactor.ident(reading.thread_id)}
    if isinstance(reading, ContractList):
        statuses: dict[str, int] = {}
        for c in reading.contracts:
            statuses[str(c.status)] = statuses.get(str(c.status), 0) + 1
        return {"page": "contract_list", "contracts": len(reading.contracts), "statuses": statuses,
                "next_page": reading.next_url is not None if hasattr(reading, "next_url") else None}
    if isinstance(reading, Thread):
        counts = {"client": 0, "me": 0, "system": 0}
        for msg in reading.messages:
            counts[msg.sender] = counts.get(msg.sender, 0) + 1
        return {
            "page": "thread", "contract_id": redactor.ident(reading.contract_id),
            "thread_id": redactor.ident(reading.thread_id), "source": reading.source,
            "title": "shown" if reading.title else None, "client": "shown" if reading.client else None,
            "pay_type": reading.pay_type, "status": reading.status, "escalation": reading.escalation,
            "escalation_deadline": "shown" if reading.escalation_deadline else None,
            "messages": counts, "history_collapsed": reading.history_collapsed,
        }
    return {"page": getattr(reading, "page", None)}


def disagreements(page: Page, redactor) -> list[str]:
    """Where the reading and the page (or the list) say different things; Japanese, no values."""
    out = []
    reading = page.reading
    if isinstance(reading, Thread):
        if page.listed_status and reading.status and page.listed_status != reading.status:
            out.append(f"一覧の状態 ({page.listed_status}) とページの状態 ({reading.status}) が違います")
        if page.listed_status and reading.status is None:
            out.append(f"一覧の状態は {page.listed_status} ですが、ページから状態を読み取れませんでした")
        if page.listed_id and reading.contract_id != page.listed_id:
            out.append(f"一覧の仕事 ({redactor.ident(page.listed_id)}) とページの仕事 "
                       f"({redactor.ident(reading.contract_id)}) が違います")
        if page.platform == "crowdworks" and page.doc is not None:
            threads = page.xpath(f"//*[@id='{crowdworks.THREAD_ID}']")
            if threads:
                try:
                    shown, collapsed = crowdworks._page_messages(threads[0])
                except LayoutError as err:
                    out.append(f"ページのメッセージ一覧を読めません: {redactor.reason(str(err))}")
                    shown, collapsed = [], False
                if reading.source == "api":
                    api_ids = {m.id for m in reading.messages}
                    page_ids = {m.id for m in shown if m.id and m.sender != "system"}
                    missing_on_page = len(api_ids - page_ids)
                    missing_in_json = len(page_ids - api_ids)
                    if missing_on_page and not collapsed:
                        out.append(f"messages.json に、ページに表示されていないメッセージが {missing_on_page} 件あります"
                                   "（折りたたみ表示なし）")
                    if missing_in_json:
                        out.append(f"ページに、messages.json にないメッセージが {missing_in_json} 件あります")
                    last_api = max((m.sent_at for m in reading.messages), default=None)
                    last_page = max((m.sent_at for m in shown if m.sender != "system"), default=None)
                    if last_api and last_page and last_page > last_api:
                        out.append("ページの最新のメッセージが messages.json の最新より新しい時刻です")
        if page.platform == "lancers" and reading.escalation in ("none", None) and page.doc is not None:
            deal = page.xpath(lancers.DEAL_PANEL)
            if deal and lancers.CONTACT_REQUEST_BUTTON_TEXT in visible_text(page.doc) and not any(
                    text_of(e) == lancers.CONTACT_REQUEST_BUTTON_TEXT for e in page.xpath(lancers.CONTACT_REQUEST_BUTTON,
                                                                                       deal[0])):
                where = [_where(e, redactor) for e in page.doc.iter() if isinstance(e.tag, str)
                         and text_of(e) == lancers.CONTACT_REQUEST_BUTTON_TEXT and e.tag not in ("script", "a")]
                if where:
                    out.append(f"「{lancers.CONTACT_REQUEST_BUTTON_TEXT}」がボタンのクラスの外にあります: "
                               + ", ".join(where[:3]))
    return out


def _where(el, redactor) -> str:
    """An element's place as a chain of ``tag.class`` (ids hashed)."""
    chain = []
    while el is not None and isinstance(el.tag, str) and el.tag not in ("html", "body"):
        classes = "".join("." + redactor._token(c) for c in (el.get("class") or "").split())
        chain.append(el.tag + classes)
        el = el.getparent()
    return " > ".join(reversed(chain[:5]))


def hints(marker: Marker, pages: list[Page], redactor) -> list[str]:
    """For a missing text marker: where its text stands instead (element chains)."""
    if marker.kind not in ("text", "selector"):
        return []
    texts = re.findall(r"「([^」]+)」", marker.what)
    if not texts and re.search(r"[∈∋]", marker.what):  # one of several words: any of them
        texts = re.split(r"[∈∋]\s*", marker.what, maxsplit=1)[1].split("/")
    elif not texts and marker.kind == "text":
        texts = [marker.what]
    out = []
    for page in pages:
        if page.doc is None:
            continue
        for el in page.doc.iter():
            if isinstance(el.tag, str) and el.tag not in ("script", "style", "html", "body") \
                    and any(text_of(el) == t for t in texts):
                where = _where(el, redactor)
                if where not in out:
                    out.append(where)
    return out[:3]


# --- checking pages ---------------------------------------------------------------------------


@dataclass
class MarkerResult:
    marker: Marker
    found: int = 0  # pages showing it
    checked: int = 0  # pages it applies to
    hints: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """found | missing | not_seen (a state marker no page showed) | unchecked (no page it applies to)."""
        m = self.marker
        if not self.checked:
            return "unchecked"
        if m.level == "every":
            return "found" if self.found == self.checked else "missing"
        if self.found:
            return "found"
        return "missing" if m.level == "some" else "not_seen"

    def to_json(self) -> dict:
        m = self.marker
        return {"marker": m.key, "page": m.page, "kind": m.kind, "what": m.what, "source": m.source,
                "level": m.level, "assumed": m.assumed, "status": self.status, "found_on": self.found,
                "pages": self.checked, "hints": self.hints}


def check_pages(platform: str, pages: list[Page], redactor) -> dict:
    """The checklist of one platform over its captured pages."""
    results = []
    for marker in MARKERS[platform]:
        result = MarkerResult(marker)
        for page in pages:
            if page.kind != marker.page:
                continue
            try:
                found = marker.test(page)
            except (LayoutError, ValueError, TypeError, KeyError, AttributeError):
                found = False
            if found is None:
                continue
            result.checked += 1
            result.found += bool(found)
        if result.status == "missing":
            result.hints = hints(marker, [p for p in pages if p.kind == marker.page], redactor)
        results.append(result)
    seen: dict[tuple[str, str, bool], int] = {}
    keys: dict[str, dict[str, set[str]]] = {}
    readings, disagree = [], []
    numbers: dict[str, int] = {}
    for page in pages:
        numbers[page.kind] = numbers.get(page.kind, 0) + 1
        for where, pattern, accepted in times_of(page):
            seen[(where, pattern, accepted)] = seen.get((where, pattern, accepted), 0) + 1
        for endpoint, paths in json_keys(page).items():
            target = keys.setdefault(endpoint, {})
            for path, types in paths.items():
                target.setdefault(path, set()).update(types)
        label = f"{page.kind} {numbers[page.kind]}"
        if page.kind == "boards_list":
            boards = page.first_json()
            read = {"page": "boards_list", "boards": len(boards) if isinstance(boards, list) else None}
        else:
            read = conclusion(page.reading, redactor)
        readings.append({"page": label, "read_as": read.pop("page", None), **read, "url": redactor.url(page.url)})
        disagree.extend(f"{label}: {d}" for d in disagreements(page, redactor))
    times = [{"where": w, "pattern": p, "accepted": a, "count": c} for (w, p, a), c in sorted(seen.items())]
    return {
        "platform": platform,
        "pages": {kind: sum(1 for p in pages if p.kind == kind) for kind in PAGE_KINDS},
        "checklist": [r.to_json() for r in results],
        "times": times,
        "json_keys": {e: {k: sorted(v) for k, v in sorted(paths.items())} for e, paths in sorted(keys.items())},
        "readings": readings,
        "disagreements": disagree,
    }


def problems(check: dict) -> list[str]:
    """What makes the doctor's exit code non-zero: missing markers, time formats
    the readers do not take, unreadable pages."""
    out = [f"{c['marker']} ({c['what']})" for c in check["checklist"] if c["status"] == "missing"]
    out += [f"時刻の書式 {t['where']}: {t['pattern']}" for t in check["times"] if not t["accepted"]]
    out += [f"{r['page']}: 読み取り不可" for r in check["readings"] if r.get("unreadable")]
    return out
