"""Redacted structure reports (collector/redact.py): for every page of the
corpus, the report holds none of the page's client names, titles, message
bodies or ids, yet every class name and JSON key the readers use."""

from __future__ import annotations

import json
import re

import pytest

from collector import crowdworks, lancers, markers
from collector.html import parse_html, text_of
from collector.redact import Redactor, shape, time_pattern
from corpus import SITE_RESPONSES, pages

KEY = b"test key: never the user's"
TEXT_KEYS = {"title", "description", "body", "display_name", "name"}
ID_KEYS = re.compile(r"(?:^|_)id$|Id$", re.IGNORECASE)


def private_values(page) -> tuple[set[str], set[str]]:
    """(texts, ids) of one corpus capture: from its expected JSON, its responses and its page."""
    texts, ids = set(), set()
    expected = page.expected
    for name in ("title", "client"):
        if expected.get(name):
            texts.add(expected[name])
    for name in ("contract_id", "thread_id"):
        if expected.get(name):
            ids.add(str(expected[name]))
    for c in expected.get("contracts", []):
        ids.add(str(c["contract_id"]))

    def walk(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key in TEXT_KEYS and isinstance(value, str) and value.strip():
            texts.add(value)
            texts.update(line.strip() for line in re.split(r"\r?\n|<br\s*/?>", value) if len(line.strip()) >= 8)
        elif key and ID_KEYS.search(key) and not isinstance(value, bool) and str(value).isdigit():
            ids.add(str(value))

    for r in page.responses_list():
        try:
            walk(json.loads(r["body"]))
        except ValueError:
            pass
    doc = parse_html(page.html.read_bytes())
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        classes = el.get("class") or ""
        if any(s in classes for s in ("_messageBody_", "_senderName_", "p-message-board__work-title")) or (
                el.tag == "a" and re.match(r"^/(work/detail|public/jobs|public/employers|contracts)/",
                                           el.get("href") or "")):
            value = text_of(el)
            if value:
                texts.add(value)
                texts.update(line for line in value.split("\n") if len(line) >= 8)
        if el.tag in ("dd", "td"):  # the deal panel's and the tables' values (client, amount, dates ...)
            if text_of(el) and text_of(el) not in markers.known_texts():
                texts.add(text_of(el))
        if el.tag == "script" and (el.get("type") or "") == "application/json" and el.text:
            walk(json.loads(el.text))  # the page's config: the user's name and ids
        for attr in ("href", "id", "data"):
            ids.update(re.findall(r"\d{6,}", el.get(attr) or ""))
    return {t for t in texts if len(t.strip()) >= 2}, ids


def reader_classes(platform: str) -> set[str]:
    """Every class name (and CSS-module stem, as ``_stem_``) the platform's reader uses."""
    found = set()
    for m in markers.MARKERS[platform]:
        if m.kind == "selector":
            found.update(re.findall(r"\.([A-Za-z_][\w-]*)", m.what))
    if platform == "crowdworks":
        found.update(f"_{s}_" for s in crowdworks.MESSAGE_STEMS.values())
    return found


def json_keys(value, out=None) -> set[str]:
    out = set() if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            json_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            json_keys(v, out)
    return out


def page_classes(html: bytes) -> set[str]:
    return {c for el in parse_html(html).iter() if isinstance(el.tag, str) for c in (el.get("class") or "").split()}


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_corpus_page_redacted(page):
    redactor = markers.redactor(KEY)
    report = redactor.capture(page.url, page.html.read_bytes(), page.responses_list())
    text = json.dumps(report, ensure_ascii=False)
    texts, ids = private_values(page)
    assert texts and ids
    for value in texts:
        assert value not in text, f"{page.name}: text {value[:30]!r} in the report"
    for value in ids:
        assert not re.search(rf"(?<![0-9A-Za-z]){value}(?![0-9])", text), f"{page.name}: id {value} in the report"
    # ... yet every class name the reader uses that the page has, and every JSON key.
    platform = page.html.parent.name
    classes = page_classes(page.html.read_bytes())
    for name in reader_classes(platform):
        if name.startswith("_"):
            if any(c.startswith(name) for c in classes):
                assert name in text, f"{page.name}: stem {name} lost"
        elif name in classes:
            assert re.search(rf"\.{re.escape(name)}(?![\w-])", text), f"{page.name}: class {name} lost"
    for r in page.responses_list():
        try:
            keys = json_keys(json.loads(r["body"]))
        except ValueError:
            continue
        for key in keys:
            assert f'"{key}"' in text, f"{page.name}: JSON key {key} lost"
    # The hashes are stable: the same id hashes the same in the URL and the JSON.
    if page.expected.get("thread_id"):
        assert redactor.ident(page.expected["thread_id"]) in text


def test_site_responses_redacted():
    redactor = markers.redactor(KEY)
    responses = json.loads(SITE_RESPONSES.read_text(encoding="utf-8"))
    text = json.dumps([redactor.response(r) for r in responses], ensure_ascii=False)
    for r in responses:
        data = json.loads(r["body"])
        for item in data if isinstance(data, list) else [data]:
            assert item["title"] not in text
            assert not re.search(rf"(?<![0-9A-Za-z]){item['id']}(?![0-9])", text)
    for key in ("id", "title", "modified", "with", "job", "proposal", "is_required_reply", "unread_count"):
        assert f'"{key}"' in text


def test_every_reader_class_is_covered_by_the_corpus():
    """The class names the readers use stand in some corpus page (the test above checks them)."""
    all_classes = set()
    for page in pages():
        all_classes |= page_classes(page.html.read_bytes())
    for platform in markers.PLATFORMS:
        for name in reader_classes(platform):
            assert any(c == name or c.startswith(name) for c in all_classes), name


@pytest.mark.parametrize("value, pattern", [
    ("2026-11-10T15:26:00+09:00", "ISO+09:00"),
    ("2026-11-13T22:45:00Z", "ISOZ"),
    ("2026-11-13T22:45:00.123+09:00", "ISO.fff+09:00"),
    ("2026-11-10 15:26:00", "YYYY-MM-DD HH:MM:SS"),
    ("2026/11/10 15:26", "YYYY/MM/DD HH:MM"),
    ("2026年09月10日 11:22", "YYYY年MM月DD日 HH:MM"),
    ("2026年9月1日 9:05", "YYYY年M月D日 H:MM"),
    (1763000000, "unix"),
    (1763000000000, "unix_ms"),
    ("1763000000", "digits10 (string)"),
])
def test_time_patterns(value, pattern):
    assert time_pattern(value) == pattern


def test_shapes():
    assert shape("山田太郎") == "<漢字4>"
    assert shape("株式会社サンプル 100,000円") == "<漢字4><カタカナ4> <digits3>,<digits3><漢字1>"
    assert shape("taro@example.com") == "<latin4>@<latin7>.<latin3>"
    assert shape("a1B2c3D4e5F6g7H8i9J0") == "<token20>"
    assert "2026" not in shape("11月10日のご連絡（2026年11月10日 15:26）")
    r = markers.redactor(KEY)
    assert r.text("進行中") == "進行中"  # the platform's own word
    assert r.text("進行中", keep_known=False) == "<漢字3>"
    assert Redactor(KEY).text("進行中") == "<漢字3>"  # a bare Redactor knows no platform word
    assert r.ident("4862017") == r.ident(4862017) != Redactor(b"other").ident("4862017")
    assert r.url("https://www.lancers.jp/mypage/message?boardId=9058842") == (
        f"https://www.lancers.jp/mypage/message?boardId={r.ident('9058842')}")
    assert r.url("https://www.lancers.jp/v1/message_api/boards/9058842/messages?limit=20&message_id=60572662"
                  "&direction=prev") == (f"https://www.lancers.jp/v1/message_api/boards/{r.ident('9058842')}/messages"
                                         f"?limit=20&message_id={r.ident('60572662')}&direction=prev")
    reason = r.reason("メッセージの日時 (modified) の書式が不明です: '2026/11/10 15:26'")
    assert reason == "メッセージの日時 (modified) の書式が不明です: '<YYYY/MM/DD HH:MM>'"
    assert "9066731" not in r.reason("ボードの詳細 API (/v1/message_api/boards/9066731) の応答が 403 でした")


def test_marker_literals_stand_in_the_readers():
    """The literals at the end of lancers.py / crowdworks.py are the ones the code above them reads."""
    for module, names in ((lancers, ("DEAL_LABELS", "BOARD_DETAIL_KEYS", "MESSAGE_KEYS", "BOARDS_LIST_KEYS")),
                          (crowdworks, ("THREAD_DATA_KEYS", "THREAD_DATA_TYPE", "MESSAGES_JSON_KEYS",
                                        "MESSAGE_STEMS", "FACT_LABELS"))):
        source = open(module.__file__, encoding="utf-8").read()
        code = source[:source.index("# --- what the code above relies on")]
        for name in names:
            value = getattr(module, name)
            items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else [value]
            for item in items:
                for literal in item if isinstance(item, tuple) else [item]:
                    if literal is None:
                        continue
                    for part in str(literal).split("."):
                        assert f'"{part}"' in code or f"'{part}'" in code or f"_{part}_" in code or (
                            f'"{part}' in code), f"{module.__name__}.{name}: {part!r} is not read by the code"


def test_values_in_attributes_and_keys_are_redacted():
    r = markers.redactor(KEY)
    html = ('<html><body><label for="user-48620177">x</label>'
            '<div id="message-60572662" class="item user-99887766" data-user="taro@example.com" '
            'title="山田 太郎" aria-label="山田さんのメッセージ">'
            '<a href="/profile/taro_yamada?ref=mail&amp;uid=1862044#top">taro</a>'
            '<script type="application/json">{"taro@example.com": {"name": "山田"}, "1862044": 1}</script>'
            '<input type="hidden" name="authenticity_token" value="Zx9vQ2kLmN8pR4sT6uV1wX3yA5bC7dE=">'
            '</div></body></html>')
    text = "\n".join(r.skeleton(html))
    for value in ("48620177", "60572662", "99887766", "taro", "example", "山田", "太郎", "1862044",
                  "Zx9vQ2kLmN8pR4sT6uV1wX3yA5bC7dE"):
        assert value not in text, value
    assert "div#message-" + r.ident("60572662") in text and ".item.user-" in text
    assert "label [for=user-" + r.ident("48620177") + "]" in text
