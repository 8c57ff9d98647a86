"""Hardening of the local server (issue 11), over real HTTP and real files.

The real ``ghostwatch serve`` (waitress) on 127.0.0.1, a real SQLite file,
raw sockets where a client would misbehave: the WSGI server and its limits,
the listening address, a quiet terminal, file modes, web sessions and the
calendar token, bad input that must never give 500, and text from pages
shown with its invisible controls neutralised.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port, start_server, stop_server
from serverkit import no_redirect, post_corpus, snapshot_body

SECRET = "SECRET-QUERY-7c1e"


def log_of(server) -> str:
    return (server.home.parent / f"server-{server.port}.log").read_text(encoding="utf-8", errors="replace")


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def sign_in(server) -> str:
    """A visit with ``?token=``: the session cookie (``name=value``)."""
    status, headers, _ = no_redirect(server, "GET", f"/?token={server.token}")
    assert status == 303
    return headers["Set-Cookie"].split(";")[0]


def run_cli(home: Path, *args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "GHOSTWATCH_HOME": str(home)}, timeout=120,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- 1. a production WSGI server, with a read timeout and a connection limit ------------------


def test_served_by_waitress_not_the_development_server(live_server):
    _, headers, _ = live_server.request("GET", "/api/health")
    assert headers["Server"] == "ghostwatch"  # waitress with our ident; werkzeug says "Werkzeug/…"
    assert "Werkzeug" not in log_of(live_server)


def test_a_connection_that_stops_sending_is_closed_after_the_read_timeout(live_server):
    from server.serve_cmd import CHANNEL_TIMEOUT

    with socket.create_connection(("127.0.0.1", live_server.port), timeout=CHANNEL_TIMEOUT + 20) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n".encode())  # never ends
        start = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, nothing answered
        assert CHANNEL_TIMEOUT - 1 <= time.monotonic() - start <= CHANNEL_TIMEOUT + 15
    assert live_server.request("GET", "/api/health")[0] == 200


def test_connections_over_the_limit_wait_until_one_closes(live_server):
    from server.serve_cmd import CONNECTION_LIMIT

    idle = [socket.create_connection(("127.0.0.1", live_server.port), timeout=10) for _ in range(CONNECTION_LIMIT)]
    try:
        for sock in idle:
            sock.sendall(b"GET /api/health HTTP/1.1\r\n")  # a request begun, never finished
        time.sleep(0.5)
        answer = raw_exchange(live_server.port, f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
                              "Connection: close\r\n\r\n".encode(), timeout=2)
        assert answer == b""  # not served while the limit is reached
    finally:
        for sock in idle:
            sock.close()
    assert live_server.request("GET", "/api/health")[0] == 200


# --- 2. the listening address ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5"])
def test_a_non_loopback_host_is_refused_without_the_flag_saying_what_it_exposes(home, host):
    port = free_port()
    proc = run_cli(home, "serve", "--host", host, "--port", str(port), "--no-open")
    assert proc.returncode == 2
    assert "--expose-to-network" in proc.stderr and "ネットワーク" in proc.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_the_printed_address_is_the_bound_one(home):
    """A loopback address other than 127.0.0.1 needs no flag; the URL printed is that address, and answers."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / "serve-127.0.0.2.log"
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.2", "--port", str(port),
                             "--no-open"], cwd=ROOT, env={**os.environ, "GHOSTWATCH_HOME": str(home)},
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "?token=" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        token = (home / "token").read_text().strip()
        assert f"http://127.0.0.2:{port}/?token={token}" in log_path.read_text()
        with socket.create_connection(("127.0.0.2", port), timeout=10) as sock:
            sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.2:{port}\r\nConnection: close\r\n\r\n".encode())
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.2", port), timeout=10) as sock:  # the Host check stays
            sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n".encode())
            assert sock.recv(1024).startswith(b"HTTP/1.1 421")
    finally:
        proc.terminate()
        proc.wait(10)


# --- 3. a quiet terminal; malformed request lines ---------------------------------------------


def test_no_line_per_request_unless_verbose(home, tmp_path):
    quiet = start_server(home)
    try:
        assert post_corpus(quiet, "lancers/thread_silent_fixed.html")[0] == 200
        quiet.request("GET", "/api/summary")
        quiet.request("GET", "/nope")
    finally:
        stop_server(quiet)
    log = log_of(quiet)
    assert "/api/snapshots" not in log and "/api/summary" not in log and "/nope" not in log
    assert "ghostwatch を起動しました" in log and "終了します" in log

    verbose = start_server(tmp_path / "verbose-home", serve_args=["--verbose"])
    try:
        assert post_corpus(verbose, "lancers/thread_silent_fixed.html")[0] == 200
        verbose.request("GET", f"/api/summary?token={SECRET}")
    finally:
        stop_server(verbose)
    log = log_of(verbose)
    assert re.search(r"POST /api/snapshots 200 \d+", log)
    assert "GET /api/summary 200" in log
    assert SECRET not in log


@pytest.mark.parametrize("line", [
    f"GET /?token={SECRET} HTTP/1.1 extra".encode(),
    f"GET /?token={SECRET}".encode(),
    f"GET /?token={SECRET} HTTP/9.9".encode(),
    f"GE\x00T /?token={SECRET} HTTP/1.1".encode(),
    f"GET /a b?token={SECRET} HTTP/1.1".encode(),
    f"GET /\xff\xfe?token={SECRET} HTTP/1.1".encode("latin-1"),
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + SECRET.encode(),
    f"GET /api/health?token={SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\rb".encode(),
])
def test_a_malformed_request_line_is_never_logged_with_its_query_and_never_crashes(home, line):
    server = start_server(home, serve_args=["--verbose"])
    try:
        answer = raw_exchange(server.port, line + b"\r\n\r\n", timeout=5)
        assert not answer or status_of(answer) in (400, 404, 405, 421, 505)
        assert server.request("GET", "/api/health")[0] == 200  # still serving
    finally:
        stop_server(server)
    log = log_of(server)
    assert SECRET not in log
    assert "Traceback" not in log


# --- 4. files: 0600 / 0700, also when they exist, also with --db elsewhere ---------------------


def test_fresh_files_are_private(live_server, ghostwatch):
    cookie = sign_in(live_server)
    assert post_corpus(live_server, "lancers/thread_silent_fixed.html")[0] == 200
    assert ghostwatch("token", "--calendar").returncode == 0
    home = live_server.home
    assert mode(home) == 0o700
    # The last connection to close removes -wal / -shm: hold one open, as the server does under load.
    reader = sqlite3.connect(home / "ghostwatch.db")
    try:
        reader.execute("select count(*) from sqlite_master").fetchone()
        for name in ("token", "calendar_token", "sessions.json", "ghostwatch.db", "ghostwatch.db-wal",
                     "ghostwatch.db-shm"):
            assert mode(home / name) == 0o600, name
    finally:
        reader.close()
    assert cookie


def test_loose_modes_are_fixed_and_said_also_for_a_db_elsewhere(home, tmp_path):
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for db in (home / "ghostwatch.db", elsewhere / "mine.db"):
        con = sqlite3.connect(db)
        con.execute("pragma journal_mode=wal")
        con.execute("create table t (x)")
        con.execute("insert into t values (1)")
        con.commit()
        # keep the -wal / -shm: copy them before this connection removes them on close
        wal = Path(str(db) + "-wal").read_bytes()
        shm = Path(str(db) + "-shm").read_bytes()
        con.close()
        Path(str(db) + "-wal").write_bytes(wal)
        Path(str(db) + "-shm").write_bytes(shm)
        for path in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
            os.chmod(path, 0o644)
    (home / "token").write_text("a-token-made-by-an-older-version-0123456789\n")
    (home / "settings.json").write_text("{}")
    for name in ("token", "settings.json"):
        os.chmod(home / name, 0o644)

    result = run_cli(home, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700
    assert mode(home / "ghostwatch.db") == 0o600
    assert str(home / "ghostwatch.db") in result.stderr and "0600" in result.stderr

    result = run_cli(home, "status", "--json", "--db", str(elsewhere / "mine.db"))
    assert result.returncode == 0, result.stderr
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(elsewhere / "mine.db") + suffix)
        if path.exists():
            assert mode(path) == 0o600, path
    assert str(elsewhere / "mine.db") in result.stderr

    server = start_server(home)
    try:
        assert server.token == "a-token-made-by-an-older-version-0123456789"
    finally:
        stop_server(server)
    for name in ("token", "settings.json"):
        assert mode(home / name) == 0o600, name
    assert "0644" in log_of(server)


def test_a_new_database_is_private_from_its_first_byte(tmp_path, home):
    db = tmp_path / "new" / "fresh.db"
    result = run_cli(home, "status", "--json", "--db", str(db), umask=0o022)  # the usual umask: 0644 files
    assert result.returncode == 0, result.stderr
    assert mode(db) == 0o600
    assert "0644" not in result.stderr  # made private, not fixed afterwards


def test_temporary_files_never_follow_a_planted_symlink(tmp_path, monkeypatch):
    from server.security import write_token

    monkeypatch.setenv("GHOSTWATCH_HOME", str(tmp_path / "home"))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    target = tmp_path / "home" / "token"
    target.parent.mkdir(mode=0o700)
    # the names an older version used for its temporary file
    for name in (f"token.{os.getpid()}.tmp", ".token.tmp", "token.tmp"):
        (target.parent / name).symlink_to(victim)
    token = write_token(target)
    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink() and target.read_text().strip() == token
    assert mode(target) == 0o600


# --- 5. credentials: sessions, the calendar token, --open ----------------------------------------


def test_the_session_is_random_expires_and_logout_revokes_it(live_server):
    from server.security import COOKIE_NAME

    first, second = sign_in(live_server), sign_in(live_server)
    assert first != second  # a new random session per sign-in, not a function of the token
    assert live_server.token not in first
    _, headers, _ = no_redirect(live_server, "GET", f"/?token={live_server.token}")
    assert re.search(r"Max-Age=\d+", headers["Set-Cookie"])
    for cookie in (first, second):
        assert live_server.request("GET", "/", token=False, headers={"Cookie": cookie})[0] == 200
    origin = {"Origin": live_server.url, "Cookie": first}
    status, headers, _ = no_redirect(live_server, "POST", "/logout", b"", headers=origin)
    assert status == 303
    assert f"{COOKIE_NAME}_{live_server.port}=;" in headers["Set-Cookie"]
    # The revoked cookie, replayed by whoever kept it: refused.  The other session lives on.
    assert live_server.request("GET", "/", token=False, headers={"Cookie": first})[0] == 401
    assert live_server.request("GET", "/", token=False, headers={"Cookie": second})[0] == 200


def test_sessions_survive_a_restart_until_their_expiry(home):
    from server.security import COOKIE_NAME

    home.mkdir(parents=True, exist_ok=True)
    fresh, stale = "fresh-session-id-0123456789abcdef", "stale-session-id-0123456789abcdef"
    digest = lambda value: hashlib.sha256(value.encode()).hexdigest()  # noqa: E731
    (home / "sessions.json").write_text(json.dumps({digest(fresh): time.time() + 3600,
                                                   digest(stale): time.time() - 1}))
    os.chmod(home / "sessions.json", 0o600)
    server = start_server(home)
    try:
        assert server.request("GET", "/", token=False, headers={"Cookie": f"{COOKIE_NAME}_{server.port}={fresh}"})[0] == 200
        assert server.request("GET", "/", token=False, headers={"Cookie": f"{COOKIE_NAME}_{server.port}={stale}"})[0] == 401
    finally:
        stop_server(server)
    assert run_cli(home, "token", "--reset").returncode == 0  # ends every session
    server = start_server(home)
    try:
        assert server.request("GET", "/", token=False, headers={"Cookie": f"{COOKIE_NAME}_{server.port}={fresh}"})[0] == 401
    finally:
        stop_server(server)


def test_nothing_a_cookie_holder_can_do_yields_the_api_token(live_server):
    """Cookies are scoped by host, not port: any app on 127.0.0.1 may hold ours."""
    answer = post_corpus(live_server, "lancers/thread_silent_fixed.html")[1]
    contract = f"/contracts/{answer['platform']}/{answer['contract_id']}"
    cookie = sign_in(live_server)
    seen = []
    for method, path in [("GET", "/"), ("GET", "/pair"), ("GET", contract), ("GET", contract + "/evidence"),
                         ("GET", "/calendar.ics"), ("GET", "/?all=1"), ("GET", "/static/app.js"),
                         ("GET", "/api/summary"), ("GET", "/api/contracts"), ("GET", "/nope"),
                         ("POST", "/pair/calendar-token"), ("POST", "/logout")]:
        status, headers, body = no_redirect(live_server, method, path, b"" if method == "POST" else None,
                                            headers={"Cookie": cookie, "Origin": live_server.url})
        seen.append((path, status))
        assert live_server.token not in body.decode("utf-8", "replace"), path
        assert live_server.token not in json.dumps(headers), path
    assert ("/pair", 200) in seen


def test_the_calendar_has_its_own_revocable_read_only_token(live_server, ghostwatch):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    assert live_server.request("GET", f"/calendar.ics?token={live_server.token}", token=False)[0] == 401
    calendar = ghostwatch("token", "--calendar").stdout.strip()
    assert calendar and calendar != live_server.token
    status, headers, raw = live_server.request("GET", f"/calendar.ics?token={calendar}", token=False)
    assert status == 200 and raw.startswith(b"BEGIN:VCALENDAR")
    # read-only: it opens nothing else
    assert live_server.request("GET", f"/?token={calendar}", token=False)[0] == 401
    assert live_server.request("GET", "/api/summary", headers={"Authorization": f"Bearer {calendar}"},
                               token=False)[0] == 401
    # shown on the pairing page, with the feed's URL; no subscription from Google Calendar suggested
    cookie = sign_in(live_server)
    _, _, page = live_server.request("GET", "/pair", token=False, headers={"Cookie": cookie})
    page = page.decode()
    assert f"/calendar.ics?token={calendar}" in page
    assert "Google カレンダーなどインターネット上のカレンダーは" in page and "購読できません" in page
    # revoked from the web view: the old URL stops working at once
    status, _, _ = no_redirect(live_server, "POST", "/pair/calendar-token", b"",
                               headers={"Cookie": cookie, "Origin": live_server.url})
    assert status == 303
    assert live_server.request("GET", f"/calendar.ics?token={calendar}", token=False)[0] == 401
    renewed = (live_server.home / "calendar_token").read_text().strip()
    assert live_server.request("GET", f"/calendar.ics?token={renewed}", token=False)[0] == 200


def test_serve_open_never_puts_the_token_on_a_command_line(home, tmp_path):
    record = tmp_path / "browser-args.json"
    browser = tmp_path / "fake-browser"
    browser.write_text(f"#!{sys.executable}\nimport json, sys\n"
                       f"open({str(record)!r}, 'w').write(json.dumps(sys.argv))\n")
    browser.chmod(0o755)
    server = start_server(home, serve_args=["--open"],
                          extra_env={"BROWSER": str(browser), "DISPLAY": ":99"})
    try:
        deadline = time.monotonic() + 20
        while not record.exists():
            assert time.monotonic() < deadline, "the browser was not started"
            time.sleep(0.1)
        time.sleep(0.2)
        argv = json.loads(record.read_text())
        assert server.token not in " ".join(argv)
        opened = Path(argv[1].removeprefix("file://"))
        assert opened.parent == home and mode(opened) == 0o600
        assert f"http://127.0.0.1:{server.port}/?token={server.token}" in opened.read_text()
    finally:
        stop_server(server)
    assert not opened.exists()  # removed when the server stops


@pytest.mark.browser
def test_the_pairing_page_shows_the_token_from_this_origins_storage_only(page, live_server):
    page.goto(f"{live_server.url}/pair?token={live_server.token}")
    assert "token" not in page.url and "ghostwatch-pair" not in page.url
    assert page.locator("code#ghostwatch-token").inner_text() == live_server.token
    assert page.locator("body").get_attribute("data-ghostwatch-token") is None  # shown, not handed out
    # The same page fetched with the same cookie by anything but this origin's script: no token.
    cookie = next(c for c in page.context.cookies() if c["name"] == f"ghostwatch_session_{live_server.port}")
    _, _, raw = live_server.request("GET", "/pair", token=False,
                                    headers={"Cookie": f"{cookie['name']}={cookie['value']}"})
    assert live_server.token not in raw.decode()
    # Logging out forgets it in the browser too.
    page.click("form[action='/logout'] button")
    page.goto(f"{live_server.url}/pair")
    assert page.evaluate("localStorage.getItem('ghostwatch-token')") is None


def test_only_our_own_extension_is_a_trusted_origin(live_server):
    import base64

    from server.security import EXTENSION_ID

    key = json.loads((ROOT / "extension" / "manifest.json").read_text(encoding="utf-8"))["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    assert EXTENSION_ID == "".join(chr(ord("a") + int(c, 16)) for c in digest)
    body = snapshot_body("lancers/thread_silent_fixed.html")
    for foreign in ("chrome-extension://abcdefghijklmnopabcdefghijklmnop", "moz-extension://1234-5678",
                    f"chrome-extension://{EXTENSION_ID}.evil.example"):
        status, answer = live_server.json("POST", "/api/snapshots", body, headers={"Origin": foreign})
        assert status == 403 and answer["error"] == "cross_site_refused", foreign
    status, _ = live_server.json("POST", "/api/snapshots", body, headers={"Origin": f"chrome-extension://{EXTENSION_ID}"})
    assert status == 200


@pytest.mark.browser
def test_two_servers_on_one_machine_keep_their_own_sessions(page, live_server, tmp_path):
    other = start_server(tmp_path / "other-home")
    try:
        for server in (live_server, other):
            page.goto(f"{server.url}/?token={server.token}")
        for server in (live_server, other):
            page.goto(f"{server.url}/")
            assert page.locator("h1").first.inner_text() != "このページを見るにはトークンが必要です", server.url
            assert server.request("GET", "/", token=False, headers={"Cookie": "; ".join(
                f"{c['name']}={c['value']}" for c in page.context.cookies())})[0] == 200
    finally:
        stop_server(other)


# --- 6. bad input never gives 500 -----------------------------------------------------------------


def test_a_non_ascii_cookie_is_refused_not_a_crash(live_server):
    for value in ("ghostwatch_session=あいう".encode(), b"ghostwatch_session=\xff\xfe\x00", b"\xe2\x80\xae=1"):
        answer = raw_exchange(live_server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n"
                              b"Connection: close\r\n\r\n" % (live_server.port, value))
        assert status_of(answer) in (400, 401), answer[:200]  # waitress refuses a NUL in a header


@pytest.mark.parametrize("body,words", [
    (b'{"url": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "入れ子"),
    (b'{"url": "x", "n": ' + b"9" * 5000 + b"}", "数"),
    (b'{"url": "https://www.lancers.jp/mypage/message?boardId=1", "html": "<html>\\ud800</html>", '
     b'"captured_at": "2026-11-21T09:00:00+09:00"}', "サロゲート"),
    (b'{"url": "\\udfff", "html": "x", "captured_at": "x"}', "サロゲート"),
])
def test_json_that_would_break_the_parser_or_the_store_gets_400(live_server, body, words):
    status, _, raw = live_server.request("POST", "/api/snapshots", body)
    assert status == 400, raw[:300]
    answer = json.loads(raw)
    assert answer["error"] == "malformed_json" and words in answer["message"]
    assert "Traceback" not in log_of(live_server)


def test_cr_lf_in_a_path_is_quoted_never_a_header_or_a_crash(live_server):
    for path in (f"/%0d%0aSet-Cookie:%20x=1?token={live_server.token}", "/%0d%0aX-Evil:%201",
                 "/contracts/lancers/1%0d%0a/evidence", "/%E2%80%AE%00"):
        answer = raw_exchange(live_server.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
                              "Connection: close\r\n\r\n".encode())
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert status_of(answer) in (303, 401, 404), answer[:300]
        assert b"\r\nSet-Cookie: x=1" not in head and b"\r\nX-Evil" not in head
        if status_of(answer) == 303:
            location = re.search(rb"\r\nLocation: ([^\r\n]*)", head).group(1)
            assert location.startswith(b"/%0D%0ASet-Cookie:%20x=1#")


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-23:59",
                                     "0001-01-01T00:00:00+23:59"])
def test_an_instant_at_the_edge_of_the_calendar_is_refused_not_a_crash(live_server, instant):
    """Some of these overflow ``datetime`` only in some computations: refused (422 / 400)
    where they would, answered where they do not, never 500."""
    answer = post_corpus(live_server, "lancers/thread_silent_fixed.html")[1]
    contract = f"/contracts/{answer['platform']}/{answer['contract_id']}"
    cookie = sign_in(live_server)
    at = instant.replace(":", "%3A").replace("+", "%2B")
    for path in ("/api/summary", "/api/contracts", "/api" + contract):
        status, body = live_server.json("GET", f"{path}?at={at}")
        assert status == 200 or (status == 422 and body["error"] in ("out_of_range", "invalid_at")), (path, body)
    for path in ("/", contract, contract + "/evidence", "/calendar.ics"):
        status, _, _ = live_server.request("GET", f"{path}?at={at}", token=False, headers={"Cookie": cookie})
        assert status in (200, 400), path
    _, before = live_server.json("GET", "/api" + contract)
    for path, body in (("/api/snapshots", snapshot_body("lancers/thread_silent_fixed.html", captured_at=instant)),
                       ("/api" + contract + "/steps", {"step": "reminder_sent", "done_at": instant})):
        status, answer = live_server.json("POST", path, body)
        assert status == 422 and answer["error"] in ("out_of_range", "invalid_captured_at", "invalid_done_at"), (path, answer)
    _, after = live_server.json("GET", "/api" + contract)
    assert after == before  # nothing written
    assert "Traceback" not in log_of(live_server)


@pytest.mark.parametrize("host", [b"a" * 70_000, b"\xe3\x81\x82:%d", b"127.0.0.1:%d, evil.example", b"[::1"])
@pytest.mark.parametrize("path", ["/", "/api/summary"])
def test_a_host_header_flask_cannot_use_gets_421_not_500(live_server, host, path):
    host = host.replace(b"%d", str(live_server.port).encode())
    answer = raw_exchange(live_server.port, f"GET {path} HTTP/1.1\r\n".encode() + b"Host: " + host
                          + b"\r\nConnection: close\r\n\r\n")
    assert status_of(answer) in (400, 421), answer[:300]
    assert "Traceback" not in log_of(live_server)


def test_a_sign_in_redirect_never_leaves_the_site(live_server):
    for path in ("//evil.example/", "/%2F%2Fevil.example/", "///evil.example"):
        status, headers, _ = no_redirect(live_server, "GET", f"{path}?token={live_server.token}")
        assert status == 303
        assert headers["Location"].startswith("/") and not headers["Location"].startswith("//"), headers["Location"]


@pytest.mark.parametrize("megabytes", [11, 25])
def test_a_chunked_body_over_the_limit_gets_413(live_server, megabytes):
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=60) as sock:
        sock.sendall(f"POST /api/snapshots HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
                     f"Authorization: Bearer {live_server.token}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
        try:
            for _ in range(megabytes):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end: the answer is waiting
        answer = b""
        try:
            while chunk_in := sock.recv(65536):
                answer += chunk_in
        except ConnectionResetError:
            pass
    assert status_of(answer) == 413, answer[:300]
    assert live_server.request("GET", "/api/health")[0] == 200


# --- 7. bidirectional overrides and zero-width characters, neutralised --------------------------


def test_invisible_controls_from_a_page_are_shown_neutralised(live_server):
    body = snapshot_body("lancers/thread_silent_fixed.html", at="2026-11-21T12:00:00+09:00")
    for response in body["responses"]:
        data = json.loads(response["body"])
        if isinstance(data, dict):
            data["title"] = "請求書\u202egpj.exe\u200b確認"
        response["body"] = json.dumps(data, ensure_ascii=False)
    status, answer = live_server.json("POST", "/api/snapshots", body)
    assert status == 200, answer
    assert answer["title"] == "請求書\u202egpj.exe\u200b確認"  # stored as the page had it
    contract = f"/contracts/{answer['platform']}/{answer['contract_id']}"
    cookie = sign_in(live_server)
    for path in ("/?all=1", contract, contract + "/evidence"):
        status, _, raw = live_server.request("GET", path, token=False, headers={"Cookie": cookie})
        page = raw.decode()
        assert status == 200, path
        assert "\u202e" not in page and "\u200b" not in page, path
        assert "請求書&lt;U+202E&gt;gpj.exe&lt;U+200B&gt;確認" in page, path
    status, _, raw = live_server.request("GET", "/calendar.ics?at=2026-11-21T12%3A00%3A00%2B09%3A00",
                                         token=False, headers={"Cookie": cookie})
    assert status == 200
    text = raw.decode().replace("\r\n ", "")
    assert "\u202e" not in text and "\u200b" not in text
    assert "SUMMARY:申請可能: 請求書<U+202E>gpj.exe<U+200B>確認" in text


def test_plain_leaves_ordinary_text_and_markup_alone():
    from markupsafe import Markup

    from server.neutral import plain

    assert plain("お世話になります。👨\u200d👩\u200d👧 🏳\ufe0f\u200d🌈") == "お世話になります。👨\u200d👩\u200d👧 🏳\ufe0f\u200d🌈"
    assert plain("a\u200db") == "a<U+200D>b"
    assert plain("普通の題名") == "普通の題名"
    assert plain(Markup("<b>a\u2066b</b>")) == Markup("<b>a&lt;U+2066&gt;b</b>")
    assert plain(42) == 42
