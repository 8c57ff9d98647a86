"""``ghostwatch serve`` and ``ghostwatch token``.

    ghostwatch serve [--host 127.0.0.1] [--port 8765] [--open/--no-open] [--db PATH]
    ghostwatch token [--reset]

``serve`` makes the pairing token on first start (``$GHOSTWATCH_HOME/token``,
mode 0600), prints ``http://127.0.0.1:PORT/?token=…`` (and opens it unless
``--no-open``), starts the scheduled collector when ``settings.json`` asks for
it, and serves the app with a thread per request until Ctrl-C or SIGTERM.

The request log names method, path (never the query: it may hold the token),
status and size; a request body never goes into it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import webbrowser

import click

from server.options import db_option, resolve_db

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def load_settings() -> dict:
    from server.paths import settings_path

    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        click.echo(f"設定ファイル {path} を読めません（無視します）: {err}", err=True)
        return {}
    return data if isinstance(data, dict) else {}


def make_request_handler():
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        """Logs ``METHOD /path STATUS SIZE``: no query string, no body, no headers."""

        def log_request(self, code="-", size="-"):
            path = self.path.split("?", 1)[0]
            code = getattr(code, "value", code)
            self.log("info", '"%s %s" %s %s', self.command, path, code, size)

    return QuietHandler


def open_in_browser(url: str) -> None:
    """Open the web view in the desktop's browser; without a desktop (SSH, a
    container) do nothing rather than start a text browser in this terminal."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    threading.Thread(target=_open, args=(url,), daemon=True).start()


def _open(url: str) -> None:
    try:
        webbrowser.open(url)
    except Exception:  # noqa: BLE001 - no browser is fine: the URL is printed
        pass


def check_port_free(host: str, port: int) -> None:
    """Raise OSError when ``host:port`` is taken (before werkzeug prints its own message)."""
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def start_schedule(db_path, settings: dict):
    """The collector on a schedule (``server.schedule``), when the settings enable it."""
    if not settings.get("collect_interval_minutes"):
        return None
    try:
        from server import schedule
    except ImportError:  # the collector is not installed with this server
        click.echo("定期収集の設定がありますが、server.schedule がありません（無視します）。", err=True)
        return None
    return schedule.start(db_path, settings)


def register(cli):
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to listen on. Keep the loopback address: the app answers only "
                  "Host names 127.0.0.1 / localhost / [::1] anyway.")
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
                  help="Port to listen on (the extension expects 8765).")
    @click.option("--open/--no-open", "open_browser", default=True, show_default=True,
                  help="Open the web view in the browser.")
    @db_option
    def serve(host, port, open_browser, db_path):
        """Run the local server: the extension's API and the web view.

        Prints the web view's address with its token; the first visit sets a
        cookie so the browser stays signed in.
        """
        from werkzeug.serving import make_server

        from server.app import create_app
        from server.paths import token_path
        from server.security import ensure_token

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.INFO)
        db = resolve_db(db_path)
        token = ensure_token(token_path())
        if host not in LOOPBACK_HOSTS:
            click.echo(f"注意: {host} で待ち受けます。ループバック以外のアドレスからも接続できますが、"
                       "Host が 127.0.0.1 / localhost でない要求には応答しません。", err=True)
        try:
            check_port_free(host, port)
            server = make_server(host, port, None, threaded=True, request_handler=make_request_handler())
        except (OSError, SystemExit) as err:  # werkzeug exits on a busy port
            reason = getattr(err, "strerror", None) or "ポートが使用中です"
            raise click.ClickException(
                f"{host}:{port} で待ち受けられません: {reason}。"
                f"すでに ghostwatch serve が動いていないか確認するか、--port で別のポートを指定してください。"
            ) from None
        actual_port = server.server_port
        settings = load_settings()
        app = create_app(db, token, port=actual_port, settings=settings)
        server.app = app
        shown_host = {"localhost": "localhost", "::1": "[::1]"}.get(host, "127.0.0.1")
        url = f"http://{shown_host}:{actual_port}/?token={token}"
        click.echo(f"ghostwatch を起動しました（データベース: {db}）")
        click.echo("ブラウザで次の URL を開いてください:")
        click.echo(f"    {url}")
        click.echo("終了するには Ctrl-C を押します。")
        sys.stdout.flush()

        stop_schedule = start_schedule(db, settings)
        app.config["GHOSTWATCH_SCHEDULER"] = stop_schedule

        def terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        if open_browser:
            open_in_browser(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            click.echo("ghostwatch を終了します…")
            if stop_schedule is not None:
                stop_schedule()
            server.server_close()

    @cli.command()
    @click.option("--reset", is_flag=True, help="Make a new token (the extension must pair again).")
    def token(reset):
        """Print the pairing token (made on first use), for the extension's options."""
        from server.paths import token_path
        from server.security import ensure_token, write_token

        path = token_path()
        value = write_token(path) if reset else ensure_token(path)
        click.echo(value)
        if reset:
            click.echo("新しいトークンを作りました。動いている ghostwatch serve を再起動し、"
                       "拡張機能を接続し直してください。", err=True)
