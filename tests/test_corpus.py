"""Every capture of the corpus is read exactly as its JSON says, through the CLI."""

from collections import Counter
from pathlib import Path

import pytest

from corpus import CORPUS, pages

PAGES = pages()
IDS = [p.name for p in PAGES]
# Every key of ``expected`` but the verdict is a key of the reading.
NOT_READING_KEYS = {"messages", "contracts", "at", "verdict", "unreadable"}
VERDICT_KEYS = ("state", "silent_since", "silent_days", "silence_is_lower_bound", "eligible_at", "deadline_at")


def test_the_corpus_is_here():
    assert len(PAGES) >= 23
    assert {p.expected["page"] for p in PAGES} == {"thread", "contract_list", "inquiry"}
    assert any(p.expected.get("unreadable") for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_parse_reads_the_capture_as_its_json_says(ghostwatch, page):
    expected = page.expected
    run = ghostwatch("parse", *page.args())
    assert run.returncode == 0, run.stderr
    reading = run.json()
    if expected.get("unreadable"):
        assert reading["unreadable"] is True
        assert reading["reason"]
        assert reading["page"] == expected["page"]
        for key in ("thread_id", "contract_id"):
            if key in expected:
                assert reading[key] == expected[key], key
        return
    assert "unreadable" not in reading, reading
    for key in set(expected) - NOT_READING_KEYS:
        assert key in reading, key
        assert reading[key] == expected[key], key
    if "messages" in expected:
        counts = Counter(m["sender"] for m in reading["messages"])
        assert {s: counts.get(s, 0) for s in ("client", "me", "system")} == expected["messages"]
        assert all(m["sent_at"].endswith("+09:00") for m in reading["messages"])
    if "contracts" in expected:
        keys = [set(c) for c in expected["contracts"]]
        got = [{k: c[k] for k in want} for c, want in zip(reading["contracts"], keys)]
        assert len(reading["contracts"]) == len(expected["contracts"])
        assert got == expected["contracts"]


VERDICT_PAGES = [p for p in PAGES if "verdict" in p.expected]


@pytest.mark.parametrize("page", VERDICT_PAGES, ids=[p.name for p in VERDICT_PAGES])
def test_ingest_and_status_give_the_expected_verdict(ghostwatch, page):
    expected = page.expected
    ingest = ghostwatch("ingest", *page.args(), "--at", expected["at"])
    assert ingest.returncode == 0, ingest.stderr
    status = ghostwatch("status", "--json", "--at", expected["at"])
    [verdict] = status.json()
    # status exits 4 for a request that can be filed or a passed deadline, 3 for
    # anything else that needs action, 0 otherwise.
    want = 4 if verdict["state"] in ("eligible", "overdue") else 3 if verdict["state"] in (
        "unconfirmed", "nudge", "unreadable") else 0
    assert status.returncode == want, status.stderr
    if "contract_id" in expected:
        assert verdict["contract_id"] == expected["contract_id"]
    if "thread_id" in expected:
        assert verdict["thread_id"] == expected["thread_id"]
    for key, value in expected["verdict"].items():
        assert verdict[key] == value, key
    assert set(expected["verdict"]) == set(VERDICT_KEYS) or expected.get("unreadable")
    # ingest prints the same verdict as status does
    assert {k: ingest.json()[k] for k in expected["verdict"]} == expected["verdict"]
    assert verdict["reasons"] and all(r["text"] for r in verdict["reasons"])


def test_an_inquiry_is_stored_but_is_no_contract(ghostwatch):
    [inquiry] = [p for p in PAGES if p.expected["page"] == "inquiry"]
    run = ghostwatch("ingest", *inquiry.args())
    assert run.returncode == 0, run.stderr
    assert run.json()["page"] == "inquiry"
    assert run.json()["thread_id"] == inquiry.expected["thread_id"]
    assert ghostwatch("status", "--json").json() == []


def test_whole_corpus_in_one_database_sorted_by_urgency(ghostwatch):
    for page in PAGES:
        run = ghostwatch("ingest", *page.args())
        assert run.returncode == 0, run.stderr
    verdicts = ghostwatch("status", "--json", "--at", "2026-11-21T12:00:00+09:00").json()
    threads = [p for p in PAGES if p.expected["page"] == "thread"]
    assert len([v for v in verdicts if v["thread_id"]]) == len(threads)
    # Every contract of the lists is there; a listed contract whose thread the corpus has is one row.
    listed = {c["contract_id"] for p in PAGES for c in p.expected.get("contracts", [])}
    assert listed <= {v["contract_id"] for v in verdicts}
    states = [v["state"] for v in verdicts]
    assert states[0] == "eligible" and states[-1] == "closed"
    from server.rules import URGENCY

    assert [URGENCY.index(s) for s in states] == sorted(URGENCY.index(s) for s in states)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared corpus beside this checkout (a user's clone)")
def test_the_fixtures_equal_the_shared_corpus():
    """When the team's corpus changes, ./scripts/sync-corpus makes the fixtures equal to it."""

    def files(root):
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(CORPUS) == files(SHARED), "run ./scripts/sync-corpus"
