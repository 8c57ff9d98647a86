"""The Flask app: the extension's API and the freelancer's web view.

    from server.app import create_app
    app = create_app(db_path, token, port=8765)

Every request opens its own connection to the store (``g.store``) and closes
it when the request ends; the store runs SQLite in WAL mode with a busy
timeout, so the extension, the collector and the web view write at once
without "database is locked".  See ``server/security.py`` for the checks every
request goes through, and ``docs/server.md`` for the routes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from server import __version__, security
from server.store import Store

MAX_BODY_BYTES = 10 * 1024 * 1024

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


def create_app(db_path: str | Path | None = None, token: str | None = None, port: int | None = None,
               settings: dict | None = None, scheduler=None) -> Flask:
    """The app over the database at ``db_path`` (default: the data directory's),
    answering API calls that carry ``token`` (default: the data directory's
    token, made if missing).  ``port`` is the port the server listens on: Host
    headers must name it."""
    from server.options import resolve_db
    from server.paths import token_path

    app = Flask(__name__)
    app.config.update(
        GHOSTWATCH_DB=str(resolve_db(Path(db_path) if db_path else None)),
        GHOSTWATCH_TOKEN=token or security.ensure_token(token_path()),
        GHOSTWATCH_PORT=port,
        GHOSTWATCH_SETTINGS=settings or {},
        GHOSTWATCH_SCHEDULER=scheduler,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False  # a verdict's keys in the order status --json prints them
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    # Create the database (and its tables) once, before the first request.
    Store(app.config["GHOSTWATCH_DB"]).close()

    from server import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.before_request(guard)
    app.after_request(security.secure_headers)
    app.teardown_appcontext(close_store)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    app.jinja_env.globals["version"] = __version__
    views.register_filters(app)
    return app


def guard():
    """Every request's checks, in order: Host, cross-site writes, token/cookie, size."""
    from flask import current_app

    port = current_app.config["GHOSTWATCH_PORT"]
    api = is_api(request.path)
    if not security.host_allowed(request.host, port):
        message = "このサーバーは 127.0.0.1 / localhost でのみ応答します（Host が違います）。"
        if api:
            return api_error(421, "misdirected_request", message)
        return page_error(421, "このアドレスでは応答しません", message)
    refusal = security.cross_site_refusal(request, port)
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
        if not (security.query_token_valid(request) or security.cookie_authorised(request)):
            return unauthorised_page()
    elif "token" in request.args:
        if not security.query_token_valid(request):
            return unauthorised_page(wrong_token=True)
        # Jupyter-style: the token becomes a session cookie, and leaves the URL.
        args = request.args.copy()
        args.pop("token")
        query = urlencode(list(args.items(multi=True)))
        response = redirect(request.path + (f"?{query}" if query else ""), code=303)
        security.set_session_cookie(response)
        return response
    elif not security.cookie_authorised(request):
        return unauthorised_page()
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return too_large()
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


def unexpected_error(err: Exception):
    # The traceback goes to the log; a request body never does (it is not part of it).
    log.exception("unexpected error on %s %s", request.method, request.path)
    if is_api(request.path):
        return api_error(500, "internal_error", f"サーバー内部のエラーです: {type(err).__name__}")
    return page_error(500, "サーバー内部のエラー", f"{type(err).__name__}（サーバーのログを確認してください）")
