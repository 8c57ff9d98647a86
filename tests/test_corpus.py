"""Every page of the corpus is read exactly as its JSON says, through the CLI."""

from collections import Counter
from pathlib import Path

import pytest

from standin import corpus_pages

PAGES = corpus_pages()
IDS = [f"{meta['url'].split('/')[2].split('.')[-2]}/{path.stem}" for path, meta in PAGES]
READING_KEYS = (
    "page", "contract_id", "title", "client", "pay_type", "status", "escalation",
    "escalation_deadline", "last_client_message_at", "history_collapsed",
)


def test_the_corpus_is_here():
    assert len(PAGES) >= 17
    assert {meta["expected"]["page"] for _, meta in PAGES} == {"thread", "contract_list"}


@pytest.mark.parametrize(("html", "meta"), PAGES, ids=IDS)
def test_parse_reads_the_page_as_its_json_says(ghostwatch, html, meta):
    expected = meta["expected"]
    run = ghostwatch("parse", str(html), "--url", meta["url"], "--captured-at", meta["captured_at"])
    assert run.returncode == 0, run.stderr
    reading = run.json()
    assert "unreadable" not in reading, reading
    for key in READING_KEYS:
        if key in expected:
            assert reading[key] == expected[key], key
    if "messages" in expected:
        counts = Counter(m["sender"] for m in reading["messages"])
        assert {s: counts.get(s, 0) for s in ("client", "me", "system")} == expected["messages"]
        assert all(m["sent_at"].endswith("+09:00") for m in reading["messages"])
    if "contracts" in expected:
        got = [{"contract_id": c["contract_id"], "status": c["status"]} for c in reading["contracts"]]
        assert got == expected["contracts"]


VERDICT_PAGES = [(h, m) for h, m in PAGES if "verdict" in m["expected"]]


@pytest.mark.parametrize(("html", "meta"), VERDICT_PAGES, ids=[f"{h.parent.name}/{h.stem}" for h, _ in VERDICT_PAGES])
def test_status_json_gives_the_expected_verdict(ghostwatch, html, meta):
    expected = meta["expected"]
    ingest = ghostwatch("ingest", str(html), "--url", meta["url"], "--captured-at", meta["captured_at"],
                        "--at", expected["at"])
    assert ingest.returncode == 0, ingest.stderr
    status = ghostwatch("status", "--json", "--at", expected["at"])
    assert status.returncode == 0, status.stderr
    [verdict] = status.json()
    assert verdict["contract_id"] == expected["contract_id"]
    for key, value in expected["verdict"].items():
        assert verdict[key] == value, key
    # ingest prints the same verdict as status does
    assert {k: ingest.json()[k] for k in expected["verdict"]} == expected["verdict"]
    assert verdict["reasons"] and all(r["text"] for r in verdict["reasons"])


def test_whole_corpus_in_one_database_sorted_by_urgency(ghostwatch):
    for html, meta in PAGES:
        run = ghostwatch("ingest", str(html), "--url", meta["url"], "--captured-at", meta["captured_at"])
        assert run.returncode == 0, run.stderr
    verdicts = ghostwatch("status", "--json", "--at", "2026-11-21T12:00:00+09:00").json()
    threads = [m for _, m in PAGES if m["expected"]["page"] == "thread"]
    assert len(verdicts) == len(threads)
    states = [v["state"] for v in verdicts]
    assert states[0] == "eligible" and states[-1] == "closed"
    from server.rules import URGENCY

    assert [URGENCY.index(s) for s in states] == sorted(URGENCY.index(s) for s in states)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared corpus beside this checkout (a user's clone)")
def test_the_fixtures_hold_every_page_of_the_shared_corpus():
    """When the team's corpus grows, ./scripts/sync-corpus copies the new pages in."""
    from standin import CORPUS

    missing = [
        str(path.relative_to(SHARED))
        for path in SHARED.rglob("*")
        if path.is_file() and (
            not (CORPUS / path.relative_to(SHARED)).exists()
            or (CORPUS / path.relative_to(SHARED)).read_bytes() != path.read_bytes()
        )
    ]
    assert missing == [], "run ./scripts/sync-corpus"
