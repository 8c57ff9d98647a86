"""What keeps the local server private to its user.

The server listens on the loopback interface, but that alone is not enough:
any web page the user opens can make the browser send requests to
``127.0.0.1``, a DNS-rebinding page can even make them look same-origin, and
cookies are scoped by host, not port, so every other app on ``127.0.0.1``
receives ours.  So every request goes through these checks, in this order:

1. **Host**: only ``127.0.0.1``, ``localhost`` and ``[::1]`` (with the server's
   port) are answered, whatever interface the server is bound to (plus the
   bound address itself when ``serve --expose-to-network`` names one); anything
   else gets 421.
2. **Cross-site refusal**: on every state-changing request (POST, PUT, PATCH,
   DELETE) a browser's ``Sec-Fetch-Site: cross-site`` / ``same-site`` or an
   ``Origin`` that is not the server itself gets 403.  The origin of
   ghostwatch's own extension (``chrome-extension://`` + ``EXTENSION_ID``, fixed
   by the manifest's key) passes on to the token check; any other extension is
   foreign.
3. **Token**: every ``/api/`` route except ``/api/health`` needs
   ``Authorization: Bearer <token>``; the token is made on first start, kept in
   the data directory with mode 0600 and shown by ``ghostwatch token``.
4. **Session** (the web view, as Jupyter does it): a visit to any page with
   ``?token=…`` starts a random server-side session (``Sessions``: an expiry,
   revoked by ``POST /logout`` and by ``token --reset``) in an HttpOnly,
   SameSite=Strict cookie named for the port and redirects to the same page without the token.
   The cookie is never a function of the token, and no answer to a cookie ever
   holds the API token: the redirect carries it in the URL's fragment (never
   sent to a server), where ``static/session.js`` moves it to this origin's
   ``localStorage`` (scoped by port, unlike cookies) for the pairing page.
5. **Calendar**: ``/calendar.ics`` takes its own read-only token
   (``?token=<calendar token>``, ``ghostwatch token --calendar [--reset]``),
   never the API token.

No CORS header is ever sent, so no web origin can read an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from pathlib import Path

from flask import Request, current_app

from server.paths import calendar_token_path, make_private, write_private

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# ghostwatch's extension: its id follows from the public key pinned in
# extension/manifest.json (tests/test_hardening.py checks they agree).
EXTENSION_ID = "mmnbdkilpncbfalgghnjedggnddnajgn"
COOKIE_NAME = "ghostwatch_session"
CALENDAR_PATHS = ("/calendar.ics",)
SESSION_SECONDS = 14 * 24 * 3600
PAIR_FRAGMENT = "ghostwatch-pair"


# --- tokens ------------------------------------------------------------------


def read_token(path: Path) -> str | None:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_token(path: Path) -> str:
    """The token in ``path`` (mode fixed to 0600 if looser), made if there is none yet."""
    token = read_token(path)
    if token:
        make_private(path)
        return token
    return write_token(path)


def write_token(path: Path) -> str:
    """A new random token, written to ``path`` with mode 0600 (replacing any)."""
    token = secrets.token_urlsafe(32)
    write_private(path, token + "\n")
    return token


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def calendar_token() -> str:
    """The calendar feed's read-only token (``calendar_token`` in the data
    directory), read on each use so ``token --calendar --reset`` takes effect at once."""
    return ensure_token(calendar_token_path())


# --- web sessions --------------------------------------------------------------


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class Sessions:
    """Server-side web sessions: a random id in the cookie, its SHA-256 and expiry
    here.  Kept in ``sessions.json`` (0600) when ``path`` is given, so a restart
    keeps the user signed in; ``token --reset`` deletes that file."""

    def __init__(self, path: Path | None = None, lifetime: float = SESSION_SECONDS):
        self.path = path
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = self._load()

    def _load(self) -> dict[str, float]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return {}
        make_private(self.path)
        now = time.time()
        if not isinstance(data, dict):
            return {}
        return {k: float(v) for k, v in data.items()
                if isinstance(k, str) and isinstance(v, (int, float)) and v > now}

    def _save(self) -> None:
        if self.path is not None:
            write_private(self.path, json.dumps(self._expiry))

    def new(self) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._expiry = {k: v for k, v in self._expiry.items() if v > now}
            self._expiry[_digest(session_id)] = now + self.lifetime
            self._save()
        return session_id

    def valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        with self._lock:
            expiry = self._expiry.get(_digest(session_id))
        return expiry is not None and expiry > time.time()

    def revoke(self, session_id: str | None) -> None:
        if not session_id:
            return
        with self._lock:
            if self._expiry.pop(_digest(session_id), None) is not None:
                self._save()


def forget_sessions(path: Path) -> None:
    """End every web session (``token --reset``)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# --- the checks --------------------------------------------------------------


def _split_host(host: str) -> tuple[str, str | None]:
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
        given_port = rest[1:] if rest.startswith(":") else None
    else:
        name, _, given_port = host.partition(":")
    return name, given_port or None


def host_allowed(host: str, port: int | None, extra_names: tuple[str, ...] = ()) -> bool:
    """``host`` is a Host header: a loopback name (or one of ``extra_names``, IP
    literals of an exposed bind), with our port when we know it."""
    name, given_port = _split_host(host)
    if name not in LOOPBACK_NAMES and name not in extra_names:
        return False
    if port is None or given_port is None:
        # Without a port the client used the scheme's default, which is not ours
        # unless we serve on 80; the test client sends no port at all.
        return port is None or port == 80
    return given_port == str(port)


def own_origins(port: int | None, extra_names: tuple[str, ...] = ()) -> set[str]:
    suffix = f":{port}" if port else ""
    return {f"http://{name}{suffix}" for name in (*LOOPBACK_NAMES, *extra_names)}


def origin_trusted(origin: str, port: int | None, extra_names: tuple[str, ...] = ()) -> bool:
    return origin in own_origins(port, extra_names) or origin == f"chrome-extension://{EXTENSION_ID}"


def cross_site_refusal(req: Request, port: int | None, extra_names: tuple[str, ...] = ()) -> str | None:
    """Why a state-changing browser request is refused, or None to let it pass."""
    if req.method not in STATE_CHANGING:
        return None
    origin = req.headers.get("Origin")
    if origin is not None:
        if origin_trusted(origin, port, extra_names):
            return None
        shown = origin[:100].encode("ascii", "backslashreplace").decode("ascii")
        return f"別のサイト（Origin: {shown}）からの書き込みは受け付けません。"
    fetch_site = (req.headers.get("Sec-Fetch-Site") or "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"別のサイトからの書き込みは受け付けません（Sec-Fetch-Site: {fetch_site[:20]}）。"
    return None


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def api_authorised(req: Request) -> bool:
    return same_token(bearer_token(req), current_app.config["GHOSTWATCH_TOKEN"])


def sessions() -> Sessions:
    return current_app.config["GHOSTWATCH_SESSIONS"]


def cookie_name() -> str:
    """``ghostwatch_session_PORT``: cookies are scoped by host, not port, so two
    servers on one machine (8765 and a test on 8766) must not overwrite each
    other's session."""
    port = current_app.config.get("GHOSTWATCH_PORT")
    return f"{COOKIE_NAME}_{port}" if port else COOKIE_NAME


def cookie_authorised(req: Request) -> bool:
    return sessions().valid(req.cookies.get(cookie_name()))


def query_token_valid(req: Request) -> bool:
    return same_token(req.args.get("token"), current_app.config["GHOSTWATCH_TOKEN"])


def calendar_token_valid(req: Request) -> bool:
    return same_token(req.args.get("token"), calendar_token())


def set_session_cookie(response) -> None:
    """Start a new session and give the browser its cookie."""
    store = sessions()
    response.set_cookie(
        cookie_name(),
        store.new(),
        max_age=int(store.lifetime),
        httponly=True,
        samesite="Strict",
        secure=False,  # plain HTTP on the loopback interface
        path="/",
    )


def end_session(req: Request, response) -> None:
    """``POST /logout``: the session is revoked on the server, the cookie deleted."""
    sessions().revoke(req.cookies.get(cookie_name()))
    response.delete_cookie(cookie_name(), path="/", httponly=True, samesite="Strict")


# --- headers on every answer ---------------------------------------------------

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secure_headers(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" would make form posts say Origin: null
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("Cache-Control", "no-store")
    # Never let a web origin read an answer, whatever a handler did.
    for name in list(response.headers.keys()):
        if name.lower().startswith("access-control-"):
            del response.headers[name]
    return response
