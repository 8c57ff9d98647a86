"""The JSON API, driven over HTTP against the real ``ghostwatch serve``.

What the extension relies on: a capture posted (the page and the platform's
same-origin JSON, as ``extension/capture.js`` gathers them) gives the contract's
verdict (the same object as ``status --json``) and a badge; list pages,
inquiries and unreadable captures answer in their own way; the summary feeds
the global badge.  Every expectation comes from the corpus JSON (``expected``).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading

import pytest

from conftest import ROOT
from corpus import Page, page, pages
from pagekit import lancers_capture
from serverkit import no_redirect

GREEN, AMBER, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#757575"
VERDICT_KEYS = {
    "platform", "contract_id", "thread_id", "title", "client", "url", "pay_type", "status", "escalation", "state",
    "silent_since", "silent_days", "silence_is_lower_bound", "last_client_message_at", "eligible_at",
    "deadline_at", "reasons", "next_action", "source", "fact_sources",
}
FACTS = ("title", "client", "pay_type", "status", "escalation")
# Most urgent first (docs/server.md, rules): 要確認 right after 申請できます.
URGENCY = ["overdue", "eligible", "unconfirmed", "unreadable", "requested", "not_eligible", "nudge", "ok",
           "unknown", "closed"]
NEEDS_ACTION = ("overdue", "eligible", "unconfirmed", "nudge", "unreadable")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

PAGES = pages()
THREADS = [p for p in PAGES if p.expected["page"] == "thread"]
READABLE_THREADS = [p for p in THREADS if not p.expected.get("unreadable")]
LISTS = [p for p in PAGES if p.expected["page"] == "contract_list"]
[INQUIRY] = [p for p in PAGES if p.expected["page"] == "inquiry"]
[NO_API] = [p for p in THREADS if p.expected.get("unreadable")]
SILENT = page("lancers/thread_silent_fixed")  # eligible: Lancers shows the button
AT = SILENT.expected["at"]
AT_Q = AT.replace("+", "%2B")


# --- posting captures, as the extension does ------------------------------------


def capture_body(p: Page, **extra) -> dict:
    """What the extension posts for a corpus capture: the page and its responses."""
    return {"url": p.url, "html": p.html.read_text(encoding="utf-8"), "captured_at": p.meta["captured_at"],
            "responses": p.responses_list(), **extra}


def post_page(server, p: Page, **extra):
    """POST one corpus capture: (status, answer)."""
    return server.json("POST", "/api/snapshots", capture_body(p, **extra))


def post_all(server) -> dict[str, dict]:
    """Every corpus capture, posted; answers by ``platform/name``."""
    answers = {}
    for p in PAGES:
        status, answer = post_page(server, p)
        assert status == 200, (p.name, answer)
        answers[p.name] = answer
    return answers


def days_text(verdict: dict) -> str:
    return f"{verdict['silent_days']}{'+' if verdict['silence_is_lower_bound'] else ''}"


def contract_key(p: Page) -> str:
    """The contract a thread capture is stored under: its contract id (Lancers'
    job id), or, for a Lancers board whose job the capture does not name,
    ``board-<board id>``."""
    return p.expected.get("contract_id") or f"board-{p.expected['thread_id']}"


# --- tests ------------------------------------------------------------------------


def test_health_needs_no_token_and_names_the_version(live_server):
    status, body = live_server.json("GET", "/api/health", token=False)
    assert status == 200
    assert body["name"] == "ghostwatch"
    assert body["version"] == "0.1.0"


@pytest.mark.parametrize("p", READABLE_THREADS, ids=[p.name for p in READABLE_THREADS])
def test_a_posted_capture_answers_its_verdict_as_the_corpus_says(live_server, p):
    expected = p.expected
    status, answer = post_page(live_server, p, at=expected["at"])
    assert status == 200, answer
    assert VERDICT_KEYS <= answer.keys()
    assert answer["page"] == "thread"
    # Lancers: the contract is the job, the thread is the board.
    assert answer["contract_id"] == expected["contract_id"]
    assert answer["thread_id"] == expected["thread_id"]
    for key in FACTS:
        assert answer[key] == expected[key], key
    for key, value in expected["verdict"].items():
        assert answer[key] == value, key
    # Where each fact came from: nothing unknown is given a source.
    sources = answer["fact_sources"]
    assert answer["source"] == expected["source"]
    assert sources["messages"] == expected["source"]
    for key in FACTS:
        if expected[key] is None:
            assert sources.get(key) is None, key
        else:
            assert sources[key] in ("api", "page"), key
    badge = answer["badge"]
    state = expected["verdict"]["state"]
    if state == "closed":
        assert badge["text"] == ""
        return
    days = expected["verdict"]["silent_days"]
    if state == "unconfirmed":  # the days are known; whether a request can be filed is not
        assert badge["text"].startswith(days_text(expected["verdict"]))
    else:
        assert badge["text"] == days_text(expected["verdict"])
    if state == "unconfirmed":  # its own colour, as GET /api/states says, apart from a request that can be filed
        _, table = live_server.json("GET", "/api/states")
        own = next(row["badge_color"] for row in table["states"] if row["state"] == "unconfirmed")
        assert badge["color"] == own != RED
    elif days >= 7 or state in ("eligible", "overdue"):
        assert badge["color"] == RED
    elif days >= 3:
        assert badge["color"] == AMBER
    else:
        assert badge["color"] == GREEN


def test_a_lancers_contract_is_its_job_and_its_board_is_the_thread(live_server):
    post_page(live_server, SILENT)
    job, board = SILENT.expected["contract_id"], SILENT.expected["thread_id"]
    status, body = live_server.json("GET", f"/api/contracts/lancers/{job}")
    assert status == 200
    assert body["thread_id"] == board
    assert body["view_url"] == f"{live_server.url}/contracts/lancers/{job}"
    # The board id is no contract of its own.
    assert live_server.json("GET", f"/api/contracts/lancers/{board}")[0] == 404
    # The working list names the same job: one contract, not two.
    post_page(live_server, page("lancers/working_list"))
    _, listed = live_server.json("GET", "/api/contracts")
    assert [c["contract_id"] for c in listed["contracts"]].count(job) == 1


def test_the_answer_is_the_same_verdict_as_status_json(live_server, ghostwatch):
    _, answer = post_page(live_server, SILENT, at=AT)
    [entry] = ghostwatch("status", "--json", "--at", AT).json()
    assert {k: answer[k] for k in entry} == entry


def test_badge_colours_for_a_silent_a_recent_and_a_nudged_contract(live_server):
    _, silent = post_page(live_server, SILENT, at=AT)
    recent = page("lancers/thread_recent")
    _, recent_answer = post_page(live_server, recent, at=recent.expected["at"])
    nudged = page("crowdworks/contract_collapsed")
    _, nudged_answer = post_page(live_server, nudged, at=nudged.expected["at"])
    assert silent["badge"] == {"text": days_text(SILENT.expected["verdict"]), "color": RED}
    assert recent_answer["badge"] == {"text": days_text(recent.expected["verdict"]), "color": GREEN}
    assert nudged_answer["badge"] == {"text": days_text(nudged.expected["verdict"]), "color": AMBER}


def test_a_contract_whose_facts_are_unknown_is_unconfirmed_and_needs_action(live_server):
    [no_panel] = [p for p in READABLE_THREADS if p.expected["verdict"]["state"] == "unconfirmed"]
    at = no_panel.expected["at"]
    _, answer = post_page(live_server, no_panel, at=at)
    assert answer["state"] == "unconfirmed"
    assert answer["next_action"]["text"] and "連絡催促申請" in answer["next_action"]["text"]
    # Which facts are unknown is said, never guessed.
    unknown = [k for k in FACTS if no_panel.expected[k] is None]
    assert unknown and all(answer[k] is None and answer["fact_sources"].get(k) is None for k in unknown)
    _, summary = live_server.json("GET", f"/api/summary?at={at.replace('+', '%2B')}")
    assert [(c["contract_id"], c["state"]) for c in summary["needing_action"]] == [
        (no_panel.expected["contract_id"], "unconfirmed")]
    assert summary["counts"] == {"unconfirmed": 1}


@pytest.mark.parametrize("p", LISTS, ids=[p.name for p in LISTS])
def test_a_list_page_answers_its_contracts_and_how_many_need_action(live_server, p):
    status, answer = post_page(live_server, p)
    assert status == 200
    assert answer["page"] == "contract_list"
    listed = [c["contract_id"] for c in p.expected["contracts"]]
    assert sorted(c["contract_id"] for c in answer["contracts"]) == sorted(listed)
    # Seen only on a list, a contract is not judged yet: nothing needs action.
    assert all(c["state"] == "unknown" for c in answer["contracts"])
    # A list's status is the list's word only: it never stands in for the thread's facts.
    assert all(c["fact_sources"].get("status") in (None, "list") for c in answer["contracts"])
    assert answer["badge"] == {"text": "0", "color": GREEN}


def test_a_list_page_counts_the_listed_contracts_that_need_action(live_server):
    post_page(live_server, SILENT)
    _, answer = post_page(live_server, page("lancers/working_list"), at=AT)
    needing = [c for c in answer["contracts"] if c["state"] in NEEDS_ACTION]
    assert SILENT.expected["contract_id"] in [c["contract_id"] for c in needing]
    assert int(answer["badge"]["text"]) == len(needing) >= 1
    assert answer["badge"]["color"] == RED


def test_an_inquiry_is_answered_as_such_and_is_no_contract(live_server):
    status, answer = post_page(live_server, INQUIRY)
    assert status == 200
    assert answer["page"] == "inquiry"
    assert answer["thread_id"] == INQUIRY.expected["thread_id"]
    assert answer["contract_id"] is None and answer["state"] is None
    detail = next(json.loads(r["body"]) for r in INQUIRY.responses_list() if r["url"].endswith(f"/boards/{answer['thread_id']}"))
    assert answer["title"] == detail["title"]  # the extension names the board by it
    assert not re.search(r"\d", answer["badge"]["text"])  # no days of silence for a contract that is none
    _, listed = live_server.json("GET", "/api/contracts")
    assert listed["contracts"] == []
    _, summary = live_server.json("GET", "/api/summary")
    assert summary["counts"] == {} and summary["needing_action"] == []
    board = INQUIRY.expected["thread_id"]
    assert live_server.json("GET", f"/api/contracts/lancers/{board}")[0] == 404
    assert live_server.json("GET", f"/api/contracts/lancers/board-{board}")[0] == 404


def test_a_lancers_capture_without_its_board_api_is_unreadable_with_the_reason(live_server):
    board = NO_API.expected["thread_id"]
    status, answer = post_page(live_server, NO_API, at=NO_API.expected["at"])
    assert status == 200
    assert answer["page"] == "thread"
    assert answer["state"] == NO_API.expected["verdict"]["state"] == "unreadable"
    assert answer["thread_id"] == board
    assert answer["contract_id"] == f"board-{board}"  # the job is not known
    # The reason names what was missing: the board's detail from Lancers' message API.
    assert f"/v1/message_api/boards/{board}" in answer["unreadable_reason"]
    assert answer["badge"] == {"text": "?", "color": GREY}  # never a count of days
    assert answer["silent_days"] is None
    _, listed = live_server.json("GET", "/api/contracts")
    assert [(c["contract_id"], c["thread_id"], c["state"]) for c in listed["contracts"]] == [
        (f"board-{board}", board, "unreadable")]


def test_a_board_read_later_joins_its_job_and_the_placeholder_goes(live_server):
    """The same board captured again, this time with Lancers' JSON: the contract is the job."""
    board = NO_API.expected["thread_id"]
    post_page(live_server, NO_API)
    later = lancers_capture(board, [("client", "2026-11-20T10:00:00+09:00", "ご確認ありがとうございます。")],
                            job_id="4877001", title="商店街マップの制作")
    status, answer = live_server.json("POST", "/api/snapshots", {
        "url": later.url, "html": later.html, "captured_at": "2026-11-21T15:00:00+09:00",
        "responses": later.responses, "at": "2026-11-21T15:00:00+09:00"})
    assert status == 200, answer
    assert (answer["contract_id"], answer["thread_id"], answer["state"]) == ("4877001", board, "ok")
    _, listed = live_server.json("GET", "/api/contracts")
    assert [(c["contract_id"], c["thread_id"]) for c in listed["contracts"]] == [("4877001", board)]
    assert live_server.json("GET", f"/api/contracts/lancers/board-{board}")[0] == 404


def test_an_unreadable_page_is_stored_and_answered_as_unreadable_never_zero_days(live_server):
    url = "https://crowdworks.jp/contracts/71234567"
    html = "<!DOCTYPE html><html><body><h1>メンテナンス中です</h1></body></html>"
    status, answer = live_server.json(
        "POST", "/api/snapshots", {"url": url, "html": html, "captured_at": AT, "responses": []})
    assert status == 200
    assert answer["state"] == "unreadable"
    assert answer["contract_id"] == "71234567"
    assert answer["unreadable_reason"]
    assert answer["badge"] == {"text": "?", "color": GREY}
    status, listed = live_server.json("GET", "/api/contracts")
    assert [c["state"] for c in listed["contracts"]] == ["unreadable"]


@pytest.mark.parametrize("responses", [
    {"url": "https://www.lancers.jp/v1/message_api/boards/9058842", "status": 200, "body": "{}"},
    "[]",
    [{"url": "https://www.lancers.jp/v1/message_api/boards/9058842", "content_type": "application/json",
      "body": "{}"}],
    [{"url": "https://www.lancers.jp/v1/message_api/boards/9058842", "status": "200", "body": "{}"}],
    [{"status": 200, "body": "{}"}],
    ["not an object"],
], ids=["an-object", "a-string", "no-status", "status-a-string", "no-url", "entry-not-an-object"])
def test_a_bad_responses_field_is_refused_in_japanese_and_nothing_is_stored(live_server, ghostwatch, responses):
    status, answer = post_page(live_server, SILENT, responses=responses)
    assert status == 400, answer
    assert answer["field"] == "responses"
    assert JAPANESE.search(answer["message"]) and "responses" in answer["message"]
    _, listed = live_server.json("GET", "/api/contracts")
    assert listed["contracts"] == []
    assert "0 件" in ghostwatch("reparse").stdout  # not even the raw capture was kept


def test_summary_counts_states_and_lists_what_needs_action(live_server):
    post_all(live_server)
    status, summary = live_server.json("GET", f"/api/summary?at={AT_Q}")
    assert status == 200
    _, everything = live_server.json("GET", f"/api/contracts?at={AT_Q}")
    states = [c["state"] for c in everything["contracts"]]
    assert summary["counts"] == {s: states.count(s) for s in set(states)}
    needing = [(c["platform"], c["contract_id"]) for c in summary["needing_action"]]
    assert ("lancers", SILENT.expected["contract_id"]) in needing  # eligible at its `at`
    assert ("lancers", contract_key(NO_API)) in needing  # unreadable
    assert all(c["state"] in NEEDS_ACTION for c in summary["needing_action"])
    assert summary["badge"] == {"text": str(len(needing)), "color": RED}


def test_every_corpus_contract_once_with_its_ids_and_no_inquiry(live_server):
    post_all(live_server)
    _, body = live_server.json("GET", f"/api/contracts?at={AT_Q}")
    got = {c["contract_id"]: c for c in body["contracts"]}
    want = {contract_key(p): p for p in THREADS}
    listed = {c["contract_id"] for p in LISTS for c in p.expected["contracts"]}
    assert set(got) == set(want) | listed
    assert len(body["contracts"]) == len(got)
    for cid, p in want.items():
        assert got[cid]["platform"] == p.html.parent.name
        assert got[cid]["thread_id"] == p.expected["thread_id"]
        if p.expected.get("unreadable"):
            assert got[cid]["state"] == "unreadable"
    assert INQUIRY.expected["thread_id"] not in {c["thread_id"] for c in body["contracts"]}


def test_contracts_come_most_urgent_first(live_server):
    post_all(live_server)
    _, body = live_server.json("GET", f"/api/contracts?at={AT_Q}")
    ranks = [URGENCY.index(c["state"]) for c in body["contracts"]]
    assert ranks == sorted(ranks)
    assert body["contracts"][0]["state"] in ("overdue", "eligible")


def test_one_contract_with_its_messages(live_server):
    post_page(live_server, SILENT)
    job = SILENT.expected["contract_id"]
    status, body = live_server.json("GET", f"/api/contracts/lancers/{job}")
    assert status == 200
    assert body["title"] == SILENT.expected["title"]
    senders = [m["sender"] for m in body["messages"]]
    assert {s: senders.count(s) for s in ("client", "me", "system")} == SILENT.expected["messages"]
    assert body["recorded_steps"] == []
    assert body["view_url"] == f"{live_server.url}/contracts/lancers/{job}"
    status, missing = live_server.json("GET", "/api/contracts/lancers/999")
    assert status == 404 and "999" in missing["message"]


def test_a_recorded_lancers_request_starts_its_seven_day_deadline(live_server):
    post_page(live_server, SILENT)
    job = SILENT.expected["contract_id"]
    status, before = live_server.json("GET", f"/api/contracts/lancers/{job}?at=2026-11-21T12:00:00%2B09:00")
    assert before["state"] == "eligible" and before["deadline_at"] is None
    status, after = live_server.json(
        "POST", f"/api/contracts/lancers/{job}/steps?at=2026-11-21T12:00:00%2B09:00",
        {"step": "request_filed", "done_at": "2026-11-21T10:00:00+09:00", "note": "申請しました"},
    )
    assert status == 201
    assert after["state"] == "requested"
    assert after["deadline_at"] == "2026-11-28T10:00:00+09:00"
    # A week later, with no word from the client, the deadline has passed.
    _, later = live_server.json("GET", f"/api/contracts/lancers/{job}?at=2026-11-28T10:00:00%2B09:00")
    assert later["state"] == "overdue"
    # Taking the step back gives the verdict back.
    step_id = later["recorded_steps"][0]["id"]
    status, undone = live_server.json(
        "DELETE", f"/api/contracts/lancers/{job}/steps/{step_id}?at=2026-11-21T12:00:00%2B09:00")
    assert status == 200 and undone["state"] == "eligible"


def test_an_unknown_step_is_refused_with_the_known_ones_named(live_server):
    post_page(live_server, SILENT)
    status, body = live_server.json(
        "POST", f"/api/contracts/lancers/{SILENT.expected['contract_id']}/steps", {"step": "prayed"})
    assert status == 422
    assert "request_filed" in body["message"]


def test_four_clients_posting_at_once_never_fail(live_server):
    captures = THREADS + LISTS + [INQUIRY]
    errors, answers = [], []

    def client(offset: int):
        for n in range(len(captures)):
            p = captures[(n + offset) % len(captures)]
            body = capture_body(p)
            body["html"] += f"<!-- client {offset} round {n} -->"  # a new snapshot each time
            status, answer = live_server.json("POST", "/api/snapshots", body)
            (answers if status == 200 else errors).append((p.name, status, answer))

    threads = [threading.Thread(target=client, args=(k * 3,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(answers) == 4 * len(captures)
    _, body = live_server.json("GET", "/api/contracts")
    assert {c["contract_id"] for c in body["contracts"]} >= {contract_key(p) for p in THREADS}


def test_the_calendar_holds_eligible_from_and_deadline_dates_of_open_contracts(live_server):
    post_all(live_server)
    feed = calendar_url(live_server)
    assert feed.startswith(f"{live_server.url}/calendar.ics?token=")
    status, headers, raw = live_server.request("GET", f"{feed.removeprefix(live_server.url)}&at={AT_Q}", token=False)
    assert status == 200 and headers["Content-Type"].startswith("text/calendar")
    text = raw.decode("utf-8")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    events = [block for block in unfolded.split("BEGIN:VEVENT")[1:]]
    by_uid = {e.split("UID:")[1].split("\r\n")[0]: e for e in events}
    # thread_silent_fixed: silent since 11-10 15:26 JST, so eligible from 11-17 15:26 JST (06:26 UTC).
    assert SILENT.expected["verdict"]["eligible_at"] == "2026-11-17T15:26:00+09:00"
    eligible = by_uid[f"lancers-{SILENT.expected['contract_id']}-eligible@ghostwatch.local"]
    assert "DTSTART:20261117T062600Z" in eligible
    assert f"SUMMARY:申請可能: {SILENT.expected['title']}" in eligible
    # thread_requested: the deadline the page shows.
    requested = page("lancers/thread_requested").expected
    deadline = by_uid[f"lancers-{requested['contract_id']}-deadline@ghostwatch.local"]
    assert "SUMMARY:連絡期限: " in deadline
    assert f"lancers-{requested['contract_id']}-eligible@ghostwatch.local" not in by_uid
    # Closed contracts are not in the calendar, nor is the inquiry.
    for closed in (p for p in THREADS if p.expected["verdict"]["state"] == "closed"):
        assert not any(closed.expected["contract_id"] in uid for uid in by_uid)
    assert not any(INQUIRY.expected["thread_id"] in uid for uid in by_uid)


def calendar_url(server) -> str:
    """The feed's address as the pairing page gives it to the user (signed in
    with the address ``ghostwatch serve`` printed)."""
    status, headers, _ = no_redirect(server, "GET", f"/?token={server.token}")
    assert status == 303, status
    cookie = headers["Set-Cookie"].split(";")[0]
    status, _, raw = no_redirect(server, "GET", "/pair", headers={"Cookie": cookie})
    assert status == 200, status
    found = re.search(r'<code id="calendar-url">([^<]+)</code>', raw.decode("utf-8"))
    assert found, "the pairing page shows the calendar URL"
    return html.unescape(found.group(1))


def test_the_extension_and_the_collector_write_at_once_without_database_is_locked(live_server, ghostwatch):
    """API posts from 2 threads while 2 other processes ingest captures into the
    same database file (as ``ghostwatch collect`` does)."""
    errors = []

    def extension(k: int):
        for n, p in enumerate(THREADS):
            body = capture_body(p)
            body["html"] += f"<!-- extension {k} {n} -->"
            status, answer = live_server.json("POST", "/api/snapshots", body)
            if status != 200:
                errors.append((p.name, status, answer))

    def collector(k: int):
        for n, p in enumerate(reversed(THREADS)):
            path = live_server.home.parent / f"collector-{k}-{n}.html"
            path.write_text(p.html.read_text(encoding="utf-8") + f"<!-- collector {k} {n} -->", encoding="utf-8")
            args = [str(path), *p.args()[1:]]  # the same capture (--url, --captured-at, --responses)
            proc = subprocess.run(
                [sys.executable, "-m", "server.cli", "ingest", *args],
                capture_output=True, text=True, cwd=ROOT, timeout=120,
                env={**os.environ, "GHOSTWATCH_HOME": str(live_server.home)},
            )
            if proc.returncode != 0:
                errors.append((p.name, proc.returncode, proc.stderr[-300:]))

    threads = [threading.Thread(target=extension, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=collector, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _, body = live_server.json("GET", "/api/contracts")
    assert sorted(c["contract_id"] for c in body["contracts"]) == sorted(contract_key(p) for p in THREADS)
    snapshots = ghostwatch("reparse")
    assert f"{4 * len(THREADS)} 件" in snapshots.stdout
