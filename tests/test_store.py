"""The store keeps everything: raw snapshots before they are read, every
message any snapshot showed, and nothing half-written when input is refused."""

import gzip
import threading
from datetime import timedelta

import pytest

from collector.pages import NotAPage, UnsupportedURL
from collector.timeutil import parse_instant
from pagekit import crowdworks_contract, crowdworks_url
from server import service
from server.store import Store

T0 = parse_instant("2026-11-15T10:00:00+09:00")
A = ("client", "2026-11-10T09:00:00+09:00", "最初のご依頼です")
B = ("me", "2026-11-11T09:00:00+09:00", "承知しました")
C = ("client", "2026-11-12T09:00:00+09:00", "よろしくお願いします")
D = ("me", "2026-11-14T09:00:00+09:00", "初稿をお送りします")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.db") as s:
        yield s


def counts(store):
    return {t: store.db[t].count for t in ("snapshot_blobs", "snapshots", "contracts", "messages")}


def test_folded_history_does_not_forget_messages_seen_before(store):
    store.ingest(crowdworks_url(), crowdworks_contract(messages=[A, B, C]), T0)
    # A later snapshot folds the two oldest away and shows a new one.
    folded = crowdworks_contract(messages=[C, D], collapsed=2)
    store.ingest(crowdworks_url(), folded, T0 + timedelta(days=1))
    texts = [m["text"] for m in store.messages("crowdworks", "9000001")]
    assert texts == ["最初のご依頼です", "承知しました", "よろしくお願いします", "初稿をお送りします"]
    v = service.verdict(store, "crowdworks", "9000001", T0 + timedelta(days=1))
    assert v["silent_since"] == "2026-11-12T09:00:00+09:00"


def test_the_raw_page_is_kept_compressed_and_stored_once(store):
    html = crowdworks_contract(messages=[A, B])
    first = store.ingest(crowdworks_url(), html, T0)
    again = store.ingest(crowdworks_url(), html, T0)
    later = store.ingest(crowdworks_url(), html, T0 + timedelta(hours=1))
    assert again.duplicate and again.snapshot_id == first.snapshot_id
    assert not later.duplicate
    assert counts(store)["snapshot_blobs"] == 1 and counts(store)["snapshots"] == 2
    blob = store.db.execute("select html_gz, size from snapshot_blobs").fetchone()
    assert gzip.decompress(blob[0]).decode() == html and len(blob[0]) < blob[1]
    assert store.snapshot_html(first.snapshot_id).decode() == html


def test_an_unreadable_page_is_stored_too(store):
    result = store.ingest(crowdworks_url(), "<html><body><p>メンテナンス中</p></body></html>", T0)
    assert result.reading.to_json()["unreadable"] is True
    row = store.db["snapshots"].get(result.snapshot_id)
    assert row["read_state"] == "unreadable" and "pack-message-thread" in row["reason"]
    assert store.contract("crowdworks", "9000001")["read_state"] == "unreadable"


@pytest.mark.parametrize(
    ("url", "body", "error"),
    [
        ("https://example.com/contracts/1", "<html></html>", UnsupportedURL),
        (crowdworks_url(), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", NotAPage),
        (crowdworks_url(), "", NotAPage),
        (crowdworks_url(), '{"not": "html"}', NotAPage),
    ],
)
def test_refused_input_leaves_nothing_half_written(store, url, body, error):
    store.ingest(crowdworks_url("1"), crowdworks_contract("1", messages=[A]), T0)
    before = counts(store)
    with pytest.raises(error):
        store.ingest(url, body, T0)
    assert counts(store) == before


def test_an_older_snapshot_arriving_late_does_not_override_newer_facts(store):
    store.ingest(crowdworks_url(), crowdworks_contract(messages=[A, B, C], status="delivered"), T0)
    store.ingest(crowdworks_url(), crowdworks_contract(messages=[A, B], status="in_progress"), T0 - timedelta(days=2))
    assert store.contract("crowdworks", "9000001")["status"] == "delivered"


def test_reparse_rebuilds_from_the_raw_snapshots_and_keeps_steps(store):
    store.ingest(crowdworks_url(), crowdworks_contract(messages=[A, B, C]), T0)
    store.ingest(crowdworks_url(), crowdworks_contract(messages=[C, D], collapsed=2), T0 + timedelta(days=1))
    store.add_step("crowdworks", "9000001", "reminder_sent", T0)
    before = service.verdict(store, "crowdworks", "9000001", T0 + timedelta(days=2))
    store.db.execute("update contracts set title = 'broken'")
    store.db.conn.commit()
    assert store.reparse() == {"snapshots": 2, "ok": 2, "unreadable": 0}
    after = service.verdict(store, "crowdworks", "9000001", T0 + timedelta(days=2))
    assert after == before
    assert len(store.messages("crowdworks", "9000001")) == 4
    assert len(store.steps("crowdworks", "9000001")) == 1


def test_concurrent_writers_on_separate_connections_never_see_database_locked(tmp_path):
    path = tmp_path / "busy.db"
    Store(path).close()
    errors = []

    def writer(n):
        try:
            with Store(path) as s:
                for i in range(15):
                    cid = str(100000 + n * 100 + i)
                    s.ingest(crowdworks_url(cid), crowdworks_contract(cid, messages=[A, B, C]), T0)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(path) as s:
        assert s.db["contracts"].count == 60
        assert s.db.execute("pragma journal_mode").fetchone()[0] == "wal"
