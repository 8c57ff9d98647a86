"""What keeps the local server private to its user.

The server listens on the loopback interface, but that alone is not enough:
any web page the user opens can make the browser send requests to
``127.0.0.1``, and a DNS-rebinding page can even make them look same-origin.
So every request goes through four checks, in this order:

1. **Host**: only ``127.0.0.1``, ``localhost`` and ``[::1]`` (with the server's
   port) are answered, whatever interface the server is bound to; anything
   else gets 421.
2. **Cross-site refusal**: on every state-changing request (POST, PUT, PATCH,
   DELETE) a browser's ``Sec-Fetch-Site: cross-site`` / ``same-site`` or an
   ``Origin`` that is not the server itself gets 403.  Extension origins
   (``chrome-extension://``) are not web origins and pass on to the token check.
3. **Token**: every ``/api/`` route except ``/api/health`` needs
   ``Authorization: Bearer <token>``; the token is made on first start, kept in
   the data directory with mode 0600 and shown by ``ghostwatch token``.
4. **Session cookie** (the web view, as Jupyter does it): a visit to any page
   with ``?token=…`` sets an HttpOnly, SameSite=Strict cookie and redirects to
   the same page without the token; without token or cookie a page answers 401.

No CORS header is ever sent, so no web origin can read an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Request, current_app

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
EXTENSION_SCHEMES = ("chrome-extension", "moz-extension")
COOKIE_NAME = "ghostwatch_session"
CALENDAR_PATHS = ("/calendar.ics",)


# --- the token ---------------------------------------------------------------


def read_token(path: Path) -> str | None:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_token(path: Path) -> str:
    """The pairing token in ``path``, made (mode 0600) if there is none yet."""
    token = read_token(path)
    if token:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return token
    return write_token(path)


def write_token(path: Path) -> str:
    """A new random token, written to ``path`` with mode 0600 (replacing any)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return token


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so a new token ends old sessions."""
    return hmac.new(token.encode("utf-8"), b"ghostwatch web session", hashlib.sha256).hexdigest()


# --- the checks --------------------------------------------------------------


def _port(app: Flask) -> int | None:
    return app.config.get("GHOSTWATCH_PORT")


def host_allowed(host: str, port: int | None) -> bool:
    """``host`` is a Host header: a loopback name, with our port when we know it."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
        given_port = rest[1:] if rest.startswith(":") else None
    else:
        name, _, given_port = host.partition(":")
        given_port = given_port or None
    if name not in LOOPBACK_NAMES:
        return False
    if port is None or given_port is None:
        # Without a port the client used the scheme's default, which is not ours
        # unless we serve on 80; the test client sends no port at all.
        return port is None or port == 80
    return given_port == str(port)


def own_origins(port: int | None) -> set[str]:
    suffix = f":{port}" if port else ""
    return {f"http://{name}{suffix}" for name in LOOPBACK_NAMES}


def origin_trusted(origin: str, port: int | None) -> bool:
    if origin in own_origins(port):
        return True
    scheme = urlsplit(origin).scheme
    return scheme in EXTENSION_SCHEMES


def cross_site_refusal(req: Request, port: int | None) -> str | None:
    """Why a state-changing browser request is refused, or None to let it pass."""
    if req.method not in STATE_CHANGING:
        return None
    origin = req.headers.get("Origin")
    if origin is not None:
        if origin_trusted(origin, port):
            return None
        return f"別のサイト（Origin: {origin[:100]}）からの書き込みは受け付けません。"
    fetch_site = (req.headers.get("Sec-Fetch-Site") or "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"別のサイトからの書き込みは受け付けません（Sec-Fetch-Site: {fetch_site}）。"
    return None


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def api_authorised(req: Request) -> bool:
    return same_token(bearer_token(req), current_app.config["GHOSTWATCH_TOKEN"])


def cookie_authorised(req: Request) -> bool:
    value = req.cookies.get(COOKIE_NAME)
    return bool(value) and hmac.compare_digest(value, session_value(current_app.config["GHOSTWATCH_TOKEN"]))


def query_token_valid(req: Request) -> bool:
    return same_token(req.args.get("token"), current_app.config["GHOSTWATCH_TOKEN"])


def set_session_cookie(response) -> None:
    response.set_cookie(
        COOKIE_NAME,
        session_value(current_app.config["GHOSTWATCH_TOKEN"]),
        httponly=True,
        samesite="Strict",
        secure=False,  # plain HTTP on the loopback interface
        path="/",
    )


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
