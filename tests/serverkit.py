"""Helpers for the server's tests: post corpus pages to a live server, build pages."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def corpus_page(name: str) -> tuple[str, dict]:
    """(html, metadata) of ``tests/fixtures/corpus/<platform>/<name>``."""
    path = CORPUS / name
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return path.with_suffix(".html").read_text(encoding="utf-8"), meta


def corpus_responses(name: str) -> list[dict]:
    """The responses captured with ``<platform>/<name>`` (none when it has no file)."""
    path = CORPUS / name
    responses = path.with_name(f"{path.name.removesuffix('.html')}.responses.json")
    return json.loads(responses.read_text(encoding="utf-8")) if responses.exists() else []


def snapshot_body(name: str, **extra) -> dict:
    """The capture the extension posts for a corpus page: its HTML and responses."""
    html, meta = corpus_page(name)
    return {"url": meta["url"], "html": html, "captured_at": meta["captured_at"],
            "responses": corpus_responses(name), **extra}


def post_corpus(server, name: str, **extra):
    """POST one corpus capture as the extension does: (status, answer)."""
    return server.json("POST", "/api/snapshots", snapshot_body(name, **extra))


def post_all_corpus(server) -> dict[str, dict]:
    """Every corpus capture, posted; answers by ``platform/name``."""
    answers = {}
    for path in sorted(CORPUS.glob("*/*.json")):
        if path.name.endswith(".responses.json"):
            continue
        name = f"{path.parent.name}/{path.stem}"
        status, answer = post_corpus(server, name + ".html")
        assert status == 200, (name, answer)
        answers[name] = answer
    return answers


SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'


def hostile_lancers_thread() -> tuple[str, str, str, list[dict]]:
    """thread_silent_fixed with its last client message and its title replaced
    by markup a client could type (the API returns it as raw text): it must
    stay text in ghostwatch.  Returns (url, html, captured_at, responses)."""
    html, meta = corpus_page("lancers/thread_silent_fixed.html")
    typed = SCRIPT + " " + IMG
    responses = corpus_responses("lancers/thread_silent_fixed.html")
    for response in responses:
        data = json.loads(response["body"])
        if isinstance(data, dict):
            data["title"] = typed
        else:
            last = max((m for m in data if m["send_user"]["is_client"]), key=lambda m: m["id"])
            last["description"] = "お世話になります。" + typed
        response["body"] = json.dumps(data, ensure_ascii=False)
    return meta["url"], html, meta["captured_at"], responses


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
