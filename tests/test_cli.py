"""The command line as a user meets it: clear errors, non-zero exits, nothing
half-written, and the data directory where the README says it is."""

import json
from pathlib import Path
import sqlite3

import pytest

from corpus import page

SILENT_PAGE = page("lancers/thread_silent_fixed")
SILENT = SILENT_PAGE.html
SILENT_URL = SILENT_PAGE.url
RESPONSES = ["--responses", str(SILENT_PAGE.responses)]
JOB = SILENT_PAGE.expected["contract_id"]


def test_ingest_stores_in_the_data_directory(ghostwatch, home):
    run = ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-11-20T21:40:00+09:00",
                     *RESPONSES, "--at", "2026-11-21T09:00:00+09:00")
    assert run.returncode == 0, run.stderr
    assert run.json()["state"] == "eligible"
    db = home / "ghostwatch.db"
    assert db.exists()
    assert sqlite3.connect(db).execute("select count(*) from snapshots").fetchone() == (1,)


def test_db_option_puts_the_database_elsewhere(ghostwatch, tmp_path):
    db = tmp_path / "other.db"
    run = ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, *RESPONSES, "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert ghostwatch("status", "--json", "--db", str(db)).json()[0]["contract_id"] == JOB
    assert ghostwatch("status", "--json").json() == []


def test_missing_file(ghostwatch):
    run = ghostwatch("parse", "no-such-page.html", "--url", SILENT_URL)
    assert run.returncode != 0
    assert "'no-such-page.html' がありません" in run.stderr


def test_url_of_no_supported_page(ghostwatch):
    run = ghostwatch("parse", str(SILENT), "--url", "https://www.lancers.jp/work/detail/4862017")
    assert run.returncode == 2
    assert "対応していないページです" in run.stderr


@pytest.mark.parametrize("body", [b"", b"\x89PNG\r\n\x1a\n\x00\x00", b'{"messages": []}'])
def test_html_that_is_not_a_page(ghostwatch, tmp_path, home, body):
    bad = tmp_path / "bad.html"
    bad.write_bytes(body)
    run = ghostwatch("ingest", str(bad), "--url", SILENT_URL)
    assert run.returncode == 2
    assert "HTML ではありません" in run.stderr
    assert "何も書き込んでいません" in run.stderr
    db = home / "ghostwatch.db"
    assert not db.exists() or sqlite3.connect(db).execute("select count(*) from snapshots").fetchone() == (0,)


def test_invalid_captured_at(ghostwatch):
    run = ghostwatch("parse", str(SILENT), "--url", SILENT_URL, "--captured-at", "yesterday")
    assert run.returncode == 2
    assert "'yesterday'" in run.stderr and "ISO 8601" in run.stderr


def test_a_thread_without_its_json_prints_unreadable_with_the_board_and_the_reason(ghostwatch):
    run = ghostwatch("parse", str(SILENT), "--url", SILENT_URL)
    assert run.returncode == 0
    reading = run.json()
    assert reading["unreadable"] is True and reading["thread_id"] == SILENT_URL.rsplit("=", 1)[1]
    assert "/v1/message_api/boards/" in reading["reason"]


def test_ingest_of_an_unreadable_capture_says_so_with_its_reason(ghostwatch):
    run = ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-11-20T21:40:00+09:00")
    assert run.returncode == 0, run.stderr
    answer = run.json()
    assert answer["unreadable"] is True and answer["state"] == "unreadable"
    assert "ボードの詳細" in answer["reason"]


@pytest.mark.parametrize("content", ["{}", "[1, 2]", '[{"url": "https://www.lancers.jp/x", "status": "200", "body": ""}]',
                                     "not json"])
def test_responses_file_of_the_wrong_shape_is_refused(ghostwatch, tmp_path, home, content):
    bad = tmp_path / "responses.json"
    bad.write_text(content)
    run = ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, "--responses", str(bad))
    assert run.returncode == 2
    assert "--responses" in run.stderr and "Traceback" not in run.stderr
    assert not (home / "ghostwatch.db").exists() or sqlite3.connect(home / "ghostwatch.db").execute(
        "select count(*) from snapshots").fetchone() == (0,)


def test_status_table_is_human_readable(ghostwatch):
    ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-11-20T21:40:00+09:00", *RESPONSES)
    run = ghostwatch("status", "--at", "2026-11-21T09:00:00+09:00")
    assert run.returncode == 4  # a request can be filed
    assert "申請できます" in run.stdout and SILENT_PAGE.expected["title"][:6] in run.stdout
    assert f"L:{JOB}" in run.stdout


def test_status_table_fits_80_columns_with_every_contract_id(ghostwatch):
    from rich.cells import cell_len

    from corpus import pages

    for p in pages():
        assert ghostwatch("ingest", *p.args()).returncode == 0
    run = ghostwatch("status", "--at", "2026-11-21T12:00:00+09:00")
    lines = run.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    verdicts = ghostwatch("status", "--json", "--at", "2026-11-21T12:00:00+09:00").json()
    for v in verdicts:
        if v["state"] != "closed":
            short = "L" if v["platform"] == "lancers" else "CW"
            assert f"{short}:{v['contract_id']}" in run.stdout


@pytest.mark.parametrize(("pages_", "code"), [
    ([], 0),
    (["lancers/thread_recent"], 0),  # ok: nothing to do
    (["crowdworks/contract_collapsed"], 3),  # a reminder is due
    (["lancers/thread_no_panel"], 3),  # 要確認
    (["lancers/thread_recent", "lancers/thread_silent_fixed"], 4),  # a request can be filed
])
def test_status_exit_codes_say_whether_something_needs_action(ghostwatch, pages_, code):
    for name in pages_:
        assert ghostwatch("ingest", *page(name).args()).returncode == 0
    at = "2026-11-21T14:05:00+09:00"
    assert ghostwatch("status", "--at", at).returncode == code
    assert ghostwatch("status", "--json", "--at", at).returncode == code


def test_ingest_takes_several_capture_files_and_refuses_all_for_one_bad(ghostwatch, tmp_path, home):
    from corpus import pages

    files = []
    for n, p in enumerate(pages()[:4]):
        capture = {"url": p.url, "captured_at": p.meta["captured_at"],
                   "html": p.html.read_text(encoding="utf-8"), "responses": p.responses_list()}
        files.append(tmp_path / f"capture{n}.json")
        files[-1].write_text(json.dumps(capture, ensure_ascii=False), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"url": "https://example.com/", "captured_at": "2026-11-21T09:00:00+09:00",
                               "html": "<html></html>"}))
    run = ghostwatch("ingest", *map(str, files), str(bad))
    assert run.returncode == 2 and "bad.json" in run.stderr and "何も書き込んでいません" in run.stderr
    db = home / "ghostwatch.db"
    assert not db.exists() or sqlite3.connect(db).execute("select count(*) from snapshots").fetchone() == (0,)
    run = ghostwatch("ingest", *map(str, files))
    assert run.returncode == 0, run.stderr
    answers = run.json()
    assert len(answers) == 4
    assert [a.get("contract_id") for a in answers] == [p.expected.get("contract_id") for p in pages()[:4]]


def test_reparse_reports_what_it_read(ghostwatch):
    ghostwatch("ingest", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-11-20T21:40:00+09:00")
    run = ghostwatch("reparse")
    assert run.returncode == 0
    assert "1 件のスナップショットを読み直しました" in run.stdout


def test_help_lists_every_command(ghostwatch):
    run = ghostwatch("--help")
    for command in ("parse", "ingest", "status", "reparse"):
        assert command in run.stdout
    assert "--db" in ghostwatch("status", "--help").stdout


def test_all_instants_printed_are_japan_time(ghostwatch):
    run = ghostwatch("parse", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-11-20T12:40:00Z", *RESPONSES)
    reading = json.loads(run.stdout)
    assert all(m["sent_at"].endswith("+09:00") for m in reading["messages"])
    assert reading["last_client_message_at"] == "2026-11-10T15:26:00+09:00"


def test_install_browser_uses_a_chromium_that_is_there(ghostwatch):
    from collector.browser import CANDIDATES

    present = next(path for path in CANDIDATES if Path(path).is_file())
    run = ghostwatch("install-browser")
    assert run.returncode == 0, run.stderr
    assert f"ブラウザは用意できています: {present}" in run.stdout
    assert "ダウンロード" not in run.stderr  # nothing downloaded


def test_a_capture_reads_the_same_a_month_later_in_another_time_zone(home):
    """Every instant a capture holds is absolute: re-reading it later, on a
    machine set to another time zone, gives the same reading and the same
    dates (only the days of silence count on)."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    def run(*args, tz):
        proc = subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "GHOSTWATCH_HOME": str(home), "TZ": tz}, timeout=120)
        assert proc.returncode in (0, 3, 4), proc.stderr
        return json.loads(proc.stdout)

    first = run("parse", *SILENT_PAGE.args(), tz="Asia/Tokyo")
    later = run("parse", str(SILENT), "--url", SILENT_URL, "--captured-at", "2026-12-20T21:40:00+09:00",
                *RESPONSES, tz="America/Los_Angeles")
    assert later == first
    run("ingest", *SILENT_PAGE.args(), tz="Asia/Tokyo")
    now_ = run("status", "--json", "--at", "2026-11-21T09:00:00+09:00", tz="Asia/Tokyo")[0]
    month = run("status", "--json", "--at", "2026-12-21T09:00:00+09:00", tz="Pacific/Honolulu")[0]
    assert month["last_client_message_at"] == now_["last_client_message_at"] == SILENT_PAGE.expected[
        "last_client_message_at"]
    assert month["silent_since"] == now_["silent_since"]
    assert month["silent_days"] == now_["silent_days"] + 30
