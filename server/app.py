"""The Flask app: the extension's API and the freelancer's web view.

    from server.app import create_app
    app = create_app(db_path, token, port=8765)

Every request opens its own connection to the store (``server/db.py``) and
closes it when the request ends; the store runs SQLite in WAL mode with a busy
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
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from server import __version__, api, collect_views, db, pairing, report_views, security, states, views
from server.errors import (  # noqa: F401 - MAX_BODY_BYTES: serve_cmd sizes waitress by it
    MAX_BODY_BYTES,
    api_error,
    http_error,
    is_api,
    out_of_range,
    page_error,
    quoted_path,
    settings_unreadable,
    too_large,
    unauthorised_page,
    unexpected_error,
)
from server.neutral import plain
from server.options import resolve_db
from server.paths import (
    SettingsUnreadable,
    calendar_token_path,
    secure_data_files,
    secure_db,
    sessions_path,
    token_path,
)

def create_app(db_path: str | Path | None = None, token: str | None = None, port: int | None = None,
               settings: dict | None = None, scheduler=None, extra_hosts: tuple[str, ...] = ()) -> Flask:
    """The app over the database at ``db_path`` (default: the data directory's),
    answering API calls that carry ``token`` (default: the data directory's
    token, made if missing).  ``port`` is the port the server listens on: Host
    headers must name it; ``extra_hosts`` are IP literals answered besides the
    loopback names (the address of ``serve --host … --expose-to-network``)."""
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

    db.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(collect_views.bp)
    app.register_blueprint(report_views.bp)
    app.register_blueprint(states.bp)
    app.register_blueprint(pairing.bp)
    app.add_url_rule("/pair/calendar-token", "reset_calendar_token", reset_calendar_token, methods=["POST"])
    app.before_request(guard)
    app.before_request(refuse_bad_json)
    app.after_request(after_logout)
    app.after_request(security.secure_headers)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(OverflowError, out_of_range)
    app.register_error_handler(SettingsUnreadable, settings_unreadable)
    app.register_error_handler(Exception, unexpected_error)
    app.jinja_env.globals["version"] = __version__
    app.context_processor(calendar_context)
    views.register_filters(app)
    return app


def calendar_context() -> dict:
    """``calendar_url`` for the pairing page: the feed with its own read-only token."""
    if request.endpoint != "views.pair":
        return {}
    port = current_app.config["GHOSTWATCH_PORT"] or 8765
    return {"calendar_url": f"http://127.0.0.1:{port}/calendar.ics?token={security.calendar_token()}"}


def reset_calendar_token():
    """``POST /pair/calendar-token``: a new calendar token; the old feed URL stops working."""
    security.write_token(calendar_token_path())
    return redirect(url_for("views.pair") + "#calendar", code=303)


def after_logout(response):
    if request.endpoint == "views.logout" and response.status_code < 400:
        security.end_session(request, response)
    return response


def guard():
    """Every request's checks, in order: Host, cross-site writes, token/cookie, size."""
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


