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

Added for the collector (``ghostwatch login`` / ``collect``):

    standin.offline_browser_args   # browser_args, and every other host unresolvable
    standin.require_session = True # pages need the session cookie a login sets
    standin.auto_login = True      # the login page submits itself (a user logging in)
    standin.cookies_seen           # the Cookie headers received (to check the profile)
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
SESSION_COOKIE = "gw_session"
AFTER_LOGIN = {
    "www.lancers.jp": "/mypage/proposals/all/working",
    "crowdworks.jp": "/e/contracts?status=active",
}
AUTO_LOGIN_SCRIPT = (
    "<script>setTimeout(function(){document.forms[0].submit();}, 300);</script>"
)
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
    require_session: bool = False
    auto_login: bool = False
    cookies_seen: list[str] = field(default_factory=list)

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

    @property
    def offline_browser_args(self) -> list[str]:
        """``browser_args``, with every other host name unresolvable.

        The corpus pages load scripts from third parties (cw-assets, tag
        managers); without this a test would try the internet and wait for DNS.
        """
        return [f"--host-resolver-rules={self.resolver_rules}, MAP * ~NOTFOUND, EXCLUDE localhost"]


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
            cookie = self.headers.get("Cookie") or ""
            if cookie:
                standin.cookies_seen.append(cookie)
            has_session = f"{SESSION_COOKIE}=1" in cookie
            needs_login = standin.logged_out or (standin.require_session and not has_session)
            if needs_login and self.path != LOGIN_PATHS.get(host):
                login = LOGIN_PATHS.get(host, "/login")
                return self._send(302, b"", {"Location": f"https://{host}{login}"})
            if self.path == LOGIN_PATHS.get(host):
                page = LOGIN_PAGE.format(path=self.path)
                if standin.auto_login:
                    page = page.replace("</body>", AUTO_LOGIN_SCRIPT + "</body>")
                return self._send(200, page.encode("utf-8"))
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

        def do_POST(self):
            host = (self.headers.get("Host") or "").split(":")[0]
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path == LOGIN_PATHS.get(host):
                return self._send(302, b"", {
                    "Location": f"https://{host}{AFTER_LOGIN.get(host, '/')}",
                    "Set-Cookie": f"{SESSION_COOKIE}=1; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Lax",
                })
            return self._send(405, b"<html><body>Method Not Allowed</body></html>")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A browser that drops a connection (a page closed, a hung request
        # given up) is normal here; anything else is still printed.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


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
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self.standin))
        self._server.daemon_threads = True
        self._server.socket = self._context.wrap_socket(self._server.socket, server_side=True)
        self.standin.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.standin

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
