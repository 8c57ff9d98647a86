"""A local HTTPS stand-in for www.lancers.jp and crowdworks.jp.

It serves the page corpus at the platforms' real URLs, so that Chromium started
with ``--host-resolver-rules=MAP www.lancers.jp 127.0.0.1:PORT, MAP crowdworks.jp
127.0.0.1:PORT`` and ``ignore_https_errors`` runs the shipped extension manifest
and the collector unchanged.  It binds 127.0.0.1 only and uses a self-signed
certificate made by ``trustme``.

What it serves (``RunningStandIn()``), as ``tests/fixtures/corpus/README.md`` says:

- each corpus page's HTML at its URL (two pages sharing a URL: the first by name);
- each ``<name>.responses.json`` response at its URL, with its status, content type
  and body as recorded, and ``lancers/_site.responses.json`` (the boards list and
  the details of boards that have no page of their own);
- a Lancers older-messages request (``/v1/message_api/boards/<id>/messages?...
  direction=prev``) that the corpus does not hold: ``[]`` (the thread's start).

A request matches a route by host and path exactly and its query as a *set* of
parameters (any order, ``+`` or ``%20``).

Tests can change what it answers while it runs:

    standin.route("https://www.lancers.jp/mypage/message?boardId=1", html)
    standin.route_json(url, [...])              # a JSON answer (a value, or its text)
    standin.route_response(url, 403, "text/html; charset=utf-8", body)   # anything
    standin.fail("https://...", times=2)      # answer 503 twice, then the page
    standin.fail("https://...", times=None)   # never answer (hang until timeout)
    standin.logged_out = True                  # every page redirects to login
    standin.login_paths["www.lancers.jp"] = "/user/verify_code"   # ... to this one
    standin.login_paths["www.lancers.jp"] = GOOGLE_SIGN_IN        # ... or to Google
    standin.human_check = True                 # every page: a 403 "human verification" page

Added for the collector (``ghostwatch login`` / ``collect``):

    standin.offline_browser_args   # browser_args, and every other host unresolvable
    standin.require_session = True # pages need the session cookie a login sets
    standin.auto_login = True      # the login page submits itself (a user logging in)
    standin.cookies_seen           # the Cookie headers received (to check the profile)
    standin.hits[key]              # requests per route key (``key(url)``)
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import trustme

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
GOOGLE_HOST = "accounts.google.com"
HOSTS = ("www.lancers.jp", "crowdworks.jp", GOOGLE_HOST)
LOGIN_PATHS = {"www.lancers.jp": "/user/login", "crowdworks.jp": "/login"}
GOOGLE_SIGN_IN = f"https://{GOOGLE_HOST}/v3/signin/identifier?flowName=GlifWebSignIn"
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
GOOGLE_PAGE = (
    "<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>ログイン - Google アカウント"
    "</title></head><body><form id='identifierForm'><input type='email' name='identifier'>"
    "<button>次へ</button></form></body></html>"
)
# What a bot check in front of a site looks like (a 403 HTML page).
HUMAN_CHECK_PAGE = (
    "<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>Human verification</title>"
    "</head><body><h1>アクセスを確認しています</h1><p>私はロボットではありません</p>"
    "<div class='g-recaptcha' data-sitekey='x'></div>"
    # Passed elsewhere (a test turns human_check off): the page reloads itself, as real ones do.
    "<script>setTimeout(function(){location.reload();}, 1000);</script></body></html>"
)
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
# Lancers' older messages of a board: answered [] when the corpus does not hold them.
LANCERS_MESSAGES_PATH = re.compile(r"^/v1/message_api/boards/\d+/messages/?$")


def key(url: str) -> str:
    """The route key of a URL: host and path, then the query's parameters sorted."""
    parts = urlsplit(url)
    out = f"{parts.hostname}{parts.path}"
    if parts.query:
        out += "?" + urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return out


_key = key  # the old name


@dataclass(frozen=True)
class Served:
    """A recorded answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes


def _meta_paths() -> list[Path]:
    return [p for p in sorted(CORPUS.glob("*/*.json"))
            if not p.name.endswith(".responses.json") and p.with_suffix(".html").is_file()]


def corpus_pages() -> list[tuple[Path, dict]]:
    """Every (html path, metadata) pair of the corpus, by name."""
    return [(p.with_suffix(".html"), json.loads(p.read_text(encoding="utf-8"))) for p in _meta_paths()]


def corpus_responses(html_path: Path) -> list[dict]:
    """The responses captured with a corpus page (``[]`` when it has none)."""
    path = html_path.with_name(html_path.stem + ".responses.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def site_responses() -> list[dict]:
    """The site-level responses of the corpus (``lancers/_site.responses.json``, ...)."""
    found = []
    for path in sorted(CORPUS.glob("*/_site.responses.json")):
        found.extend(json.loads(path.read_text(encoding="utf-8")))
    return found


@dataclass
class StandIn:
    port: int = 0
    routes: dict[str, bytes | Served] = field(default_factory=dict)
    failures: dict[str, int | None] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    logged_out: bool = False
    hang_seconds: float = 30.0
    require_session: bool = False
    auto_login: bool = False
    human_check: bool = False
    login_paths: dict[str, str] = field(default_factory=lambda: dict(LOGIN_PATHS))
    cookies_seen: list[str] = field(default_factory=list)

    @contextmanager
    def restored(self):
        """The stand-in as it is now, given back after the block: its routes,
        and every switch a test may turn (it is shared by the session)."""
        routes = dict(self.routes)
        try:
            yield self
        finally:
            self.routes.clear()
            self.routes.update(routes)
            self.failures.clear()
            self.logged_out = self.require_session = self.auto_login = self.human_check = False
            self.login_paths.clear()
            self.login_paths.update(LOGIN_PATHS)
            self.hang_seconds = 30.0

    def route(self, url: str, html: str | bytes) -> None:
        """Serve an HTML page (200) at ``url``."""
        self.routes[key(url)] = html.encode("utf-8") if isinstance(html, str) else html

    def route_response(self, url: str, status: int, content_type: str, body: str | bytes) -> None:
        """Serve any answer at ``url``: a recorded response, an error, a challenge page."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[key(url)] = Served(status, content_type, data)

    def route_json(self, url: str, value, status: int = 200) -> None:
        """Serve JSON at ``url``: a value (dumped) or its text as is."""
        body = value if isinstance(value, (str, bytes)) else json.dumps(value, ensure_ascii=False)
        self.route_response(url, status, JSON, body)

    def route_responses(self, responses: list[dict], replace: bool = True) -> None:
        """Serve a list of recorded responses (``{"url", "status", "content_type", "body"}``)."""
        for r in responses:
            if replace or key(r["url"]) not in self.routes:
                self.route_response(r["url"], r["status"], r["content_type"], r["body"])

    def fail(self, url: str, times: int | None) -> None:
        """Answer 503 ``times`` times before serving; ``None``: never answer."""
        self.failures[key(url)] = times

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

        def _send(self, status: int, body: bytes, headers: dict | None = None, content_type: str = HTML):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _login_target(self, host: str) -> str:
            target = standin.login_paths.get(host, "/login")
            return target if target.startswith("https://") else f"https://{host}{target}"

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0]
            path = urlsplit(self.path).path
            route_key = key(f"https://{host}{self.path}")
            standin.hits[route_key] = standin.hits.get(route_key, 0) + 1
            if host == GOOGLE_HOST:
                return self._send(200, GOOGLE_PAGE.encode("utf-8"))
            cookie = self.headers.get("Cookie") or ""
            if cookie:
                standin.cookies_seen.append(cookie)
            has_session = f"{SESSION_COOKIE}=1" in cookie
            login_path = standin.login_paths.get(host)
            needs_login = standin.logged_out or (standin.require_session and not has_session)
            if needs_login and path != login_path:
                return self._send(302, b"", {"Location": self._login_target(host)})
            if path == login_path or path == LOGIN_PATHS.get(host):
                page = LOGIN_PAGE.format(path=path)
                if standin.auto_login:
                    page = page.replace("</body>", AUTO_LOGIN_SCRIPT + "</body>")
                return self._send(200, page.encode("utf-8"))
            if standin.human_check:
                return self._send(403, HUMAN_CHECK_PAGE.encode("utf-8"))
            if route_key in standin.failures:
                remaining = standin.failures[route_key]
                if remaining is None:
                    time.sleep(standin.hang_seconds)
                    return self._send(504, b"timeout")
                if remaining > 0:
                    standin.failures[route_key] = remaining - 1
                    return self._send(503, b"<html><body>Service Unavailable</body></html>")
            served = standin.routes.get(route_key)
            if isinstance(served, Served):
                return self._send(served.status, served.body, content_type=served.content_type)
            if served is not None:
                return self._send(200, served)
            query = dict(parse_qsl(urlsplit(self.path).query))
            if host == "www.lancers.jp" and LANCERS_MESSAGES_PATH.match(path) and query.get("direction") == "prev":
                # Older messages the corpus does not hold: the thread's start.
                return self._send(200, b"[]", content_type=JSON)
            # Pages of the platforms the corpus does not hold: a plain page.
            if path in ("/", "/favicon.ico"):
                return self._send(200, b"<!DOCTYPE html><html><body>top</body></html>")
            return self._send(404, b"<html><body>Not Found</body></html>")

        do_HEAD = do_GET

        def do_POST(self):
            host = (self.headers.get("Host") or "").split(":")[0]
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path
            if path in (standin.login_paths.get(host), LOGIN_PATHS.get(host)):
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


def route_corpus(standin: StandIn) -> None:
    """Route every corpus page and response; of two at one URL, the first by name."""
    for html_path, meta in corpus_pages():
        if key(meta["url"]) not in standin.routes:
            standin.route(meta["url"], html_path.read_bytes())
    for html_path, _ in corpus_pages():
        standin.route_responses(corpus_responses(html_path), replace=False)
    standin.route_responses(site_responses(), replace=False)


class RunningStandIn:
    """Context manager: start the stand-in on 127.0.0.1 with the corpus routed."""

    def __init__(self, with_corpus: bool = True):
        self.standin = StandIn()
        if with_corpus:
            route_corpus(self.standin)
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
