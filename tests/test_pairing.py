"""Pairing the extension (server/pairing.py) and the table of states
(server/states.py), over HTTP on the real server: the token goes only to
ghostwatch's own extension, and only after the user confirmed it in the web view."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from conftest import stop_server
from extension_helpers import start_server_on
from server import rules
from server.labels import PLATFORM_LABELS, STATE_LABELS
from server.security import EXTENSION_ID

OURS = f"chrome-extension://{EXTENSION_ID}"
OTHER = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


@pytest.fixture
def server(tmp_path):
    running = start_server_on(tmp_path / "home")
    yield running
    stop_server(running)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session_cookie(server) -> str:
    """The cookie a browser gets by opening the address ``ghostwatch serve`` printed."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{server.url}/?token={server.token}")
    except urllib.error.HTTPError as err:
        assert err.code == 303
        return err.headers["Set-Cookie"].split(";")[0]
    raise AssertionError("no redirect")


def call(server, method, path, body=None, origin=None, cookie=None, bearer=False):
    headers = {}
    if origin:
        headers["Origin"] = origin
    if cookie:
        headers["Cookie"] = cookie
    if bearer:
        headers["Authorization"] = f"Bearer {server.token}"
    status, _, raw = server.request(method, path, body, headers=headers, token=False)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def test_the_token_only_to_our_extension_after_the_user_confirmed(server):
    cookie = session_cookie(server)
    # Only our extension may ask, and only from a browser with the web view's session.
    assert call(server, "POST", "/pair/extension/requests", {}, origin=OTHER, cookie=cookie)[0] == 403
    assert call(server, "POST", "/pair/extension/requests", {}, cookie=cookie)[0] == 403
    assert call(server, "POST", "/pair/extension/requests", {}, origin=OURS)[0] == 401
    status, started = call(server, "POST", "/pair/extension/requests", {}, origin=OURS, cookie=cookie)
    assert status == 201 and re.fullmatch(r"\d{4}", started["code"])
    assert server.token not in json.dumps(started)
    request_id = started["request"]

    # Not yet confirmed: no token.
    status, answer = call(server, "POST", "/pair/extension/claim", {"request": request_id}, origin=OURS, cookie=cookie)
    assert (status, answer) == (202, {"status": "pending"})

    # The confirmation page shows the same code.
    status, page = call(server, "GET", started["confirm_url"], cookie=cookie)
    assert status == 200 and started["code"] in page and "この拡張機能を接続" in page
    assert server.token not in page

    # A cookie alone cannot confirm (every app on 127.0.0.1 receives it), nor
    # the extension itself, nor another extension; the web view with the token can.
    approve = {"request": request_id}
    own = server.url
    assert call(server, "POST", "/api/pairing/approve", approve, origin=own, cookie=cookie)[0] == 401
    assert call(server, "POST", "/api/pairing/approve", approve, origin=OURS, bearer=True)[0] == 403
    assert call(server, "POST", "/api/pairing/approve", approve, origin=OTHER, bearer=True)[0] == 403
    assert call(server, "POST", "/api/pairing/approve", {"request": "nope"}, origin=own, bearer=True)[0] == 404
    assert call(server, "POST", "/api/pairing/approve", approve, origin=own, bearer=True) == (200, {"approved": True})

    # Another extension never gets it; ours does, once.
    assert call(server, "POST", "/pair/extension/claim", approve, origin=OTHER, cookie=cookie)[0] == 403
    status, answer = call(server, "POST", "/pair/extension/claim", approve, origin=OURS, cookie=cookie)
    assert (status, answer) == (200, {"status": "approved", "token": server.token})
    assert call(server, "POST", "/pair/extension/claim", approve, origin=OURS, cookie=cookie)[0] == 404
    status, page = call(server, "GET", started["confirm_url"], cookie=cookie)
    assert status == 200 and started["code"] not in page and "期限が切れています" in page


def test_other_extensions_are_foreign_to_the_api(server):
    body = {"url": "https://crowdworks.jp/contracts/1", "html": "<html></html>", "captured_at": "2026-11-20T00:00:00Z"}
    status, answer = call(server, "POST", "/api/snapshots", body, origin=OTHER, bearer=True)
    assert status == 403 and answer["error"] == "cross_site_refused"


def test_one_table_of_states_served_to_the_extension(server):
    status, table = call(server, "GET", "/api/states", bearer=True)
    assert status == 200
    assert [s["state"] for s in table["states"]] == list(rules.URGENCY)
    for entry in table["states"]:
        assert entry["label"] == STATE_LABELS[entry["state"]]
        assert entry["help"] == rules.STATE_HELP[entry["state"]]
        assert entry["needs_action"] == (entry["state"] in rules.NEEDS_ACTION)
        assert re.fullmatch(r"#[0-9a-f]{6}", entry["color"])
    assert table["platforms"] == PLATFORM_LABELS
    assert table["days"] == {"nudge": rules.NUDGE_DAYS, "eligible": rules.ELIGIBLE_DAYS}
    assert call(server, "GET", "/api/states")[0] == 401  # the API's token, like every API route
    # The web view's chips, from the same table.
    cookie = session_cookie(server)
    status, css = call(server, "GET", "/states.css", cookie=cookie)
    assert status == 200
    for entry in table["states"]:
        assert f".chip.state-{entry['state']} {{ background: {entry['color']};" in css
