"""``ghostwatch doctor`` and ``ghostwatch redact``: the real command, a real
Chromium against the HTTPS stand-in serving the corpus at the platforms' real
URLs, a real SQLite store; nothing mocked."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from corpus import pages
from test_redact import private_values

LANCERS_THREADS = [p for p in pages() if p.name.startswith("lancers/thread_") and p.responses]
CROWDWORKS_THREADS = [p for p in pages() if p.name.startswith("crowdworks/contract_")]


def doctor(ghostwatch, site, *args):
    """Run ``ghostwatch doctor`` against the stand-in: (run, report dict, report path)."""
    browser = [f"--browser-arg={a}" for a in site.offline_browser_args]
    run = ghostwatch("doctor", "--delay", "0", "--backoff", "0.05", "--timeout", "10", "--retries", "0",
                     "--ignore-https-errors", *browser, *args)
    m = re.search(r"構造レポートを保存しました[^:]*: (\S+)$", run.stdout.strip())
    assert m, run.stdout[-2000:] + run.stderr[-2000:]
    path = Path(m.group(1))
    return run, json.loads(path.read_text(encoding="utf-8")), path


def checklist(report, platform) -> dict[str, dict]:
    p = next(p for p in report["platforms"] if p["platform"] == platform)
    return {c["marker"]: c for c in p["checklist"]}


def assert_private(path: Path, home: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == home / "reports"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = home / "redact.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def assert_no_private_values(text: str, names) -> None:
    for page in pages():
        if page.name not in names:
            continue
        texts, ids = private_values(page)
        for value in texts:
            assert value not in text, f"{page.name}: {value[:30]!r} in the report"
        for value in ids:
            assert not re.search(rf"(?<![0-9A-Za-z]){value}(?![0-9])", text), f"{page.name}: id {value}"


@pytest.mark.browser
def test_doctor_on_the_corpus_finds_every_marker(ghostwatch, site, home):
    run, report, path = doctor(ghostwatch, site, "--contracts", "0")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert report["exit_code"] == 0
    assert_private(path, home)
    for platform in ("lancers", "crowdworks"):
        p = next(p for p in report["platforms"] if p["platform"] == platform)
        assert p["problems"] == []
        statuses = {c["marker"]: c["status"] for c in p["checklist"]}
        assert set(statuses.values()) <= {"found", "not_seen"}, statuses
        assert all(s == "found" for m, s in statuses.items()
                   if next(c for c in p["checklist"] if c["marker"] == m)["level"] != "state")
        assert all(t["accepted"] for t in p["times"])
    lancers, crowdworks = checklist(report, "lancers"), checklist(report, "crowdworks")
    # the ASSUMED parts the corpus shows, seen
    assert lancers["lancers.thread.button"]["status"] == "found"
    assert lancers["lancers.thread.request_status"]["status"] == "found"
    assert crowdworks["crowdworks.thread.collapsed"]["status"] == "found"
    # every listed contract opened (8 Lancers jobs, 7 CrowdWorks contracts), each page kind
    lp = next(p for p in report["platforms"] if p["platform"] == "lancers")
    cp = next(p for p in report["platforms"] if p["platform"] == "crowdworks")
    assert lp["pages"] == {"contract_list": 2, "boards_list": 2, "thread": 8}
    assert cp["pages"] == {"contract_list": 1, "boards_list": 0, "thread": 7}
    patterns = {(t["where"], t["pattern"]) for t in lp["times"]}
    assert {("messages[].modified", "ISO+09:00"), ("messages[].modified", "unix"),
            ("messages[].modified", "YYYY-MM-DD HH:MM:SS"), ("boards[].modified", "YYYY-MM-DD HH:MM:SS")} <= patterns
    assert ("messages.json senddate", "YYYY年MM月DD日 HH:MM") in {(t["where"], t["pattern"]) for t in cp["times"]}
    assert "[].send_user.is_client" in lp["json_keys"]["/v1/message_api/boards/<id>/messages?limit=20"]
    assert cp["json_keys"]["/message/threads/<id>/messages.json"]["messages[].own_message"] == ["bool"]
    # the printed checklist
    assert "✓ selector: aside.p-message-board__deal" in run.stdout
    assert "✓ messages[].modified: ISO+09:00" in run.stdout
    assert "✗" not in run.stdout
    # the board without a deal panel: the list's state and the page's reading disagree, and it says so
    assert any("ページから状態を読み取れませんでした" in d for d in lp["disagreements"])
    # nothing private in the report, and the readers' classes and keys are there
    text = path.read_text(encoding="utf-8")
    opened = {p.name for p in LANCERS_THREADS if p.name not in ("lancers/thread_completed",
                                                                "lancers/thread_inquiry")}
    opened |= {p.name for p in CROWDWORKS_THREADS} | {"lancers/working_list", "lancers/working_list_page2",
                                                      "crowdworks/contracts_active"}
    assert_no_private_values(text, opened)
    for name in ("p-message-board__deal", "p-message-board__contact-request", "c-media-job__status",
                 "p-mypage-work__media", "cw-table", "_messageItem_", "_messageSent_", "pack-message-thread",
                 '"send_user"', '"is_client"', '"modified"', '"own_message"', '"senddate"', '"messageableType"'):
        assert name in text, name


@pytest.mark.browser
def test_doctor_opens_a_few_contracts_of_different_states(ghostwatch, site, home):
    run, report, _ = doctor(ghostwatch, site, "--platform", "lancers")
    assert run.returncode == 0, run.stdout[-3000:]
    (p,) = report["platforms"]
    threads = [r for r in p["readings"] if r["read_as"] == "thread"]
    assert len(threads) == 4
    assert {"in_progress", "delivered", "plan_change"} <= {r.get("status") for r in threads}


def _without(html: bytes, old: str, new: str) -> bytes:
    text = html.decode("utf-8")
    assert old in text
    return text.replace(old, new).encode("utf-8")


@pytest.mark.browser
def test_doctor_names_a_missing_marker_and_a_new_time_format_lancers(ghostwatch, site, home):
    # The site renamed the deal panel on every board ...
    for page in LANCERS_THREADS:
        if b"p-message-board__deal" in page.html.read_bytes():
            site.route(page.url, _without(page.html.read_bytes(), "p-message-board__deal\"",
                                          "p-message-board__dealbox\""))
    # ... and one board's messages now carry another time format.
    recent = next(p for p in LANCERS_THREADS if p.name == "lancers/thread_recent")
    board = recent.expected["thread_id"]
    first = next(r for r in recent.responses_list() if r["url"].endswith(f"/boards/{board}/messages?limit=20"))
    items = json.loads(first["body"])
    for item in items:
        item["modified"] = "2026/11/18 10:05"
    site.route_json(first["url"], items)
    run, report, path = doctor(ghostwatch, site, "--platform", "lancers", "--contracts", "0")
    assert run.returncode == 9, run.stdout[-3000:]
    assert report["exit_code"] == 9
    marks = checklist(report, "lancers")
    assert marks["lancers.thread.deal_panel"]["status"] == "missing"
    assert marks["lancers.thread.label:状態"]["status"] == "missing"
    # where the label's text stands now
    assert any("p-message-board__dealbox" in h for h in marks["lancers.thread.label:状態"]["hints"])
    (p,) = report["platforms"]
    assert {"where": "messages[].modified", "pattern": "YYYY/MM/DD HH:MM", "accepted": False,
            "count": len(items)} in p["times"]
    assert any("YYYY/MM/DD HH:MM" in problem for problem in p["problems"])
    assert any(r.get("unreadable") for r in p["readings"])
    assert "✗ selector: aside.p-message-board__deal" in run.stdout
    assert "✗ 読み取れない書式 messages[].modified: YYYY/MM/DD HH:MM" in run.stdout
    assert "2026/11/18" not in path.read_text(encoding="utf-8")


@pytest.mark.browser
def test_doctor_names_a_missing_marker_and_a_new_time_format_crowdworks(ghostwatch, site, home):
    for page in CROWDWORKS_THREADS:
        site.route(page.url, _without(page.html.read_bytes(), 'class="contract cw-table"', 'class="contract-facts"'))
    recent = next(p for p in CROWDWORKS_THREADS if p.name == "crowdworks/contract_recent")
    (response,) = recent.responses_list()
    data = json.loads(response["body"])
    for item in data["messages"]:
        item["senddate"] = "2026-11-16T12:10:00+09:00"
    site.route_json(response["url"], data)
    run, report, _ = doctor(ghostwatch, site, "--platform", "crowdworks", "--contracts", "0")
    assert run.returncode == 9, run.stdout[-3000:]
    marks = checklist(report, "crowdworks")
    assert marks["crowdworks.thread.facts_table"]["status"] == "missing"
    assert marks["crowdworks.thread.fact:仕事"]["status"] == "missing"
    (p,) = report["platforms"]
    assert any(t["pattern"] == "ISO+09:00" and not t["accepted"] for t in p["times"])
    assert "✗ selector: table.contract.cw-table" in run.stdout
    assert "✗ 読み取れない書式 messages.json senddate: ISO+09:00" in run.stdout


@pytest.mark.browser
def test_doctor_not_logged_in(ghostwatch, site, home):
    site.logged_out = True
    run, report, _ = doctor(ghostwatch, site, "--platform", "crowdworks")
    assert run.returncode == 3
    assert "ghostwatch login --platform crowdworks" in run.stderr


@pytest.mark.browser
def test_doctor_with_no_open_contract(ghostwatch, site, home):
    """An account with no open contract: the list's markers are checked, the contract
    pages' cannot be (said so, not an error)."""
    empty = next(p for p in pages() if p.name == "crowdworks/contracts_active_empty")
    site.route(empty.url, empty.html.read_bytes())
    run, report, _ = doctor(ghostwatch, site, "--platform", "crowdworks")
    assert run.returncode == 0, run.stdout[-3000:]
    marks = checklist(report, "crowdworks")
    assert marks["crowdworks.contract_list.nodata"]["status"] == "found"
    assert marks["crowdworks.thread.thread"]["status"] == "unchecked"
    assert "確認できなかった目印" in run.stdout and "thread: 開けるページがありませんでした" in run.stdout


@pytest.mark.browser
def test_doctor_human_check(ghostwatch, site, home):
    site.human_check = True
    run, report, _ = doctor(ghostwatch, site, "--platform", "lancers")
    assert run.returncode == 8
    assert report["platforms"][0]["exit_code"] == 8


def test_redact_a_stored_snapshot(ghostwatch, home):
    """``ghostwatch redact SNAPSHOT_ID`` on every corpus capture stored in a real database."""
    from collector.timeutil import parse_instant
    from server.store import Store

    db = home / "ghostwatch.db"
    home.mkdir(parents=True, exist_ok=True)
    stored = {}
    with Store(db) as store:
        for page in pages():
            result = store.ingest(page.url, page.html.read_bytes(), parse_instant(page.meta["captured_at"]),
                                  source="test", responses=page.responses_list())
            stored[page.name] = result.snapshot_id
    for name, snapshot_id in stored.items():
        run = ghostwatch("redact", str(snapshot_id), "--db", str(db))
        assert run.returncode == 0, run.stderr
        path = Path(run.stdout.strip().splitlines()[-1].split(": ", 1)[1])
        assert_private(path, home)
        report = json.loads(path.read_text(encoding="utf-8"))
        assert report["snapshot"]["id"] == snapshot_id
        assert_no_private_values(path.read_text(encoding="utf-8"), {name})
        if name == "lancers/thread_no_api":
            assert report["problems"] and report["check"]["readings"][0]["unreadable"]
            assert "✗" in run.stdout
    run = ghostwatch("redact", "99999", "--db", str(db))
    assert run.returncode == 2
    assert "スナップショット 99999 はありません" in run.stderr
    # by contract: its latest capture; without either, the unreadable contracts are listed
    run = ghostwatch("redact", "--contract", "CW:63724402", "--db", str(db))  # as the status table shows it
    assert run.returncode == 0, run.stderr
    assert json.loads(Path(run.stdout.strip().split(": ", 1)[1]).read_text(encoding="utf-8"))["snapshot"]["id"] == (
        stored["crowdworks/contract_recent"])
    run = ghostwatch("redact", "--db", str(db))
    assert run.returncode == 2
    assert f"lancers:board-9066731  {stored['lancers/thread_no_api']}" in run.stdout
    assert "--contract PLATFORM:ID" in run.stderr
    run = ghostwatch("redact", "--contract", "lancers:1", "--db", str(db))
    assert run.returncode == 2 and "lancers:1" in run.stderr


def test_web_view_saves_the_structure_report(home, monkeypatch):
    """「構造レポートを保存」: POST /contracts/<platform>/<id>/structure-report on a real HTTP
    server (the app with the report blueprint), over a real database; the report of the
    contract's latest capture comes back as a download and is kept in reports/."""
    import http.cookiejar
    import threading
    import urllib.error
    import urllib.request

    from werkzeug.serving import make_server

    from collector.timeutil import parse_instant
    from conftest import free_port
    from server import report_views
    from server.app import create_app
    from server.store import Store

    monkeypatch.setenv("GHOSTWATCH_HOME", str(home))
    home.mkdir(parents=True, exist_ok=True)
    db = home / "ghostwatch.db"
    page = next(p for p in pages() if p.name == "lancers/thread_no_api")
    with Store(db) as store:
        store.ingest(page.url, page.html.read_bytes(), parse_instant(page.meta["captured_at"]), source="test")
        contract = next(c for c in store.contracts() if c["read_state"] == "unreadable")
    port = free_port()
    app = create_app(db_path=db, token="t" * 32, port=port)
    if "reports" not in app.blueprints:  # until server/app.py registers it
        app.register_blueprint(report_views.bp)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        opener.open(f"{base}/?token={'t' * 32}", timeout=30).read()  # the session cookie
        path = f"/contracts/{contract['platform']}/{contract['contract_id']}/structure-report"
        request = urllib.request.Request(base + path, data=b"", method="POST", headers={"Origin": base})
        with opener.open(request, timeout=30) as response:
            assert response.status == 200
            disposition = response.headers["Content-Disposition"]
            body = response.read().decode("utf-8")
        name = re.search(r'filename="([^"]+)"', disposition).group(1)
        saved = home / "reports" / name
        assert saved.read_text(encoding="utf-8") == body
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        report = json.loads(body)
        assert report["report"] == "ghostwatch redact" and report["problems"]
        assert_no_private_values(body, {page.name})
        # from another site: refused; an unknown contract: 404
        refused = urllib.request.Request(base + path, data=b"", method="POST",
                                         headers={"Origin": "https://evil.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(refused, timeout=30)
        assert err.value.code == 403
        missing = urllib.request.Request(base + "/contracts/lancers/1/structure-report", data=b"", method="POST",
                                         headers={"Origin": base})
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(missing, timeout=30)
        assert err.value.code == 404
    finally:
        server.shutdown()


def test_disagreements_between_reading_and_page():
    """The JSON has a message the page does not show (no folded history), and the
    list's state is not the page's: both named, without a value of the page."""
    from lxml import etree

    from collector import markers
    from collector.pages import read_page

    page = next(p for p in pages() if p.name == "crowdworks/contract_recent")
    doc = etree.fromstring(page.html.read_bytes(), etree.HTMLParser(encoding="utf-8"))
    item = doc.xpath("//*[@id='message-429201803']")[0]
    item.getparent().remove(item)
    html = etree.tostring(doc, method="html", encoding="unicode")
    reading = read_page(html, page.url, page.responses_list())
    assert reading.status == "in_progress"
    checked = markers.Page("crowdworks", "thread", page.url, html, page.responses_list(), reading,
                           listed_status="delivered", listed_id=page.expected["contract_id"])
    found = markers.disagreements(checked, markers.redactor(b"k"))
    assert "messages.json に、ページに表示されていないメッセージが 1 件あります（折りたたみ表示なし）" in found
    assert "一覧の状態 (delivered) とページの状態 (in_progress) が違います" in found
    assert not any("429201803" in d or page.expected["contract_id"] in d for d in found)
