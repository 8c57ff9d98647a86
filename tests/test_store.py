"""The store keeps everything: raw snapshots before they are read, every
message any snapshot showed, and nothing half-written when input is refused."""

import gzip
import threading
from datetime import timedelta

import pytest

from collector.reading import NotAPage, UnsupportedURL
from collector.timeutil import parse_instant
from pagekit import crowdworks_capture, crowdworks_url, lancers_capture
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
    crowdworks_capture(messages=[A, B, C], api=False).ingest(store, T0)
    # A later capture (the page's own list) folds the two oldest away and shows a new one.
    crowdworks_capture(messages=[C, D], collapsed=2, api=False).ingest(store, T0 + timedelta(days=1))
    texts = [m["text"] for m in store.messages("crowdworks", "9000001")]
    assert texts == ["最初のご依頼です", "承知しました", "よろしくお願いします", "初稿をお送りします"]
    v = service.verdict(store, "crowdworks", "9000001", T0 + timedelta(days=1))
    assert v.silent_since == parse_instant("2026-11-12T09:00:00+09:00")


def test_the_raw_capture_is_kept_compressed_and_stored_once(store):
    page = crowdworks_capture(messages=[A, B])
    first = page.ingest(store, T0)
    again = page.ingest(store, T0)
    later = page.ingest(store, T0 + timedelta(hours=1))
    assert again.duplicate and again.snapshot_id == first.snapshot_id
    assert not later.duplicate
    assert counts(store)["snapshot_blobs"] == 1 and counts(store)["snapshots"] == 2
    blob = store.db.execute("select html_gz, size from snapshot_blobs").fetchone()
    assert len(blob[0]) < blob[1]
    html, responses = store.snapshot_capture(first.snapshot_id)
    assert [r.to_json() for r in responses] == page.responses
    # The platform's CSRF token is not kept; the rest of the page is, byte for byte.
    assert b"secret-csrf-token-value" not in gzip.decompress(blob[0])
    assert html.decode() == page.html.replace("secret-csrf-token-value", "")


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
    crowdworks_capture("1", messages=[A]).ingest(store, T0)
    before = counts(store)
    with pytest.raises(error):
        store.ingest(url, body, T0)
    assert counts(store) == before


def test_an_older_snapshot_arriving_late_does_not_override_newer_facts(store):
    crowdworks_capture(messages=[A, B, C], status="delivered").ingest(store, T0)
    crowdworks_capture(messages=[A, B], status="in_progress").ingest(store, T0 - timedelta(days=2))
    assert store.contract("crowdworks", "9000001")["status"] == "delivered"


def test_reparse_rebuilds_from_the_raw_snapshots_and_keeps_steps(store):
    crowdworks_capture(messages=[A, B, C]).ingest(store, T0)
    crowdworks_capture(messages=[C, D], collapsed=2, api=False).ingest(store, T0 + timedelta(days=1))
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
                    crowdworks_capture(cid, messages=[A, B, C]).ingest(s, T0)
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


def test_responses_of_the_wrong_shape_are_refused_before_anything_is_written(store):
    page = crowdworks_capture(messages=[A])
    before = counts(store)
    for bad in ({"url": "x"}, [{"url": page.responses[0]["url"], "status": "200", "body": ""}], ["text"]):
        with pytest.raises(ValueError):
            store.ingest(page.url, page.html, T0, responses=bad)
    assert counts(store) == before


def test_a_lancers_board_unreadable_before_its_job_is_known_joins_the_job_later(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    page = lancers_capture("7100001", messages, contact_button=True)
    # The API answered 403 (a human check): the board's job is unknown.
    blocked = [dict(r, status=403, body="<html>確認</html>") for r in page.responses]
    store.ingest(page.url, page.html, T0, responses=blocked)
    [row] = store.contracts()
    assert (row["contract_id"], row["thread_id"], row["read_state"]) == ("board-7100001", "7100001", "unreadable")
    assert "403" in row["unreadable_reason"]
    store.add_step("lancers", "board-7100001", "reminder_sent", T0)
    # A readable capture names the job: one contract, the step kept, the placeholder gone.
    page.ingest(store, T0 + timedelta(hours=1))
    [row] = store.contracts()
    assert (row["contract_id"], row["thread_id"], row["read_state"]) == (page.contract_id, "7100001", "ok")
    assert [s["step"] for s in store.steps("lancers", page.contract_id)] == ["reminder_sent"]
    # A later blocked capture marks the job's contract unreadable, not a new placeholder.
    store.ingest(page.url, page.html, T0 + timedelta(hours=2), responses=blocked)
    [row] = store.contracts()
    assert (row["contract_id"], row["read_state"]) == (page.contract_id, "unreadable")


def test_an_inquiry_board_is_kept_as_a_snapshot_and_is_no_contract(store):
    page = lancers_capture("7200001", [("client", "2026-11-01T10:00:00+09:00", "ご相談です")], inquiry=True)
    result = page.ingest(store, T0)
    assert result.reading.page == "inquiry"
    assert store.contracts() == []
    assert store.db["snapshots"].get(result.snapshot_id)["thread_id"] == "7200001"


def test_a_v1_database_is_migrated_and_reread_with_nothing_lost(tmp_path):
    """A database written before captures: its snapshots are re-read; a Lancers
    board page (no JSON) becomes unreadable under its board, with the user's steps."""
    import sqlite3

    from server.store import migrations

    path = tmp_path / "v1.db"
    with Store(path) as s:
        crowdworks_capture(messages=[A, B, C], api=False).ingest(s, T0)
        v1_lancers = "<!DOCTYPE html><html><body><div class='p-message-board'><ul class='p-message-list'></ul></div></body></html>"
        s.ingest("https://www.lancers.jp/mypage/message?boardId=7300001", v1_lancers, T0)
    # Roll the file back to v1's schema and rows: drop what m002 added.
    conn = sqlite3.connect(path)
    conn.execute("delete from _sqlite_migrations where name = 'm002_captures'")
    for table, column in (("snapshot_blobs", "kind"), ("snapshots", "thread_id"), ("contracts", "thread_id"),
                          ("contracts", "source"), ("contracts", "fact_sources")):
        conn.execute("drop index if exists idx_contracts_platform_thread_id")
        conn.execute(f"alter table {table} drop column {column}")
    conn.execute("delete from contracts")
    conn.execute("insert into contracts (platform, contract_id, url, read_state) values "
                 "('lancers', '7300001', 'https://www.lancers.jp/mypage/message?boardId=7300001', 'ok')")
    conn.execute("insert into steps (platform, contract_id, step, done_at, note, recorded_at) values "
                 "('lancers', '7300001', 'reminder_sent', '2026-11-14T10:00:00+09:00', '', '2026-11-14T10:00:00+09:00')")
    conn.commit()
    conn.close()
    from server import store as store_module

    store_module._MIGRATED.clear()  # another process (an older ghostwatch) wrote the file
    with Store(path) as s:
        assert not migrations.pending(s.db)
        rows = {(r["platform"], r["contract_id"]): r for r in s.contracts()}
        assert rows[("crowdworks", "9000001")]["read_state"] == "ok"
        assert len(s.messages("crowdworks", "9000001")) == 3
        board = rows[("lancers", "board-7300001")]
        assert board["read_state"] == "unreadable" and "ボードの詳細" in board["unreadable_reason"]
        assert [st["step"] for st in s.steps("lancers", "board-7300001")] == ["reminder_sent"]
        assert s.snapshot_count() == 2


def test_migrations_are_checked_once_per_process_and_file(tmp_path, monkeypatch):
    from server.store import migrations

    checks = []
    real_pending = migrations.pending
    monkeypatch.setattr(migrations, "pending", lambda db: checks.append(1) or real_pending(db))
    Store(tmp_path / "once.db").close()
    first = len(checks)
    assert first >= 1
    for _ in range(3):
        Store(tmp_path / "once.db").close()
    assert len(checks) == first  # the same file again: not checked again
    Store(tmp_path / "other.db").close()
    assert len(checks) > first
