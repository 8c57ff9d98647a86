"""``ghostwatch serve`` and ``ghostwatch token``.

    ghostwatch serve [--host 127.0.0.1] [--port 8765] [--expose-to-network]
                     [--open/--no-open] [--verbose] [--db PATH]
    ghostwatch token [--reset] [--calendar]

``serve`` makes the pairing token on first start (``$GHOSTWATCH_HOME/token``,
mode 0600), prints ``http://127.0.0.1:PORT/?token=…``, opens it (unless
``--no-open``) through a 0600 redirect file in the data directory, so the token
is never on a command line other users can see in ``ps``, starts the scheduled
collector when ``settings.json`` asks for it, and serves the app with waitress
(a thread pool, a read timeout, a connection limit, a body limit) until Ctrl-C
or SIGTERM.

The terminal stays quiet: no line per request unless ``--verbose``, and then
method, path (never the query: it may hold the token), status and size.  A
request line that is not well formed is answered 400 by waitress and logged
nowhere.  An address that is not loopback is refused unless
``--expose-to-network`` says so.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import signal
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path
from urllib.parse import quote

import click
from waitress.server import create_server

from server import schedule
from server.app import MAX_BODY_BYTES, create_app
from server.options import db_option, resolve_db
from server.paths import (
    SettingsUnreadable,
    calendar_token_path,
    data_dir,
    read_settings,
    secure_db,
    sessions_path,
    token_path,
)
from server.security import ensure_token, forget_sessions, write_token

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
THREADS = 8
CHANNEL_TIMEOUT = 20  # seconds a connection may send nothing (idle, or a request half-sent)
CLEANUP_INTERVAL = 2  # how often waitress looks for such connections
CONNECTION_LIMIT = 64
OUTBUF_IN_MEMORY = 16 * 1024 * 1024
BODY_LIMIT_SLACK = 2  # waitress reads at most twice the app's limit; the app answers 413 in between
PATH_SAFE = "/:@!$&'()*+,;=-._~%"

log = logging.getLogger("ghostwatch.access")


def load_settings() -> dict:
    """``settings.json``, or none when it cannot be read (said on stderr).  Its
    mode is fixed with the other data files by ``create_app``."""
    try:
        return read_settings()
    except SettingsUnreadable as err:
        click.echo(f"{err}。設定なしで起動します。", err=True)
        return {}


# --- where to listen -----------------------------------------------------------


def listen_address(host: str, expose: bool) -> tuple[str, str, tuple[str, ...]]:
    """(address to bind, host name for the printed URL, extra Host names the app
    answers) for ``--host``; a non-loopback address without ``--expose-to-network``
    is a usage error."""
    if host == "localhost":
        return "127.0.0.1", "localhost", ()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise click.BadParameter(
            f"{host!r} はアドレスとして使えません。127.0.0.1 / localhost / ::1 か、IP アドレスを指定してください。",
            param_hint="--host") from None
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    if ip.is_loopback:
        extra = () if literal in ("127.0.0.1", "[::1]") else (literal,)
        return str(ip), literal, extra
    if not expose:
        where = "このパソコンのすべてのネットワーク" if ip.is_unspecified else f"ネットワーク上のアドレス {ip}"
        raise click.UsageError(
            f"--host {host} は{where}で待ち受け、同じネットワークのほかの機器から接続できるようになります"
            "（通信は暗号化されません）。本当にそうする場合だけ --expose-to-network を付けてください。"
            "ふだんは --host を付けずに（127.0.0.1 で）起動します。")
    if ip.is_unspecified:
        # Every interface, loopback included: the printed address is the loopback one,
        # and only loopback Host names are answered.
        return str(ip), "[::1]" if ip.version == 6 else "127.0.0.1", ()
    return str(ip), literal, (literal,)


def make_server(app, host: str, port: int, body_limit: int):
    """A waitress server bound to ``host:port`` (raises OSError when it cannot bind)."""
    return create_server(
        app, host=host, port=port, threads=THREADS, channel_timeout=CHANNEL_TIMEOUT, cleanup_interval=CLEANUP_INTERVAL,
        connection_limit=CONNECTION_LIMIT, max_request_body_size=body_limit * BODY_LIMIT_SLACK,
        ident="ghostwatch", expose_tracebacks=False, clear_untrusted_proxy_headers=True,
        log_socket_errors=False,
        # Answers (the list of 2,000 contracts is 2 MB) stay in memory rather than a temporary file.
        outbuf_overflow=OUTBUF_IN_MEMORY,
    )


class LateApp:
    """The WSGI app, set once the server knows its port (the app needs it for the Host check)."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def access_log(app):
    """``--verbose``: one line per request: method, path (no query), status, size."""

    def logged(environ, start_response):
        def start(status, headers, exc_info=None):
            size = next((v for k, v in headers if k.lower() == "content-length"), "-")
            path = environ.get("PATH_INFO", "").encode("latin-1", "replace")
            method = environ.get("REQUEST_METHOD", "-")[:16].encode("ascii", "backslashreplace").decode()
            log.info("%s %s %s %s", method, quote(path, safe=PATH_SAFE), status.split(" ", 1)[0], size)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("ghostwatch").setLevel(logging.INFO if verbose else logging.WARNING)
    # "Task queue depth is N" is load, not a fault: shown with --verbose only.
    logging.getLogger("waitress.queue").setLevel(logging.WARNING if verbose else logging.ERROR)


# --- opening the browser -----------------------------------------------------------


def write_redirect_file(directory: Path, url: str) -> Path:
    """A 0600 HTML file that sends the browser on to ``url`` (as Jupyter does):
    the browser is started with the file's path, so the token never appears on a
    command line.  Created exclusively under a random name (no symlink followed)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="open-", suffix=".html")
    target = html.escape(url, quote=True)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(
            "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"refresh\" content=\"0;url={target}\">\n"
            "<title>ghostwatch</title></head>\n"
            f"<body><p><a href=\"{target}\">ghostwatch を開く</a></p></body></html>\n"
        )
    os.chmod(name, 0o600)
    return Path(name)


def open_in_browser(url: str, directory: Path) -> Path | None:
    """Open the web view in the desktop's browser through a redirect file; without
    a desktop (SSH, a container) do nothing rather than start a text browser in
    this terminal.  Returns the file, to delete when the server stops."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    path = write_redirect_file(directory, url)
    threading.Thread(target=_open, args=(path.resolve().as_uri(),), daemon=True).start()
    return path


def _open(url: str) -> None:
    try:
        webbrowser.open(url)
    except Exception:  # noqa: BLE001 - no browser is fine: the URL is printed
        pass


def start_schedule(db_path, settings: dict):
    """The collector on a schedule (``server.schedule``), when the settings enable it."""
    if not settings.get("collect_interval_minutes"):
        return None
    return schedule.start(db_path, settings)


def register(cli):
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="待ち受けるアドレス。ループバック（127.0.0.1 / localhost / ::1）以外は "
                  "--expose-to-network が必要です。")
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
                  help="待ち受けるポート（拡張機能の既定は 8765）。")
    @click.option("--expose-to-network", "expose", is_flag=True,
                  help="ループバック以外の --host で、同じネットワークのほかの機器からの接続を受け付けます"
                  "（暗号化なし。コンテナの中などで使います）。")
    @click.option("--open/--no-open", "open_browser", default=True, show_default=True,
                  help="起動したらブラウザで画面を開きます。")
    @click.option("--verbose", "-v", is_flag=True, help="リクエストごとに 1 行（メソッド、パス、状態、サイズ）を表示します。")
    @db_option
    def serve(host, port, expose, open_browser, verbose, db_path):
        """ローカルサーバー（拡張機能の API と画面）を起動します。

        画面のアドレスをトークンつきで表示します。一度開くと、このブラウザはログインしたままになります。
        """
        setup_logging(verbose)
        bind, shown_host, extra_hosts = listen_address(host, expose)
        db = secure_db(resolve_db(db_path))
        token = ensure_token(token_path())
        late = LateApp()
        try:
            server = make_server(access_log(late) if verbose else late, bind, port, MAX_BODY_BYTES)
        except OSError as err:
            reason = err.strerror or "ポートが使用中です"
            raise click.ClickException(
                f"{shown_host}:{port} で待ち受けられません: {reason}。"
                f"すでに ghostwatch serve が動いていないか確認するか、--port で別のポートを指定してください。"
            ) from None
        actual_port = server.effective_port
        settings = load_settings()
        late.app = create_app(db, token, port=actual_port, settings=settings, extra_hosts=extra_hosts)
        if expose:
            click.echo(f"注意: {bind} で待ち受けます。同じネットワークのほかの機器から接続できます（暗号化なし）。"
                       "トークンを知っている人は契約の記録を読み書きできます。", err=True)
        url = f"http://{shown_host}:{actual_port}/?token={token}"
        click.echo(f"ghostwatch を起動しました（データベース: {db}）")
        click.echo("ブラウザで次の URL を開いてください:")
        click.echo(f"    {url}")
        click.echo("終了するには Ctrl-C を押します。")
        sys.stdout.flush()

        stop_schedule = start_schedule(db, settings)
        late.app.config["GHOSTWATCH_SCHEDULER"] = stop_schedule

        def terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        redirect_file = open_in_browser(url, data_dir()) if open_browser else None
        try:
            server.run()  # returns on Ctrl-C / SIGTERM, its worker threads stopped
        except KeyboardInterrupt:
            pass
        finally:
            click.echo("ghostwatch を終了します…")
            if stop_schedule is not None:
                stop_schedule()
            server.close()
            if redirect_file is not None:
                redirect_file.unlink(missing_ok=True)

    @cli.command()
    @click.option("--reset", is_flag=True, help="新しいトークンを作ります（拡張機能は接続し直し、画面はログインし直し）。")
    @click.option("--calendar", is_flag=True, help="拡張機能用ではなく、カレンダー購読用の読み取り専用トークン。")
    def token(reset, calendar):
        """拡張機能と接続するためのトークンを表示します（初回は作ります）。"""
        path = calendar_token_path() if calendar else token_path()
        value = write_token(path) if reset else ensure_token(path)
        click.echo(value)
        if reset and calendar:
            click.echo("カレンダーの新しいトークンを作りました。古い URL では読めません。", err=True)
        elif reset:
            forget_sessions(sessions_path())
            click.echo("新しいトークンを作りました。動いている ghostwatch serve を再起動し、"
                       "拡張機能を接続し直してください。画面のログインも終了しました。", err=True)
