"""Every refusal of the local server, over real HTTP.

Another user of the machine, or a web page open in the user's browser, must
read nothing and change nothing: loopback Host names only, the token on the
API, the session cookie on the web view, cross-site writes refused, no CORS.
"""

from __future__ import annotations

import json
import stat

import pytest

from conftest import start_server, stop_server
from serverkit import CORPUS, no_redirect, post_corpus, snapshot_body

# The contract of lancers/thread_silent_fixed, as its corpus metadata says.
CONTRACT = json.loads((CORPUS / "lancers" / "thread_silent_fixed.json").read_text(encoding="utf-8"))[
    "expected"]["contract_id"]

API_ROUTES = [
    ("GET", "/api/summary"),
    ("GET", "/api/contracts"),
    ("GET", f"/api/contracts/lancers/{CONTRACT}"),
    ("POST", "/api/snapshots"),
    ("POST", f"/api/contracts/lancers/{CONTRACT}/steps"),
    ("DELETE", f"/api/contracts/lancers/{CONTRACT}/steps/1"),
]
PAGES = ["/", f"/contracts/lancers/{CONTRACT}", f"/contracts/lancers/{CONTRACT}/evidence", "/pair", "/calendar.ics"]


def test_the_token_is_made_on_first_start_readable_by_the_user_only(live_server, ghostwatch):
    path = live_server.home / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(live_server.token) >= 32
    printed = ghostwatch("token")
    assert printed.returncode == 0
    assert printed.stdout.strip() == live_server.token


def test_serve_prints_the_web_view_address_with_its_token(live_server):
    log = (live_server.home.parent / f"server-{live_server.port}.log").read_text(encoding="utf-8")
    assert f"http://127.0.0.1:{live_server.port}/?token={live_server.token}" in log


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "192.168.1.5:{port}",
                                  "localhost.evil.example:{port}"])
@pytest.mark.parametrize("path", ["/api/health", "/api/summary", "/"])
def test_a_foreign_host_name_is_not_answered(live_server, host, path):
    status, headers, body = live_server.request("GET", path, headers={"Host": host.format(port=live_server.port)})
    assert status == 421
    assert "Access-Control-Allow-Origin" not in headers
    assert CONTRACT.encode() not in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST:{port}"])
def test_loopback_host_names_are_answered(live_server, host):
    status, _, _ = live_server.request("GET", "/api/summary", headers={"Host": host.format(port=live_server.port)})
    assert status == 200


@pytest.mark.parametrize("method,path", API_ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic Z2hvc3Q6d2F0Y2g=", "Bearer "])
def test_the_api_needs_the_token(live_server, method, path, authorization):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    headers = {"Authorization": authorization} if authorization else {}
    body = {"step": "request_filed"} if method == "POST" else None
    status, _, raw = live_server.request(method, path, body, headers=headers, token=False)
    assert status == 401
    answer = json.loads(raw)
    assert answer["error"] == "unauthorized" and "ghostwatch token" in answer["message"]
    assert CONTRACT not in raw.decode()
    _, steps = live_server.json("GET", f"/api/contracts/lancers/{CONTRACT}")
    assert steps["recorded_steps"] == []


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "http://127.0.0.1:1"},
    {"Origin": "null"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
])
def test_cross_site_writes_are_refused_even_with_the_token(live_server, headers):
    status, answer = live_server.json("POST", "/api/snapshots", snapshot_body("lancers/thread_silent_fixed.html"),
                                      headers=headers)
    assert status == 403
    assert answer["error"] == "cross_site_refused"
    _, listed = live_server.json("GET", "/api/contracts")
    assert listed["contracts"] == []


@pytest.mark.parametrize("headers", [
    {},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:{port}"},
    {"Sec-Fetch-Site": "none"},
    {"Origin": "chrome-extension://mmnbdkilpncbfalgghnjedggnddnajgn", "Sec-Fetch-Site": "none"},
])
def test_writes_from_the_extension_scripts_and_the_server_itself_pass(live_server, headers):
    headers = {k: v.format(port=live_server.port) for k, v in headers.items()}
    status, answer = live_server.json("POST", "/api/snapshots", snapshot_body("lancers/thread_silent_fixed.html"),
                                      headers=headers)
    assert status == 200, answer


def web_cookie(server) -> str:
    status, headers, _ = no_redirect(server, "GET", f"/?token={server.token}")
    assert status == 303
    return headers["Set-Cookie"].split(";")[0]


def test_the_web_views_forms_need_the_cookie_and_the_same_origin(live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    cookie = web_cookie(live_server)
    form = b"step=request_filed&done_at=2026-11-21T10%3A00&note="
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"/contracts/lancers/{CONTRACT}/steps"
    # A form on another site, even if the browser sent the cookie along:
    for foreign in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        status, _, body = live_server.request("POST", path, form, token=False,
                                              headers={**form_headers, **foreign, "Cookie": cookie})
        assert status == 403
        assert "拒否" in body.decode()
    # The same origin without the cookie:
    status, _, _ = live_server.request("POST", path, form, token=False, headers={
        **form_headers, "Origin": f"http://127.0.0.1:{live_server.port}", "Sec-Fetch-Site": "same-origin"})
    assert status == 401
    _, steps = live_server.json("GET", f"/api/contracts/lancers/{CONTRACT}")
    assert steps["recorded_steps"] == []
    # Both: recorded.
    status, headers, _ = no_redirect(live_server, "POST", path, form, headers={
        **form_headers, "Origin": f"http://127.0.0.1:{live_server.port}", "Sec-Fetch-Site": "same-origin",
        "Cookie": cookie})
    assert status == 303
    _, steps = live_server.json("GET", f"/api/contracts/lancers/{CONTRACT}")
    assert [s["step"] for s in steps["recorded_steps"]] == ["request_filed"]


@pytest.mark.parametrize("method,path", [("OPTIONS", "/api/snapshots"), ("GET", "/api/health"),
                                         ("GET", "/api/summary"), ("OPTIONS", "/")])
def test_no_cors_headers_for_web_origins(live_server, method, path):
    status, headers, _ = live_server.request(method, path, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert not [h for h in headers if h.lower().startswith("access-control-")]


def test_a_body_over_10_mb_gets_413(live_server):
    body = snapshot_body("lancers/thread_silent_fixed.html")
    body["html"] += "<!--" + "x" * (10 * 1024 * 1024) + "-->"
    status, answer = live_server.json("POST", "/api/snapshots", body)
    assert status == 413
    assert "10 MB" in answer["message"]


@pytest.mark.parametrize("raw,status,words", [
    (b"{not json", 400, ["JSON"]),
    (b"", 400, ["空"]),
    (b"[1, 2]", 400, ["オブジェクト"]),
    (b"\xff\xfe{}", 400, ["UTF-8"]),
])
def test_malformed_bodies_get_400_saying_what_is_wrong(live_server, raw, status, words):
    got, _, body = live_server.request("POST", "/api/snapshots", raw)
    assert got == status
    message = json.loads(body)["message"]
    for word in words:
        assert word in message


@pytest.mark.parametrize("field", ["url", "html", "captured_at"])
def test_a_missing_field_is_named(live_server, field):
    body = snapshot_body("lancers/thread_silent_fixed.html")
    del body[field]
    status, answer = live_server.json("POST", "/api/snapshots", body)
    assert status == 400
    assert answer["field"] == field and field in answer["message"]


@pytest.mark.parametrize("change,code,words", [
    ({"url": "https://example.com/some/page"}, "unsupported_url", ["対応していない"]),
    ({"url": 42}, "wrong_type", ["url", "文字列"]),
    ({"captured_at": "last tuesday"}, "invalid_captured_at", ["captured_at", "ISO 8601"]),
    ({"html": ""}, "not_a_page", ["HTML"]),
    ({"html": "\x00\x01binary"}, "not_a_page", ["HTML"]),
])
def test_bad_values_are_refused_saying_what_is_wrong_and_nothing_is_stored(live_server, change, code, words):
    body = {**snapshot_body("lancers/thread_silent_fixed.html"), **change}
    status, answer = live_server.json("POST", "/api/snapshots", body)
    assert status in (400, 422)
    assert answer["error"] == code
    for word in words:
        assert word in answer["message"]
    _, listed = live_server.json("GET", "/api/contracts")
    assert listed["contracts"] == []


def test_snapshot_bodies_and_the_token_never_reach_the_log(home):
    live_server = start_server(home, serve_args=["--verbose"])  # a line per request
    try:
        check_log(live_server)
    finally:
        stop_server(live_server)


def check_log(live_server):
    marker = "GHOSTWATCH-LOG-MARKER-7f3a9c"
    body = snapshot_body("lancers/thread_silent_fixed.html")
    body["html"] = body["html"].replace("</body>", f"<p>{marker}</p></body>")
    assert live_server.json("POST", "/api/snapshots", body)[0] == 200
    bad = json.dumps(body).replace('"url"', '"oops"', 1).encode() + b"}"  # not JSON any more
    assert live_server.request("POST", "/api/snapshots", bad)[0] == 400
    unsupported = {**body, "url": "https://example.com/" + marker}
    assert live_server.json("POST", "/api/snapshots", unsupported)[0] == 422
    live_server.request("GET", f"/?token={live_server.token}", token=False)
    log = (live_server.home.parent / f"server-{live_server.port}.log").read_text(encoding="utf-8")
    assert "POST /api/snapshots" in log  # requests are logged...
    assert marker not in log  # ...their bodies never
    assert log.count(live_server.token) == 1  # only the address printed at start-up


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_token_or_cookie_answer_401_in_japanese_saying_how_to_get_in(live_server, path):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    status, headers, raw = live_server.request("GET", path, token=False)
    assert status == 401
    page = raw.decode()
    assert "ghostwatch serve" in page and "?token=" in page and "ghostwatch token" in page
    assert live_server.token not in page
    assert "美容サロン" not in page


def test_a_visit_with_the_token_sets_a_strict_http_only_cookie_and_drops_the_token(live_server):
    status, headers, _ = no_redirect(
        live_server, "GET", f"/contracts/lancers/1?at=2026-11-21T09%3A00&token={live_server.token}")
    assert status == 303
    # The token goes on in the fragment only (never sent to a server), for this origin's page script.
    assert headers["Location"] == f"/contracts/lancers/1?at=2026-11-21T09%3A00#ghostwatch-pair={live_server.token}"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert live_server.token not in cookie
    status, _, _ = live_server.request("GET", "/", token=False, headers={"Cookie": cookie.split(";")[0]})
    assert status == 200


def test_a_wrong_token_or_cookie_gets_401(live_server):
    status, headers, raw = no_redirect(live_server, "GET", "/?token=nope")
    assert status == 401 and "Set-Cookie" not in headers
    assert "トークンが正しくありません" in raw.decode()
    status, _, _ = live_server.request("GET", "/", token=False, headers={"Cookie": f"ghostwatch_session_{live_server.port}=forged"})
    assert status == 401


def test_the_calendar_takes_its_own_token_as_a_query_parameter(live_server, ghostwatch):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    status, _, _ = live_server.request("GET", "/calendar.ics?token=wrong", token=False)
    assert status == 401
    calendar = ghostwatch("token", "--calendar").stdout.strip()
    status, headers, raw = live_server.request("GET", f"/calendar.ics?token={calendar}", token=False)
    assert status == 200
    assert headers["Content-Type"].startswith("text/calendar")
    assert raw.startswith(b"BEGIN:VCALENDAR")


def test_pages_forbid_framing_and_inline_script(live_server):
    cookie = web_cookie(live_server)
    _, headers, _ = live_server.request("GET", "/", token=False, headers={"Cookie": cookie})
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
