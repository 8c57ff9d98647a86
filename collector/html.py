"""HTML helpers the platform readers share: parsing, visible text, class tests.

Plain lxml elements (no lxml.html element classes): the readers only need
XPath and text, and this keeps reading a large page close to bare parsing.
"""

from __future__ import annotations

import html as htmllib
import re

from lxml import etree

from collector.reading import NotAPage

_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)

BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "dd", "dt", "section", "h1", "h2", "h3", "h4", "tr",
                        "table", "blockquote", "pre"})
INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript"})
LINE_BREAK = "\x00"  # never in parsed text: parse_html refuses NUL


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


def has_class(name: str) -> str:
    """XPath test: the element has the class token ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def has_stem(name: str) -> str:
    """XPath test: the element has a CSS-module class ``_<name>_<hash>…``, whatever the hash."""
    return f"contains(concat(' ', normalize-space(@class)), ' _{name}_')"


def class_has_stem(el, name: str) -> bool:
    classes = el.get("class")
    if not classes or f"_{name}_" not in classes:
        return False
    return any(c.startswith(f"_{name}_") for c in classes.split())


def text_of(element) -> str:
    """Visible text of an element, as a browser lays it out: ``<br>`` and block
    ends are line breaks, other whitespace (source newlines too) is one space."""
    if element is None:
        return ""
    pieces: list[str] = []  # runs of text; LINE_BREAK alone marks a line break
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
        if tag not in INVISIBLE_TAGS:
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


def _lines(pieces: list[str]) -> str:
    lines = [" ".join(line.split()) for line in "".join(pieces).split(LINE_BREAK)]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def visible_text(root, skip_ids: tuple[str, ...] = ()) -> str:
    """The text a user sees on the page: without ``script``, ``style``,
    ``template``, ``noscript``, elements marked ``hidden`` and the elements
    whose id is in ``skip_ids``.  Whitespace folded to single spaces."""
    pieces: list[str] = []

    def walk(el):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag and tag not in INVISIBLE_TAGS and el.get("hidden") is None and el.get("id") not in skip_ids:
            if el.text:
                pieces.append(el.text)
            for child in el:
                walk(child)
        if el.tail:
            pieces.append(el.tail)

    body = root.find("body")
    walk(body if body is not None else root)
    return " ".join("".join(pieces).split())


_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def html_fragment_text(fragment: str) -> str:
    """Plain text of a short HTML fragment from a platform's JSON (``<br>`` to
    line breaks, other tags dropped, entities decoded)."""
    return htmllib.unescape(_TAG.sub("", _BR.sub("\n", fragment))).strip()


def login_form_shown(html: str | None, *, login_paths: tuple[str, ...], page_marker: str) -> bool:
    """A login form shown in place of the page: a page without ``page_marker``
    that asks for a password."""
    if not html or 'type="password"' not in html and "type='password'" not in html:
        return False
    if page_marker in html:
        return False
    actions = "|".join(re.escape(path) for path in login_paths)
    return "ログイン" in html or bool(re.search(rf"<form[^>]+action=[\"'][^\"']*(?:{actions})", html))
