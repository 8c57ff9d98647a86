"""Helpers for the server's tests: post corpus pages to a live server, build pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def corpus_page(name: str) -> tuple[str, dict]:
    """(html, metadata) of ``tests/fixtures/corpus/<platform>/<name>``."""
    path = CORPUS / name
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return path.with_suffix(".html").read_text(encoding="utf-8"), meta


def snapshot_body(name: str, **extra) -> dict:
    html, meta = corpus_page(name)
    return {"url": meta["url"], "html": html, "captured_at": meta["captured_at"], **extra}


def post_corpus(server, name: str, **extra):
    """POST one corpus page as the extension does: (status, answer)."""
    return server.json("POST", "/api/snapshots", snapshot_body(name, **extra))


def post_all_corpus(server) -> dict[str, dict]:
    """Every corpus page, posted; answers by ``platform/name``."""
    answers = {}
    for path in sorted(CORPUS.glob("*/*.json")):
        name = f"{path.parent.name}/{path.stem}"
        status, answer = post_corpus(server, name + ".html")
        assert status == 200, (name, answer)
        answers[name] = answer
    return answers


SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'


def hostile_lancers_thread() -> tuple[str, str, str]:
    """thread_silent_fixed with its last client message and its title replaced
    by markup a client could type: as the platform shows it (escaped), it must
    stay text in ghostwatch too.  Returns (url, html, captured_at)."""
    html, meta = corpus_page("lancers/thread_silent_fixed.html")
    typed = (SCRIPT + " " + IMG).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    partner_bodies = list(re.finditer(
        r'(p-message-list__item--partner.*?<div class="p-message-list__body">)(.*?)(</div>)', html, re.S))
    last = partner_bodies[-1]
    html = html[: last.start(2)] + "お世話になります。" + typed + html[last.end(2):]
    html, n = re.subn(r'(class="p-message-board__work-title"[^>]*>)(.*?)(</a>)',
                      lambda m: m.group(1) + typed + m.group(3), html, count=1, flags=re.S)
    assert n == 1
    return meta["url"], html, meta["captured_at"]


def no_redirect(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """One HTTP request, redirects not followed: (status, headers, body bytes)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def start_server(home: Path, serve_args: list[str] = ()):
    """conftest's ``start_server``, with extra ``ghostwatch serve`` options."""
    import conftest

    return conftest.start_server(home, serve_args=serve_args)
