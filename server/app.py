"""The Flask app: the extension's API and the freelancer's web view.

    from server.app import create_app
    app = create_app(db_path, token, port=8765)

Every request opens its own connection to the store (``g.store``) and closes
it when the request ends; the store runs SQLite in WAL mode with a busy
timeout, so the extension, the collector and the web view write at once
without "database is locked".  See ``server/security.py`` for the checks every
request goes through, and ``docs/server.md`` for the routes.

Bad input never gives 500: a JSON body nested too deep, with a number too
long or a lone surrogate is refused with 400 before a route reads it
(``refuse_bad_json``); a path with CR/LF is quoted before it goes into a
``Location`` or the log.  Text from a page is shown with its bidirectional
overrides and zero-width characters made visible (``plain``), in every
template output (Jinja's ``finalize``) and in the calendar.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from server import __version__, security
from server.store import Store

MAX_BODY_BYTES = 10 * 1024 * 1024
PATH_SAFE = "/:@!$&'()*+,;=-._~%"

log = logging.getLogger("ghostwatch.server")


def get_store() -> Store:
    """The store for this request (one SQLite connection per request)."""
    if "store" not in g:
        from flask import current_app

        g.store = Store(current_app.config["GHOSTWATCH_DB"])
    return g.store


def close_store(exc=None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def api_error(status: int, code: str, message: str, **extra):
    body = {"error": code, "message": message, **extra}
    return jsonify(body), status


def page_error(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


def quoted_path(path: str) -> str:
    """``path`` as it may go into a header or a log line: CR, LF, spaces, controls
    and non-ASCII percent-encoded."""
    return quote(path, safe=PATH_SAFE, errors="backslashreplace")


# --- text from pages, shown neutralised ------------------------------------------

# Bidirectional embeddings, overrides and isolates, the marks, and zero-width
# characters: a client's title could reorder or hide what the user reads.
INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _emoji_joiner(text: str, at: int) -> bool:
    """A ZERO WIDTH JOINER inside an emoji sequence (👨‍👩‍👧, 🏳️‍🌈): kept."""
    if text[at] != "\u200d" or at == 0 or at + 1 >= len(text):
        return False
    before, after = text[at - 1], text[at + 1]
    return (unicodedata.category(after) == "So"
            and (unicodedata.category(before) in ("So", "Sk") or before == "\ufe0f"))


def plain(value):
    """``value`` with every bidirectional control and zero-width character shown
    as ``<U+202E>`` (a joiner inside an emoji kept); anything not a string passes
    unchanged (Markup stays Markup, its replacement escaped)."""
    if not isinstance(value, str) or not INVISIBLE.search(value):
        return value
    text = str(value)
    shown = "&lt;U+{:04X}&gt;" if isinstance(value, Markup) else "<U+{:04X}>"
    out = INVISIBLE.sub(lambda m: m.group() if _emoji_joiner(text, m.start()) else shown.format(ord(m.group())),
                        text)
    return Markup(out) if isinstance(value, Markup) else out


def create_app(db_path: str | Path | None = None, token: str | None = None, port: int | None = None,
               settings: dict | None = None, scheduler=None, extra_hosts: tuple[str, ...] = ()) -> Flask:
    """The app over the database at ``db_path`` (default: the data directory's),
    answering API calls that carry ``token`` (default: the data directory's
    token, made if missing).  ``port`` is the port the server listens on: Host
    headers must name it; ``extra_hosts`` are IP literals answered besides the
    loopback names (the address of ``serve --host … --expose-to-network``)."""
    from server.options import resolve_db
    from server.paths import secure_db, secure_data_files, sessions_path, token_path

    secure_data_files()
    app = Flask(__name__)
    app.config.update(
        GHOSTWATCH_DB=str(secure_db(resolve_db(Path(db_path) if db_path else None))),
        GHOSTWATCH_TOKEN=token or security.ensure_token(token_path()),
        GHOSTWATCH_PORT=port,
        GHOSTWATCH_HOSTS=tuple(extra_hosts),
        GHOSTWATCH_SESSIONS=security.Sessions(sessions_path()),
        GHOSTWATCH_SETTINGS=settings or {},
        GHOSTWATCH_SCHEDULER=scheduler,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False  # a verdict's keys in the order status --json prints them
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.finalize = plain  # every {{ … }}, before autoescape
    app.jinja_env.filters["plain"] = plain

    # Create the database (and its tables) once, before the first request.
    Store(app.config["GHOSTWATCH_DB"]).close()

    from server import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.add_url_rule("/pair/calendar-token", "reset_calendar_token", reset_calendar_token, methods=["POST"])
    app.before_request(guard)
    app.before_request(refuse_bad_json)
    app.after_request(after_logout)
    app.after_request(security.secure_headers)
    app.teardown_appcontext(close_store)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(OverflowError, out_of_range)
    app.register_error_handler(Exception, unexpected_error)
    app.jinja_env.globals["version"] = __version__
    app.context_processor(calendar_context)
    views.register_filters(app)
    return app


def calendar_context() -> dict:
    """``calendar_url`` for the pairing page: the feed with its own read-only token."""
    from flask import current_app

    if request.endpoint != "views.pair":
        return {}
    port = current_app.config["GHOSTWATCH_PORT"] or 8765
    return {"calendar_url": f"http://127.0.0.1:{port}/calendar.ics?token={security.calendar_token()}"}


def reset_calendar_token():
    """``POST /pair/calendar-token``: a new calendar token; the old feed URL stops working."""
    from server.paths import calendar_token_path

    security.write_token(calendar_token_path())
    return redirect(url_for("views.pair") + "#calendar", code=303)


def after_logout(response):
    if request.endpoint == "views.logout" and response.status_code < 400:
        security.end_session(request, response)
    return response


def guard():
    """Every request's checks, in order: Host, cross-site writes, token/cookie, size."""
    from flask import current_app

    port = current_app.config["GHOSTWATCH_PORT"]
    extra = current_app.config["GHOSTWATCH_HOSTS"]
    api = is_api(request.path)
    if not security.host_allowed(request.host, port, extra):
        message = "このサーバーは 127.0.0.1 / localhost でのみ応答します（Host が違います）。"
        if api:
            return api_error(421, "misdirected_request", message)
        # A page of its own, not a template: with a Host Flask cannot bind to
        # (70,000 characters, say) there is no url_for for the layout's links.
        page = ('<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8"><title>このアドレスでは応答しません'
                f'</title></head>\n<body><h1>このアドレスでは応答しません</h1><p>{message}</p></body></html>\n')
        return page, 421, {"Content-Type": "text/html; charset=utf-8"}
    refusal = security.cross_site_refusal(request, port, extra)
    if refusal:
        if api:
            return api_error(403, "cross_site_refused", refusal)
        return page_error(403, "書き込みを拒否しました", refusal)
    if request.path.startswith("/static/"):
        return None
    if api:
        if request.path == "/api/health":
            return None
        if not security.api_authorised(request):
            return api_error(
                401,
                "unauthorized",
                "トークンが必要です: Authorization: Bearer <token> を付けてください"
                "（トークンは `ghostwatch token` で表示されます）。",
            )
    elif request.path in security.CALENDAR_PATHS:
        # Its own read-only token (calendar apps send no cookies), never the API token.
        if not (security.calendar_token_valid(request) or security.cookie_authorised(request)):
            return unauthorised_page()
    elif "token" in request.args:
        if not security.query_token_valid(request):
            return unauthorised_page(wrong_token=True)
        # Jupyter-style: the token starts a session, and leaves the URL; the
        # fragment (never sent to a server) hands it to this origin's page
        # script for the pairing page (static/session.js).
        args = request.args.copy()
        args.pop("token")
        query = urlencode(list(args.items(multi=True)))
        # One leading slash: "//host/…" in a Location would leave for another site.
        target = "/" + quoted_path(request.path).lstrip("/") + (f"?{query}" if query else "")
        response = redirect(f"{target}#{security.PAIR_FRAGMENT}={request.args['token']}", code=303)
        security.set_session_cookie(response)
        return response
    elif not security.cookie_authorised(request):
        return unauthorised_page()
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return too_large()
    return None


def refuse_bad_json():
    """A JSON body the API would choke on, refused with 400 before a route reads it:
    nested deeper than the parser's recursion limit, a number over Python's digit
    limit, or a string with a lone surrogate (which no database can store).
    Syntax errors are left to the route, which names their position."""
    if not is_api(request.path) or request.method not in security.STATE_CHANGING:
        return None
    raw = request.get_data(cache=True)  # the route reads the same bytes again
    if not raw:
        return None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None
    except RecursionError:
        return api_error(400, "malformed_json", "本文の JSON の入れ子が深すぎます。")
    except json.JSONDecodeError:
        return None
    except ValueError:
        return api_error(400, "malformed_json", "本文の JSON に大きすぎる数があります。")
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return api_error(400, "malformed_json",
                                 "本文の JSON に対になっていないサロゲート（\\ud800 など）があります。")
    return None


def unauthorised_page(wrong_token: bool = False):
    from flask import current_app

    port = current_app.config["GHOSTWATCH_PORT"] or 8765
    return (
        render_template("unauthorized.html", port=port, wrong_token=wrong_token),
        401,
        {"WWW-Authenticate": 'Bearer realm="ghostwatch"'},
    )


def too_large():
    message = f"本文が大きすぎます（上限 {MAX_BODY_BYTES // (1024 * 1024)} MB）。"
    if is_api(request.path):
        return api_error(413, "payload_too_large", message)
    return page_error(413, "本文が大きすぎます", message)


ERROR_TITLES = {
    400: "リクエストが正しくありません",
    404: "見つかりません",
    405: "この方法では使えません",
    413: "本文が大きすぎます",
}


def http_error(err: HTTPException):
    if err.code == 413:
        return too_large()
    if is_api(request.path):
        return api_error(err.code or 500, (err.name or "error").lower().replace(" ", "_"), err.description or "")
    title = ERROR_TITLES.get(err.code, err.name)
    return page_error(err.code or 500, title, err.description if err.code != 404 else "ページが見つかりません。")


def out_of_range(err: OverflowError):
    """An instant at the edge of what ``datetime`` holds (0001-01-01T00:00+09:00 is
    before year 1 in UTC), or a number SQLite cannot store: bad input, not a fault.
    The store's transaction has rolled back: nothing was written."""
    message = ("日時か数値が扱える範囲の外です（日時は ISO 8601 で、たとえば 2026-11-21T09:00:00+09:00 の"
               "ように指定してください）。")
    if is_api(request.path):
        return api_error(422, "out_of_range", message)
    return page_error(400, ERROR_TITLES[400], message)


def unexpected_error(err: Exception):
    # The traceback goes to the log; a request body never does (it is not part of it).
    log.exception("unexpected error on %s %s", request.method, quoted_path(request.path))
    if is_api(request.path):
        return api_error(500, "internal_error", f"サーバー内部のエラーです: {type(err).__name__}")
    return page_error(500, "サーバー内部のエラー", f"{type(err).__name__}（サーバーのログを確認してください）")
