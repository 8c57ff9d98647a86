"""Captures: a page's HTML plus the same-origin JSON its own UI loads.

A capture is what the extension and the collector send and what the store
keeps, raw, so that ``ghostwatch reparse`` can read it again after a fix:

    {"url", "captured_at", "html",
     "responses": [{"url", "status", "content_type", "body"}]}

Both ways in produce it with the same routine, ``extension/capture.js``.  A
reader finds a response by its URL: the path exactly, the query as a set of
parameters (any order).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote_plus, urlsplit

from collector.reading import LayoutError
from collector.timeutil import iso, parse_instant

MAX_RESPONSES = 500  # a capture with more is refused (the routine pages at most 50)


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    content_type: str
    body: str

    def to_json(self) -> dict:
        return {"url": self.url, "status": self.status, "content_type": self.content_type, "body": self.body}


@dataclass
class Capture:
    url: str
    captured_at: datetime
    html: str
    responses: list[Response] = field(default_factory=list)

    @classmethod
    def from_json(cls, data) -> Capture:
        """A capture from its JSON form; ValueError (in Japanese) when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("キャプチャは JSON オブジェクトではありません")
        for name in ("url", "html", "captured_at"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"キャプチャに文字列の {name} がありません")
        return cls(
            url=data["url"],
            captured_at=parse_instant(data["captured_at"]),
            html=data["html"],
            responses=parse_responses(data.get("responses")),
        )

    def to_json(self) -> dict:
        return {"url": self.url, "captured_at": iso(self.captured_at), "html": self.html,
                "responses": [r.to_json() for r in self.responses]}


class Responses(list):
    """A capture's responses, found by URL through an index built once."""

    _index: dict | None = None

    def find(self, url: str) -> Response | None:
        if self._index is None:
            self._index = {}
            for response in self:
                self._index.setdefault(_url_key(response.url), response)
        return self._index.get(_url_key(url))


def parse_responses(value) -> Responses:
    """The ``responses`` list of a capture (None or absent: no responses).
    Raises ValueError, in Japanese, naming the first entry that is wrong."""
    if value is None:
        return Responses()
    if isinstance(value, Responses):
        return value
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValueError("responses は配列（[...]）にしてください")
    if len(value) > MAX_RESPONSES:
        raise ValueError(f"responses が多すぎます（{len(value)} 件、上限 {MAX_RESPONSES} 件）")
    out: list[Response] = []
    for n, item in enumerate(value):
        if isinstance(item, Response):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise ValueError(f"responses[{n}] がオブジェクトではありません")
        url, status = item.get("url"), item.get("status")
        content_type, body = item.get("content_type", ""), item.get("body")
        if not isinstance(url, str) or not url:
            raise ValueError(f"responses[{n}].url がありません")
        if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
            raise ValueError(f"responses[{n}].status は HTTP ステータスの整数にしてください")
        if content_type is None:
            content_type = ""
        if not isinstance(content_type, str) or not isinstance(body, str):
            raise ValueError(f"responses[{n}] の content_type と body は文字列にしてください")
        out.append(Response(url=url, status=status, content_type=content_type, body=body))
    return Responses(out)


def responses_json(responses: list[Response]) -> list[dict]:
    return [r.to_json() for r in responses]


def _url_key(url: str) -> tuple:
    """(host, path, the query as a set of decoded parameters)."""
    base, _, query = url.partition("#")[0].partition("?")
    parts = urlsplit(base)
    params = frozenset(
        tuple(unquote_plus(x) for x in piece.partition("=")[::2]) if ("%" in piece or "+" in piece)
        else piece.partition("=")[::2]
        for piece in query.split("&") if piece
    )
    return (parts.hostname or "").lower(), parts.path, params


def find_response(responses: list[Response], url: str) -> Response | None:
    """The captured response for ``url``: same host and path, the same query
    parameters in any order.  The first one wins."""
    if not isinstance(responses, Responses):
        responses = Responses(responses)
    return responses.find(url)


def json_body(responses: list[Response], url: str, what: str, kind: type):
    """The JSON a captured response holds, of type ``kind`` (dict or list).

    Raises LayoutError naming ``what`` when the response is absent, not 200
    (a login or human-verification page), or not JSON of that kind.
    """
    response = find_response(responses, url)
    if response is None:
        raise LayoutError(f"{what} ({urlsplit(url).path}) がキャプチャにありません")
    return checked_json(response, what, kind)


def checked_json(response: Response, what: str, kind: type):
    path = urlsplit(response.url).path
    if response.status != 200:
        raise LayoutError(f"{what} ({path}) の応答が {response.status} でした（ログインや確認画面の可能性があります）")
    return json_of(response.body, f"{what} ({path})", kind, LayoutError)


def json_of(text: str, what: str, kind: type, error: type[Exception] = ValueError):
    """``text`` parsed as JSON of type ``kind`` (dict or list); ``error`` with a
    Japanese message naming ``what`` when it is not."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise error(f"{what} が JSON ではありません") from None
    if not isinstance(data, kind):
        raise error(f"{what} が JSON の{'配列' if kind is list else 'オブジェクト'}ではありません")
    return data


# The platforms' own secrets a stored capture must not keep: CSRF meta tags
# and hidden form tokens (Lancers: csrf-token, _csrfToken; CrowdWorks:
# csrf-token, authenticity_token).
SECRET_NAMES = (b"csrf-token", b"csrf_token", b"_csrftoken", b"authenticity_token", b"_token")
_SECRET_TAG = re.compile(rb"<(?:meta|input)\b[^>]*>", re.IGNORECASE)
_NAME_ATTR = re.compile(rb"""\bname\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_VALUE_ATTR = re.compile(rb"""\b(content|value)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)


def scrub_secrets(html: bytes) -> bytes:
    """The page with the values of its CSRF meta tags and hidden token inputs
    blanked (the tags stay, so the structure reads the same)."""

    def scrub(match: re.Match) -> bytes:
        tag = match.group(0)
        name = _NAME_ATTR.search(tag)
        if name is None or name.group(1).lower() not in SECRET_NAMES:
            return tag
        return _VALUE_ATTR.sub(lambda m: m.group(1) + b'=""', tag)

    return _SECRET_TAG.sub(scrub, html)
