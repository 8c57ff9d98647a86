"""Error answers: JSON for the API (``{"error", "message"}``), a Japanese page
for the web view; never a traceback to a client."""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from server.paths import SettingsUnreadable

MAX_BODY_BYTES = 10 * 1024 * 1024
PATH_SAFE = "/:@!$&'()*+,;=-._~%"

log = logging.getLogger("ghostwatch.server")


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


def unauthorised_page(wrong_token: bool = False):
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


def settings_unreadable(err: SettingsUnreadable):
    """A form that changes ``settings.json`` while the file is there but unreadable:
    nothing is written over it (the user's other settings are in it)."""
    return page_error(400, ERROR_TITLES[400], f"{err}。上書きしません。ファイルを直すか消してください。")


def unexpected_error(err: Exception):
    # The traceback goes to the log; a request body never does (it is not part of it).
    log.exception("unexpected error on %s %s", request.method, quoted_path(request.path))
    if is_api(request.path):
        return api_error(500, "internal_error", f"サーバー内部のエラーです: {type(err).__name__}")
    return page_error(500, "サーバー内部のエラー", f"{type(err).__name__}（サーバーのログを確認してください）")
