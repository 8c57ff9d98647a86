"""``ghostwatch serve`` and ``ghostwatch token`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from conftest import ROOT, stop_server
from serverkit import post_corpus, start_server


def test_token_is_made_before_the_first_serve_and_reset_on_demand(ghostwatch, home):
    first = ghostwatch("token")
    assert first.returncode == 0
    token = first.stdout.strip()
    assert len(token) >= 32
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
    assert ghostwatch("token").stdout.strip() == token  # the same token every time
    reset = ghostwatch("token", "--reset")
    assert reset.returncode == 0
    assert reset.stdout.strip() != token
    assert "再起動" in reset.stderr
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600


def test_serve_uses_the_existing_token(ghostwatch, home):
    token = ghostwatch("token").stdout.strip()
    server = start_server(home)
    try:
        assert server.token == token
        assert server.json("GET", "/api/summary")[0] == 200
    finally:
        stop_server(server)


def test_serve_stores_into_the_db_given_and_status_reads_it(ghostwatch, home, tmp_path):
    db = tmp_path / "elsewhere.db"
    home.mkdir(parents=True, exist_ok=True)
    server = start_server(home, serve_args=["--db", str(db)])
    try:
        status, answer = post_corpus(server, "lancers/thread_silent_fixed.html")
        assert status == 200
    finally:
        stop_server(server)
    listed = ghostwatch("status", "--json", "--db", str(db)).json()
    assert [v["contract_id"] for v in listed] == [answer["contract_id"]]
    assert ghostwatch("status", "--json").json() == []


def test_a_busy_port_is_a_clear_error(live_server):
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(live_server.port), "--no-open"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "GHOSTWATCH_HOME": str(live_server.home)},
    )
    assert proc.returncode != 0
    assert f"127.0.0.1:{live_server.port}" in proc.stderr
    assert "--port" in proc.stderr


def test_sigterm_stops_the_server_cleanly(live_server):
    live_server.process.send_signal(signal.SIGTERM)
    assert live_server.process.wait(timeout=15) == 0
    log = (live_server.home.parent / f"server-{live_server.port}.log").read_text(encoding="utf-8")
    assert "終了します" in log
    assert "Traceback" not in log


def test_serve_help_names_its_options(ghostwatch):
    out = ghostwatch("serve", "--help")
    assert out.returncode == 0
    for option in ("--host", "--port", "--no-open", "--db"):
        assert option in out.stdout


@pytest.mark.browser
def test_serve_starts_the_scheduled_collector_the_settings_ask_for(page, home):
    # A browser that does not exist: the collect run fails at once, offline,
    # and the web view says so.
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({
        "collect_interval_minutes": 60,
        "collect_platforms": ["lancers"],
        "collect_args": ["--browser-path", "/nonexistent/chromium"],
    }), encoding="utf-8")
    server = start_server(home)
    try:
        page.goto(f"{server.url}/?token={server.token}")
        box = page.locator("#collecting")
        expect(box).to_contain_text("ランサーズを毎時")
        for _ in range(60):
            if "うまくいきませんでした" in box.inner_text():
                break
            time.sleep(0.5)
            page.reload()
        expect(box).to_contain_text("ブラウザが見つかりません")
    finally:
        stop_server(server)
    assert server.process.returncode == 0


@pytest.mark.browser
def test_without_settings_there_is_no_collector(page, live_server):
    page.goto(f"{live_server.url}/?token={live_server.token}")
    expect(page.locator("h1")).to_contain_text("契約一覧")
    expect(page.locator("#collecting")).to_have_count(0)
