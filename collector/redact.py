"""Redacted structure reports: what a page is made of, without what it says.

A user whose page reads as unreadable (or who runs ``ghostwatch doctor``) can
send the team a report of the page's *structure*: tags, class names,
attribute names, JSON keys and value types, time formats as patterns.  Nothing
a person wrote or is called stays in it:

- text becomes its shape: ``<漢字6><ひらがな2>``, ``<digits4>``, ``<latin5>``
  (punctuation kept), dates and times become patterns (``<YYYY年MM月DD日 HH:MM>``);
  the platform's own fixed words that the readers look for (「進行中」,
  「連絡催促申請」, the status sentences, …: ``collector.markers.known_texts``,
  given by ``collector.markers.redactor``) are kept, except inside message bodies;
- JSON values become types and patterns (``"int #3fa2c1d0"``, ``"str <漢字3>"``,
  ``"str YYYY-MM-DD HH:MM:SS"``), object keys stay;
- ids (digit runs in URLs, ``id`` attributes, class names, JSON id fields) become
  stable keyed hashes ``#3fa2c1d0``: the same id gives the same hash in one
  installation (so a job id in a URL and in JSON still match up), and the key
  (``redact.key`` in the data directory) never leaves the machine, so the
  hashes cannot be reversed by trying every id;
- URLs keep their host, the path words the readers know and the query's
  parameter names; anything else is shaped or hashed.

    from collector.markers import redactor
    r = redactor(key)                 # a Redactor keeping the readers' own words
    r.capture(url, html, responses)   # {"url", "page": [skeleton lines], "responses": [...]}
    r.text("山田 太郎")                 # '<漢字2> <漢字2>'
    time_pattern("2026-11-10T15:26:00+09:00")   # 'ISO+09:00'

This module knows no platform (``collector.markers`` gives it the readers'
words) and imports nothing of the server: the data directory (and the key's
file) is the server's business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import parse_qsl, urlsplit

from collector.html import html_fragment_text, parse_html

# --- time formats --------------------------------------------------------------

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
# A date or time inside a longer text (shaped as its pattern).
DATE_IN_TEXT = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*(?:[T ]|\([^)]{1,3}\)|（[^）]{1,3}）)?\s*"
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?"
    r"|\d{1,2}月\d{1,2}日(?:\s*\d{1,2}:\d{2})?"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"
)


def time_pattern(value) -> str:
    """The format of a time value, never the value: ``ISO+09:00``, ``ISOZ``,
    ``ISO.fff+09:00``, ``YYYY-MM-DD HH:MM:SS``, ``YYYY年MM月DD日 HH:MM``, ``unix``,
    ``unix_ms``; a value that is no time gets its type and shape."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        if 10**9 <= value < 10**10:
            return "unix"
        if 10**12 <= value < 10**13:
            return "unix_ms"
        return f"int digits{len(str(abs(value)))}"
    if isinstance(value, float):
        return "unix float" if 10**9 <= value < 10**10 else "float"
    if not isinstance(value, str):
        return type(value).__name__
    text = value.strip()
    if m := _ISO.match(text):
        seconds = "" if text.count(":") - (1 if m.group(2) and ":" in m.group(2) else 0) >= 2 else " (no seconds)"
        fraction = ".fff" if m.group(1) else ""
        return f"ISO{fraction}{m.group(2) or ' (no zone)'}{seconds}"
    if text.isascii() and text.isdigit():
        return f"digits{len(text)} (string)"
    return _date_shape(text)


_DIGITS = re.compile(r"\d+")


def _date_shape(text: str) -> str:
    """Each digit run named by what follows or precedes it: 年 YYYY, 月 MM, 日 DD,
    h:m:s HH:MM:SS, a-b-c / a/b/c by position; the rest of the text kept when it
    is punctuation or the date words, shaped otherwise."""
    out: list[str] = []
    date_pos = 0
    clock_pos = 0
    pos = 0
    names_date = ("YYYY", "MM", "DD")
    names_clock = ("HH", "MM", "SS")
    for m in _DIGITS.finditer(text):
        gap = text[pos:m.start()]
        out.append(_gap(gap))
        digits = m.group(0)
        after = text[m.end():m.end() + 1]
        before = text[m.start() - 1:m.start()] if m.start() else ""
        width = len(digits)
        if after == "年":
            name = "Y" * width
        elif after == "月":
            name = "M" * max(1, min(width, 2))
        elif after == "日":
            name = "D" * max(1, min(width, 2))
        elif after == ":" or before == ":":
            name = names_clock[min(clock_pos, 2)][0] * width if clock_pos < 3 else "?" * width
            if clock_pos == 1:
                name = "M" * width
            clock_pos += 1
        elif before == "." and clock_pos:
            name = "f" * width
        elif after in "-/." or before in "-/.":
            name = names_date[min(date_pos, 2)][0] * width if width != 4 else "YYYY"
            date_pos += 1
        else:
            name = f"<digits{width}>"
        out.append(name)
        pos = m.end()
    out.append(_gap(text[pos:]))
    return "".join(out)


def _gap(text: str) -> str:
    keep = set(" -/.:T年月日時分秒（）()+Z")
    return text if all(c in keep for c in text) else shape(text)


# --- text shapes -----------------------------------------------------------------

PUNCTUATION = set(" !\"#$%&'()*+,-./:;=?@[\\]^_`{|}~、。・，．：；？！「」『』（）［］【】〈〉《》〜～ー…‥／＼＠＃＄％＆＊＋－＝｜")


def _char_class(c: str) -> str:
    if c.isdigit():
        return "digits"
    if c.isascii() and c.isalpha() or "Ａ" <= c <= "ｚ":
        return "latin"
    if "\u3040" <= c <= "\u309f":
        return "ひらがな"
    if "\u30a0" <= c <= "\u30ff" and c != "・" or "\uff66" <= c <= "\uff9f":
        return "カタカナ"
    if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or c in "々〆ヶ":
        return "漢字"
    if c.isspace():
        return " "
    if c in PUNCTUATION:
        return c
    if c.isalpha():
        return "letter"
    return "symbol"


MAX_RUNS = 16


def shape(text: str, max_runs: int = MAX_RUNS) -> str:
    """A text's shape: runs of one kind of character as ``<kind N>``,
    punctuation and single spaces kept; dates and times as their pattern.
    A long run of ASCII letters and digits without spaces (a token) is ``<tokenN>``."""
    if not text:
        return ""
    if len(text) >= 16 and re.fullmatch(r"[A-Za-z0-9+/=_\-.~]+", text) and re.search(r"\d", text) \
            and re.search(r"[A-Za-z]", text):
        return f"<token{len(text)}>"
    pieces: list[str] = []
    pos = 0
    for m in DATE_IN_TEXT.finditer(text):
        pieces.append(_runs(text[pos:m.start()]))
        pieces.append(f"<{time_pattern(m.group(0))}>")
        pos = m.end()
    pieces.append(_runs(text[pos:]))
    out = "".join(pieces)
    runs = re.findall(r"<[^<>]*>|[^<>]", out)
    if len(runs) > max_runs:
        out = "".join(runs[:max_runs]) + f"…(+{len(text)} chars)"
    return out


def _runs(text: str) -> str:
    out: list[str] = []
    kind, count = None, 0

    def flush():
        if kind is None:
            return
        if kind in ("digits", "latin", "ひらがな", "カタカナ", "漢字", "letter", "symbol"):
            out.append(f"<{kind}{count}>")
        elif kind == " ":
            out.append(" ")
        else:
            out.append(kind * count)

    for c in text:
        k = _char_class(c)
        if k == kind:
            count += 1
            continue
        flush()
        kind, count = k, 1
    flush()
    return "".join(out)


# --- the redactor ------------------------------------------------------------------

HASH_CHARS = 8
ID_RUN = re.compile(r"\d{3,}")
ID_KEYS = re.compile(r"(?:^|_)id$|Id$|^id_|Ids?$|_ids$", re.IGNORECASE)
URL_ATTRS = frozenset({"href", "src", "action", "poster", "data-src", "data-href", "formaction", "cite", "srcset"})
ENUM_ATTRS = frozenset({"type", "rel", "role", "method", "target", "lang", "charset", "http-equiv", "for",
                        "autocomplete", "hidden", "disabled", "aria-hidden", "aria-expanded", "loading",
                        "crossorigin", "media", "dir", "property", "itemprop", "enctype", "name", "as",
                        "referrerpolicy", "tabindex", "colspan", "rowspan", "scope", "width", "height"})
ENUM_VALUE = re.compile(r"^[A-Za-z_][\w:.\-/+]{0,40}$|^\d{1,4}$")
SKIP_CONTENT = frozenset({"style", "svg", "noscript", "template"})
JSON_SCRIPT_TYPES = ("application/json", "application/ld+json")
MAX_LINES = 4000
MAX_DEPTH = 200


class Redactor:
    """Redacts with a secret ``key`` (bytes); see the module's docstring."""

    def __init__(self, key: bytes, known_texts=(), known_words=(), known_values=()):
        """``known_texts``: the platforms' fixed words kept in text; ``known_words``: URL
        path words kept; ``known_values``: JSON string values kept.  ``collector.markers.redactor``
        gives a Redactor with the readers' own (this module knows no platform)."""
        self.key = key
        self.known_texts = frozenset(known_texts)
        # Sentences of the platform long enough to be kept inside a longer text.
        self._sentences = sorted((t for t in self.known_texts if len(t) >= 6), key=len, reverse=True)
        self.known_words = frozenset(known_words)
        self.known_values = frozenset(known_values)

    # ids -------------------------------------------------------------------

    def ident(self, value) -> str:
        """A stable keyed hash of an id: ``#3fa2c1d0``."""
        digest = hmac.new(self.key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return "#" + digest[:HASH_CHARS]

    def ids_in(self, text: str) -> str:
        """``text`` with each run of 3+ digits replaced by its hash."""
        return ID_RUN.sub(lambda m: self.ident(m.group(0)), text)

    # text ------------------------------------------------------------------

    def text(self, value: str, keep_known: bool = True) -> str:
        """The shape of a text; the platform's known words and sentences kept
        (not inside message bodies: ``keep_known=False``)."""
        stripped = " ".join(value.split())
        if not stripped:
            return ""
        if keep_known:
            if stripped in self.known_texts:
                return stripped
            for sentence in self._sentences:
                if sentence in stripped:
                    before, _, after = stripped.partition(sentence)
                    return self.text(before) + sentence + self.text(after)
        return shape(stripped)

    def reason(self, reason: str | None) -> str | None:
        """A reader's reason (ghostwatch's own Japanese words with values in
        it): quoted values shaped, URLs redacted, other ids hashed."""
        if reason is None:
            return None

        out = []
        for n, part in enumerate(re.split(r"('[^']*'|\"[^\"]*\")", reason)):
            if n % 2:  # a quoted value: its shape
                out.append(part[0] + self.text(part[1:-1], keep_known=False) + part[0])
                continue
            part = re.sub(r"(?:https?://[^\s)）]+|/[\w./?=&%:-]+)", lambda m: self.url(m.group(0)), part)
            # Digit runs left (ids in ghostwatch's words), not the hashes already made.
            out.append("".join(p if re.fullmatch(r"#[0-9a-f]{8}", p) else self.ids_in(p)
                               for p in re.split(r"(#[0-9a-f]{8})", part)))
        return "".join(out)

    # URLs --------------------------------------------------------------------

    def url(self, url: str) -> str:
        """Scheme and host kept; path words the readers know kept, digit runs
        hashed, other segments shaped; query names kept, values shaped or hashed."""
        if not url:
            return ""
        lowered = url.strip().lower()
        if lowered.startswith(("javascript:", "data:", "blob:")):
            return lowered.split(":", 1)[0] + ":…"
        if lowered.startswith(("mailto:", "tel:")):
            scheme, _, rest = url.strip().partition(":")
            return f"{scheme}:{shape(rest)}"
        if lowered.startswith("#"):
            return "#" + self._segment(url.strip()[1:]) if len(url.strip()) > 1 else "#"
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return shape(url)
        head = ""
        if parts.scheme:
            head += parts.scheme + ":"
        if parts.netloc or url.strip().startswith("//"):
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
            head += "//" + host
        path = "/".join(self._segment(s) for s in parts.path.split("/"))
        out = head + path
        if parts.query:
            out += "?" + "&".join(f"{self._param_name(k)}={self._param_value(k, v)}"
                                  for k, v in parse_qsl(parts.query, keep_blank_values=True))
        if parts.fragment:
            out += "#…"
        return out

    def _segment(self, segment: str) -> str:
        if not segment or segment in self.known_words:
            return segment
        if segment.isascii() and segment.isdigit():
            return self.ident(segment) if len(segment) >= 3 else segment
        if m := re.fullmatch(r"([A-Za-z_-]+)([:=-])(\d+)", segment):  # page:2, id-123
            if m.group(1) in self.known_words or m.group(1) == "page":
                return m.group(1) + m.group(2) + (self.ident(m.group(3)) if len(m.group(3)) >= 3 else m.group(3))
        if m := re.fullmatch(r"(.*?)(\.[A-Za-z0-9]{1,5})", segment):  # a file name: its extension kept
            if m.group(1) and not m.group(1).isdigit():
                return shape(m.group(1)) + m.group(2)
        return shape(segment)

    def _param_name(self, name: str) -> str:
        return name if re.fullmatch(r"[A-Za-z_][\w\-\[\].]{0,40}", name) else shape(name)

    def _param_value(self, name: str, value: str) -> str:
        if value in self.known_words or re.fullmatch(r"\d{1,2}", value):
            return value
        if value.isascii() and value.isdigit():
            return self.ident(value)
        pattern = time_pattern(value)
        if pattern != shape(value):
            return f"<{pattern}>"
        return shape(value)

    # JSON ----------------------------------------------------------------------

    def json(self, value, key: str | None = None, in_array: bool = False):
        """Types and patterns in place of values; object keys kept (digit keys hashed)."""
        if isinstance(value, dict):
            return {self._json_key(k): self.json(v, k, in_array) for k, v in value.items()}
        if isinstance(value, list):
            items = [self.json(v, key, True) for v in value]
            return {"$array": len(value), "$items": merge_shapes(items)} if items else {"$array": 0}
        return self.scalar(value, key, in_array)

    def _json_key(self, key: str) -> str:
        if isinstance(key, str) and key.isascii() and key.isdigit():
            return self.ident(key)
        if isinstance(key, str) and re.fullmatch(r"[A-Za-z_$@][\w$\-]{0,60}", key):
            return key
        return shape(str(key))

    def scalar(self, value, key: str | None = None, in_array: bool = False) -> str:
        idish = bool(key and ID_KEYS.search(str(key)))
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            if idish:
                return "int id" if in_array else f"int {self.ident(value)}"
            pattern = time_pattern(value)
            if pattern in ("unix", "unix_ms") and key and re.search(r"time|date|at$|modified|created|updated",
                                                                     str(key), re.I):
                return f"int {pattern}"
            return f"int digits{len(str(abs(value)))}"
        if isinstance(value, float):
            return "float"
        if isinstance(value, str):
            if value in self.known_values:
                return f"str {value!r}"
            if value.isascii() and value.isdigit():
                if idish or len(value) >= 3:
                    return "str digits id" if in_array else f"str digits {self.ident(value)}"
                return f"str digits{len(value)}"
            if value.strip().startswith(("http://", "https://", "/")) and " " not in value.strip():
                return "str url " + (re.sub(r"#[0-9a-f]{8}", "#id", self.url(value)) if in_array else self.url(value))
            pattern = time_pattern(value)
            if pattern.startswith("ISO") or re.search(r"YYYY|MM|DD|HH", pattern) and "<" not in pattern:
                return f"str {pattern}"
            if "<" in value and ">" in value:
                return f"str html({len(value)}) {shape(html_fragment_text(value), 8)}"
            return f"str({len(value)}) {shape(value, 8)}"
        return type(value).__name__

    # HTML ------------------------------------------------------------------------

    def skeleton(self, html: str | bytes) -> list[str]:
        """The page as indented lines of ``tag#id.class [attr=value-shape] "text shape"``;
        runs of similar siblings folded (``… ×N similar``)."""
        root = parse_html(html)
        lines = self._element(root, 0, keep_known=True)
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES] + [f"… ({len(lines) - MAX_LINES} more lines)"]
        return lines

    def _element(self, el, depth: int, keep_known: bool) -> list[str]:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:
            return []
        pad = "  " * depth
        if depth > MAX_DEPTH:
            return [pad + "… (deeper elements left out)"]
        classes = (el.get("class") or "").split()
        if any("_messageBody_" in f"_{c}" or c.startswith("_messageBody_") for c in classes):
            keep_known = False  # a message body: no word of it is kept
        head = tag
        if el.get("id") is not None:
            head += "#" + self._token(el.get("id"))
        head += "".join("." + self._token(c) for c in classes)
        attrs = []
        for name, value in el.attrib.items():
            if name in ("id", "class"):
                continue
            attrs.append(f"[{self._attr(tag, name, value)}]")
        line = pad + head + (" " + " ".join(attrs) if attrs else "")
        if tag == "script":
            body = el.text or ""
            kind = (el.get("type") or "").lower()
            if body.strip() and kind in JSON_SCRIPT_TYPES:
                try:
                    line += " json=" + json.dumps(self.json(json.loads(body)), ensure_ascii=False)
                except ValueError:
                    line += f" (inline, {len(body)} chars)"
            elif body.strip():
                line += f" (inline, {len(body)} chars)"
            return [line] + self._tail(el, depth, keep_known)
        if tag in SKIP_CONTENT:
            count = sum(1 for _ in el.iter()) - 1
            return [line + (f" ({count} elements)" if count else "")] + self._tail(el, depth, keep_known)
        children = [c for c in el if isinstance(c.tag, str)]
        text = self.text(el.text, keep_known) if el.text and el.text.strip() else ""
        if not children:
            return [line + (f' "{text}"' if text else "")] + self._tail(el, depth, keep_known)
        out = [line]
        if text:
            out.append(f'{pad}  | "{text}"')
        groups: list[tuple[str, list[str], int]] = []
        for child in el:
            lines = self._element(child, depth + 1, keep_known) if isinstance(child.tag, str) else (
                self._tail(child, depth + 1, keep_known))
            if not lines:
                continue
            masked = _mask("\n".join(lines))
            if groups and groups[-1][0] == masked:
                groups[-1] = (masked, groups[-1][1], groups[-1][2] + 1)
            else:
                groups.append((masked, lines, 1))
        for _, lines, count in groups:
            out.extend(lines)
            if count > 1:
                out.append(f"{pad}  … ×{count - 1} similar")
        return out + self._tail(el, depth, keep_known)

    def _tail(self, el, depth: int, keep_known: bool) -> list[str]:
        if el.tail and el.tail.strip():
            return ["  " * depth + f'| "{self.text(el.tail, keep_known)}"']
        return []

    def _token(self, token: str) -> str:
        """A class name or element id: kept, runs of 4+ digits hashed."""
        token = re.sub(r"\d{4,}", lambda m: self.ident(m.group(0)), token)
        return token if re.fullmatch(r"[\w\-:#]+", token) else shape(token)

    def _attr(self, tag: str, name: str, value: str) -> str:
        name_shown = name if re.fullmatch(r"[\w:.\-@]{1,60}", name) else shape(name)
        if value == "":
            return name_shown
        if name in URL_ATTRS:
            if name == "srcset":
                return f"{name_shown}=…"
            return f"{name_shown}={self.url(value)}"
        if name == "datetime":
            return f"{name_shown}={time_pattern(value)}"
        if name == "style":
            return f"{name_shown}=…"
        stripped = value.strip()
        if stripped[:1] in "{[" and (name == "data" or name.startswith("data-")):
            try:
                return f"{name_shown}={json.dumps(self.json(json.loads(stripped)), ensure_ascii=False)}"
            except ValueError:
                pass
        if name in ENUM_ATTRS and ENUM_VALUE.match(stripped):
            return f"{name_shown}={self._token(stripped)}"
        if name in ("content", "value") and tag in ("meta", "input"):
            if stripped.startswith(("https://", "http://")) and " " not in stripped:
                return f"{name_shown}={self.url(stripped)}"
            return f"{name_shown}={shape(stripped)}"
        return f"{name_shown}={self.text(stripped)}"

    # a capture -----------------------------------------------------------------------

    def response(self, response) -> dict:
        """A captured response: URL redacted, status, content type, body as JSON shape (or text shape)."""
        get = response.get if isinstance(response, dict) else lambda k: getattr(response, k)
        body = get("body") or ""
        out = {"url": self.url(get("url")), "status": get("status"), "content_type": get("content_type"),
               "size": len(body)}
        try:
            out["json"] = self.json(json.loads(body))
        except (ValueError, RecursionError):
            if "html" in (get("content_type") or "").lower() or body.lstrip()[:1] == "<":
                try:
                    out["html"] = self.skeleton(body)[:200]
                except Exception:  # noqa: BLE001 - a body that is no HTML: its shape
                    out["text"] = shape(body[:200], 8)
            else:
                out["text"] = shape(body[:200], 8)
        return out

    def capture(self, url: str, html: str | bytes, responses=()) -> dict:
        """A whole capture, redacted: ``{"url", "page": [skeleton lines], "responses": [...]}``."""
        try:
            page = self.skeleton(html)
        except Exception as err:  # noqa: BLE001 - NotAPage and friends: say so, without the body
            page = [f"(HTML として読めません: {type(err).__name__})"]
        return {"url": self.url(url), "page": page, "responses": [self.response(r) for r in responses]}


def _mask(text: str) -> str:
    """Lines compared for folding siblings: hashes, digit and text shapes not told apart."""
    return re.sub(r"#[0-9a-f]{8}|<[^<>]*>|\"[^\"]*\"", "_", text)


def merge_shapes(shapes: list):
    """One shape for the items of an array: objects merged key by key (a key
    missing from some items is marked ``key?``), scalars as their distinct shapes."""
    if not shapes:
        return None
    if all(isinstance(s, dict) and "$array" not in s for s in shapes):
        keys: list[str] = []
        for s in shapes:
            keys.extend(k for k in s if k not in keys)
        merged = {}
        for k in keys:
            values = [s[k] for s in shapes if k in s]
            merged[k if len(values) == len(shapes) else f"{k}?"] = merge_shapes(values)
        return merged
    if all(isinstance(s, dict) and "$array" in s for s in shapes):
        return {"$array": f"{min(s['$array'] for s in shapes)}..{max(s['$array'] for s in shapes)}",
                "$items": merge_shapes([s["$items"] for s in shapes if s.get("$items") is not None])}
    distinct: list = []
    for s in shapes:
        if isinstance(s, str):
            s = re.sub(r"^str(?: html)?\(\d+\)", "str", re.sub(r"#[0-9a-f]{8}", "#id", s))
        if s not in distinct:
            distinct.append(s)
    texts = [d for d in distinct if isinstance(d, str) and d.startswith("str <")]
    if len(texts) > 2:  # free text of many shapes: one word for it
        distinct = [d for d in distinct if d not in texts] + ["str text"]
    if len(distinct) > 6:
        distinct = distinct[:6] + [f"… {len(distinct) - 6} more"]
    return distinct[0] if len(distinct) == 1 else distinct
