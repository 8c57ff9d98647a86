"""A local HTTPS stand-in for www.lancers.jp and crowdworks.jp.

It serves the page corpus at the platforms' real URLs, so that Chromium started
with ``--host-resolver-rules=MAP www.lancers.jp 127.0.0.1:PORT, MAP crowdworks.jp
127.0.0.1:PORT`` and ``ignore_https_errors`` runs the shipped extension manifest
and the collector unchanged.  It binds 127.0.0.1 only and uses a self-signed
certificate made by ``trustme``.

Tests can change what it answers while it runs:

    standin.route("https://www.lancers.jp/mypage/message?boardId=1", html)
    standin.fail("https://...", times=2)      # answer 503 twice, then the page
    standin.fail("https://...", times=None)   # never answer (hang until timeout)
    standin.logged_out = True                  # every page redirects to login
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import trustme

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
HOSTS = ("www.lancers.jp", "crowdworks.jp")
LOGIN_PATHS = {"www.lancers.jp": "/user/login", "crowdworks.jp": "/login"}
LOGIN_PAGE = (
    "<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>ログイン</title></head>"
    "<body><form action='{path}' method='post'><input name='email'><input type='password' "
    "name='password'><button type='submit'>ログイン</button></form></body></html>"
)


def _key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def corpus_pages() -> list[tuple[Path, dict]]:
    """Every (html path, metadata) pair of the corpus."""
    pages = []
    for meta_path in sorted(CORPUS.glob("*/*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        pages.append((meta_path.with_suffix(".html"), meta))
    return pages


@dataclass
class StandIn:
    port: int = 0
    routes: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, int | None] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    logged_out: bool = False
    hang_seconds: float = 30.0

    def route(self, url: str, html: str | bytes) -> None:
        self.routes[_key(url)] = html.encode("utf-8") if isinstance(html, str) else html

    def fail(self, url: str, times: int | None) -> None:
        """Answer 503 ``times`` times before serving; ``None``: never answer."""
        self.failures[_key(url)] = times

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    @property
    def resolver_rules(self) -> str:
        return ", ".join(f"MAP {host} 127.0.0.1:{self.port}" for host in HOSTS)

    @property
    def browser_args(self) -> list[str]:
        return [f"--host-resolver-rules={self.resolver_rules}"]


def _handler(standin: StandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0]
            key = f"{host}{self.path}"
            standin.hits[key] = standin.hits.get(key, 0) + 1
            if standin.logged_out and self.path != LOGIN_PATHS.get(host):
                login = LOGIN_PATHS.get(host, "/login")
                return self._send(302, b"", {"Location": f"https://{host}{login}"})
            if self.path == LOGIN_PATHS.get(host):
                return self._send(200, LOGIN_PAGE.format(path=self.path).encode("utf-8"))
            if key in standin.failures:
                remaining = standin.failures[key]
                if remaining is None:
                    time.sleep(standin.hang_seconds)
                    return self._send(504, b"timeout")
                if remaining > 0:
                    standin.failures[key] = remaining - 1
                    return self._send(503, b"<html><body>Service Unavailable</body></html>")
            body = standin.routes.get(key)
            if body is None:
                # Pages of the platforms the corpus does not hold: a plain page.
                if self.path in ("/", "/favicon.ico"):
                    return self._send(200, b"<!DOCTYPE html><html><body>top</body></html>")
                return self._send(404, b"<html><body>Not Found</body></html>")
            return self._send(200, body)

        do_HEAD = do_GET

    return Handler


class RunningStandIn:
    """Context manager: start the stand-in on 127.0.0.1 with the corpus routed."""

    def __init__(self, with_corpus: bool = True):
        self.standin = StandIn()
        if with_corpus:
            for html_path, meta in corpus_pages():
                self.standin.route(meta["url"], html_path.read_bytes())
        ca = trustme.CA()
        cert = ca.issue_cert(*HOSTS, "127.0.0.1", "localhost")
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self._context)

    def __enter__(self) -> StandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.standin))
        self._server.daemon_threads = True
        self._server.socket = self._context.wrap_socket(self._server.socket, server_side=True)
        self.standin.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.standin

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
