"""The JSON API, driven over HTTP against the real ``ghostwatch serve``.

What the extension relies on: a snapshot posted gives the contract's verdict
(the same object as ``status --json``) and a badge; list pages and unreadable
pages answer in their own way; the summary feeds the global badge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from conftest import ROOT
from serverkit import CORPUS, corpus_page, post_all_corpus, post_corpus, snapshot_body

GREEN, AMBER, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#757575"
VERDICT_KEYS = {
    "platform", "contract_id", "title", "client", "url", "pay_type", "status", "escalation", "state",
    "silent_since", "silent_days", "silence_is_lower_bound", "last_client_message_at", "eligible_at",
    "deadline_at", "reasons", "next_action",
}
THREADS = sorted(
    f"{p.parent.name}/{p.stem}.html"
    for p in CORPUS.glob("*/*.json")
    if json.loads(p.read_text(encoding="utf-8"))["expected"]["page"] == "thread"
)
LISTS = sorted(
    f"{p.parent.name}/{p.stem}.html"
    for p in CORPUS.glob("*/*.json")
    if json.loads(p.read_text(encoding="utf-8"))["expected"]["page"] == "contract_list"
)


def test_health_needs_no_token_and_names_the_version(live_server):
    status, body = live_server.json("GET", "/api/health", token=False)
    assert status == 200
    assert body["name"] == "ghostwatch"
    assert body["version"] == "0.1.0"


@pytest.mark.parametrize("name", THREADS)
def test_a_posted_thread_answers_its_verdict_as_the_corpus_says(live_server, name):
    _, meta = corpus_page(name)
    expected = meta["expected"]
    status, answer = post_corpus(live_server, name, at=expected["at"])
    assert status == 200
    assert VERDICT_KEYS <= answer.keys()
    assert answer["page"] == "thread"
    assert answer["contract_id"] == expected["contract_id"]
    assert answer["title"] == expected["title"]
    for key, value in expected["verdict"].items():
        assert answer[key] == value, key
    badge = answer["badge"]
    if answer["state"] == "closed":
        assert badge["text"] == ""
    else:
        days = expected["verdict"]["silent_days"]
        assert badge["text"] == f"{days}{'+' if expected['verdict']['silence_is_lower_bound'] else ''}"
        if days >= 7 or answer["state"] in ("eligible", "overdue"):
            assert badge["color"] == RED
        elif days >= 3:
            assert badge["color"] == AMBER
        else:
            assert badge["color"] == GREEN


def test_the_answer_is_the_same_verdict_as_status_json(live_server, ghostwatch):
    at = "2026-11-21T09:00:00+09:00"
    _, answer = post_corpus(live_server, "lancers/thread_silent_fixed.html", at=at)
    [entry] = ghostwatch("status", "--json", "--at", at).json()
    assert {k: answer[k] for k in entry} == entry


def test_badge_colours_for_a_silent_a_recent_and_a_nudged_contract(live_server):
    at = "2026-11-21T09:00:00+09:00"
    _, silent = post_corpus(live_server, "lancers/thread_silent_fixed.html", at=at)
    _, recent = post_corpus(live_server, "lancers/thread_recent.html", at=at)
    _, nudged = post_corpus(live_server, "crowdworks/contract_collapsed.html", at=at)
    assert silent["badge"] == {"text": "10", "color": RED}
    assert recent["badge"]["color"] == GREEN and int(recent["badge"]["text"]) < 3
    assert nudged["badge"]["color"] == AMBER


@pytest.mark.parametrize("name", LISTS)
def test_a_list_page_answers_its_contracts_and_how_many_need_action(live_server, name):
    _, meta = corpus_page(name)
    status, answer = post_corpus(live_server, name)
    assert status == 200
    assert answer["page"] == "contract_list"
    listed = {c["contract_id"] for c in meta["expected"]["contracts"]}
    assert {c["contract_id"] for c in answer["contracts"]} == listed
    # Seen only on a list, a contract is not judged yet: nothing needs action.
    assert all(c["state"] == "unknown" for c in answer["contracts"])
    assert answer["badge"] == {"text": "0", "color": GREEN}


def test_a_list_page_counts_the_listed_contracts_that_need_action(live_server):
    at = "2026-11-21T09:00:00+09:00"
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    _, answer = post_corpus(live_server, "lancers/working_list.html", at=at)
    needing = [c for c in answer["contracts"] if c["state"] in ("eligible", "overdue", "nudge", "unreadable")]
    assert int(answer["badge"]["text"]) == len(needing) >= 1
    assert answer["badge"]["color"] == RED


def test_an_unreadable_page_is_stored_and_answered_as_unreadable_never_zero_days(live_server):
    url = "https://www.lancers.jp/mypage/message?boardId=7123456"
    html = "<!DOCTYPE html><html><body><h1>メンテナンス中です</h1></body></html>"
    status, answer = live_server.json(
        "POST", "/api/snapshots", {"url": url, "html": html, "captured_at": "2026-11-21T09:00:00+09:00"})
    assert status == 200
    assert answer["state"] == "unreadable"
    assert answer["contract_id"] == "7123456"
    assert answer["unreadable_reason"]
    assert answer["badge"] == {"text": "?", "color": GREY}
    status, listed = live_server.json("GET", "/api/contracts")
    assert [c["state"] for c in listed["contracts"]] == ["unreadable"]


def test_summary_counts_states_and_lists_what_needs_action(live_server):
    post_all_corpus(live_server)
    status, summary = live_server.json("GET", "/api/summary?at=2026-11-21T09:00:00%2B09:00")
    assert status == 200
    _, everything = live_server.json("GET", "/api/contracts?at=2026-11-21T09:00:00%2B09:00")
    states = [c["state"] for c in everything["contracts"]]
    assert summary["counts"] == {s: states.count(s) for s in set(states)}
    needing = [(c["platform"], c["contract_id"]) for c in summary["needing_action"]]
    assert ("lancers", "5198842") in needing  # thread_silent_fixed: eligible
    assert all(c["state"] in ("overdue", "eligible", "nudge", "unreadable") for c in summary["needing_action"])
    assert summary["badge"] == {"text": str(len(needing)), "color": RED}


def test_contracts_come_most_urgent_first(live_server):
    post_all_corpus(live_server)
    _, body = live_server.json("GET", "/api/contracts?at=2026-11-21T09:00:00%2B09:00")
    order = ["overdue", "eligible", "unreadable", "requested", "not_eligible", "nudge", "ok", "unknown", "closed"]
    ranks = [order.index(c["state"]) for c in body["contracts"]]
    assert ranks == sorted(ranks)
    assert body["contracts"][0]["state"] in ("overdue", "eligible")


def test_one_contract_with_its_messages(live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    status, body = live_server.json("GET", "/api/contracts/lancers/5198842")
    assert status == 200
    assert body["title"] == "美容サロンのLP制作（スマホ対応・1ページ）"
    senders = [m["sender"] for m in body["messages"]]
    assert (senders.count("client"), senders.count("me"), senders.count("system")) == (3, 6, 3)
    assert body["recorded_steps"] == []
    assert body["view_url"] == f"{live_server.url}/contracts/lancers/5198842"
    status, missing = live_server.json("GET", "/api/contracts/lancers/999")
    assert status == 404 and "999" in missing["message"]


def test_a_recorded_lancers_request_starts_its_seven_day_deadline(live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    status, before = live_server.json("GET", "/api/contracts/lancers/5198842?at=2026-11-21T12:00:00%2B09:00")
    assert before["state"] == "eligible" and before["deadline_at"] is None
    status, after = live_server.json(
        "POST", "/api/contracts/lancers/5198842/steps?at=2026-11-21T12:00:00%2B09:00",
        {"step": "request_filed", "done_at": "2026-11-21T10:00:00+09:00", "note": "申請しました"},
    )
    assert status == 201
    assert after["state"] == "requested"
    assert after["deadline_at"] == "2026-11-28T10:00:00+09:00"
    # A week later, with no word from the client, the deadline has passed.
    _, later = live_server.json("GET", "/api/contracts/lancers/5198842?at=2026-11-28T10:00:00%2B09:00")
    assert later["state"] == "overdue"
    # Taking the step back gives the verdict back.
    step_id = later["recorded_steps"][0]["id"]
    status, undone = live_server.json(
        "DELETE", f"/api/contracts/lancers/5198842/steps/{step_id}?at=2026-11-21T12:00:00%2B09:00")
    assert status == 200 and undone["state"] == "eligible"


def test_an_unknown_step_is_refused_with_the_known_ones_named(live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    status, body = live_server.json("POST", "/api/contracts/lancers/5198842/steps", {"step": "prayed"})
    assert status == 422
    assert "request_filed" in body["message"]


def test_four_clients_posting_at_once_never_fail(live_server):
    names = THREADS + LISTS
    errors, answers = [], []

    def client(offset: int):
        for n in range(len(names)):
            name = names[(n + offset) % len(names)]
            body = snapshot_body(name)
            body["html"] += f"<!-- client {offset} round {n} -->"  # a new snapshot each time
            status, answer = live_server.json("POST", "/api/snapshots", body)
            (answers if status == 200 else errors).append((name, status, answer))

    threads = [threading.Thread(target=client, args=(k * 3,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(answers) == 4 * len(names)
    _, body = live_server.json("GET", "/api/contracts")
    assert len(body["contracts"]) >= len(THREADS)


def test_the_calendar_holds_eligible_from_and_deadline_dates_of_open_contracts(live_server):
    post_all_corpus(live_server)
    status, headers, raw = live_server.request(
        "GET", f"/calendar.ics?token={live_server.token}&at=2026-11-21T09:00:00%2B09:00", token=False)
    assert status == 200 and headers["Content-Type"].startswith("text/calendar")
    text = raw.decode("utf-8")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    events = [block for block in unfolded.split("BEGIN:VEVENT")[1:]]
    by_uid = {e.split("UID:")[1].split("\r\n")[0]: e for e in events}
    # thread_silent_fixed: silent since 11-10 15:26 JST, so eligible from 11-17 15:26 JST (06:26 UTC).
    eligible = by_uid["lancers-5198842-eligible@ghostwatch.local"]
    assert "DTSTART:20261117T062600Z" in eligible
    assert "SUMMARY:申請可能: 美容サロンのLP制作（スマホ対応・1ページ）" in eligible
    # thread_requested: the deadline the page shows.
    _, meta = corpus_page("lancers/thread_requested.html")
    deadline = by_uid[f"lancers-{meta['expected']['contract_id']}-deadline@ghostwatch.local"]
    assert "SUMMARY:連絡期限: " in deadline
    assert f"lancers-{meta['expected']['contract_id']}-eligible@ghostwatch.local" not in by_uid
    # Closed contracts are not in the calendar.
    _, closed = corpus_page("lancers/thread_completed.html")
    assert not any(closed["expected"]["contract_id"] in uid for uid in by_uid)


def test_the_extension_and_the_collector_write_at_once_without_database_is_locked(live_server, ghostwatch):
    """API posts from 2 threads while 2 other processes ingest into the same
    database file (as ``ghostwatch collect`` does)."""
    errors = []

    def extension(k: int):
        for n, name in enumerate(THREADS):
            body = snapshot_body(name)
            body["html"] += f"<!-- extension {k} {n} -->"
            status, answer = live_server.json("POST", "/api/snapshots", body)
            if status != 200:
                errors.append((name, status, answer))

    def collector(k: int):
        for n, name in enumerate(reversed(THREADS)):
            html, meta = corpus_page(name)
            path = live_server.home.parent / f"collector-{k}-{n}.html"
            path.write_text(html + f"<!-- collector {k} {n} -->", encoding="utf-8")
            proc = subprocess.run(
                [sys.executable, "-m", "server.cli", "ingest", str(path), "--url", meta["url"],
                 "--captured-at", meta["captured_at"]],
                capture_output=True, text=True, cwd=ROOT, timeout=120,
                env={**os.environ, "GHOSTWATCH_HOME": str(live_server.home)},
            )
            if proc.returncode != 0:
                errors.append((name, proc.returncode, proc.stderr[-300:]))

    threads = [threading.Thread(target=extension, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=collector, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _, body = live_server.json("GET", "/api/contracts")
    assert len(body["contracts"]) == len(THREADS)
    snapshots = ghostwatch("reparse")
    assert f"{4 * len(THREADS)} 件" in snapshots.stdout
