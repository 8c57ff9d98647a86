"""The SQLite store: raw snapshots, contracts, their messages, the user's steps.

- ``snapshot_blobs``: every page's bytes, gzip-compressed, once per content hash.
- ``snapshots``: one row a capture (url, instant, source) pointing at its blob,
  with what reading it gave (``ok`` / ``unreadable`` and why).
- ``contracts``: one row a (platform, contract id), with the facts of its latest
  readable thread snapshot (by capture instant, not by arrival order).
- ``messages``: every message any snapshot showed, accumulated, so a later page
  with folded history does not forget what an earlier one showed.
- ``steps``: what the user recorded that the pages cannot show (a reminder sent,
  a 完了報告 filed, the 事務局 contacted, a request filed).

Every ingest is one ``BEGIN IMMEDIATE`` transaction: the raw bytes, the reading
and its effects land together or not at all.  The connection runs in WAL mode
with a busy timeout, so the extension and the collector can write at once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from collector.capture import Response, parse_responses, responses_json, scrub_secrets
from collector.pages import identify, read_page
from collector.reading import ContractList, Inquiry, NotAPage, Reading, Thread, Unreadable, UnsupportedURL
from collector.timeutil import aware, iso, now

BUSY_TIMEOUT_MS = 30_000
STEP_KINDS = ("reminder_sent", "report_filed", "office_contacted", "request_filed")

migrations = Migrations("ghostwatch")


@migrations()
def m001_initial(db: sqlite_utils.Database):
    db["snapshot_blobs"].create({"sha256": str, "html_gz": bytes, "size": int}, pk="sha256")
    db["snapshots"].create(
        {
            "id": int,
            "sha256": str,
            "url": str,
            "platform": str,
            "page": str,
            "contract_id": str,
            "captured_at": str,
            "received_at": str,
            "source": str,
            "read_state": str,  # ok | unreadable
            "reason": str,
        },
        pk="id",
        foreign_keys=[("sha256", "snapshot_blobs", "sha256")],
    )
    db["snapshots"].create_index(["sha256", "url", "captured_at"], unique=True)
    db["snapshots"].create_index(["platform", "contract_id", "captured_at"])
    db["contracts"].create(
        {
            "platform": str,
            "contract_id": str,
            "url": str,
            "title": str,
            "client": str,
            "pay_type": str,
            "status": str,
            "escalation": str,
            "escalation_deadline": str,
            "history_collapsed": int,
            "full_history_seen": int,
            "delivered_at": str,
            "read_state": str,  # ok | unreadable | None (seen on a list only)
            "unreadable_reason": str,
            "last_snapshot_id": int,
            "last_captured_at": str,
            "last_read_at": str,  # capture instant of the latest readable snapshot
            "list_status": str,
            "list_seen_at": str,
            "first_seen_at": str,
        },
        pk=("platform", "contract_id"),
    )
    db["messages"].create(
        {
            "platform": str,
            "contract_id": str,
            "key": str,
            "message_id": str,
            "sender": str,
            "sent_at": str,
            "text": str,
            "first_snapshot_id": int,
            "last_snapshot_id": int,
        },
        pk=("platform", "contract_id", "key"),
    )
    db["messages"].create_index(["platform", "contract_id", "sender", "sent_at"])
    db["steps"].create(
        {
            "id": int,
            "platform": str,
            "contract_id": str,
            "step": str,
            "done_at": str,
            "note": str,
            "recorded_at": str,
        },
        pk="id",
    )
    db["steps"].create_index(["platform", "contract_id"])


# A Lancers board whose job is not known (its capture could not be read) is
# kept under this key until a readable capture names the job.
UNKNOWN_JOB_PREFIX = "board-"


@migrations()
def m002_captures(db: sqlite_utils.Database):
    """v2: a snapshot is a capture (the page plus the platform's JSON); Lancers
    contracts are keyed by their job id, their board is the thread.  Every
    stored snapshot is re-read after this migration (see ``Store.__init__``)."""
    db["snapshot_blobs"].add_column("kind", str, not_null_default="html")  # html | capture
    db["snapshots"].add_column("thread_id", str)
    for column in ("thread_id", "source", "fact_sources"):
        db["contracts"].add_column(column, str)
    db["contracts"].create_index(["platform", "thread_id"])
    # v1 keyed Lancers contracts by board id: keep the user's steps under the
    # board until a capture of it names the job.
    db.execute(f"update steps set contract_id = '{UNKNOWN_JOB_PREFIX}' || contract_id where platform = 'lancers'")


# Each contract's message aggregates, kept beside it as its messages change, so
# that judging every contract reads one row each, not every message.
MESSAGE_STATS = ("last_client_at", "last_me_at", "first_at", "count")
_STATS_SQL = """update contracts set
    last_client_at = (select max(sent_at) from messages m where m.platform = contracts.platform
                      and m.contract_id = contracts.contract_id and m.sender = 'client'),
    last_me_at = (select max(sent_at) from messages m where m.platform = contracts.platform
                  and m.contract_id = contracts.contract_id and m.sender = 'me'),
    first_at = (select min(sent_at) from messages m where m.platform = contracts.platform
                and m.contract_id = contracts.contract_id),
    count = (select count(*) from messages m where m.platform = contracts.platform
             and m.contract_id = contracts.contract_id)"""


@migrations()
def m003_message_stats(db: sqlite_utils.Database):
    """Each contract's message aggregates as columns of its row (see MESSAGE_STATS)."""
    for column in MESSAGE_STATS:
        db["contracts"].add_column(column, int if column == "count" else str)
    db.execute(_STATS_SQL)


REREAD_AFTER = ("m002_captures",)


_MIGRATED: set[tuple] = set()


def _file_key(path: Path) -> tuple:
    """A database file, as this process has checked its migrations (a file
    deleted and made again at the same path is checked again)."""
    st = path.stat()
    return str(path.resolve()), st.st_ino, st.st_dev


@dataclass
class IngestResult:
    snapshot_id: int
    duplicate: bool
    reading: Reading


def message_key(message) -> str:
    if message.id:
        return message.id
    digest = hashlib.sha1(f"{message.sender}\x1f{iso(message.sent_at)}\x1f{message.text}".encode()).hexdigest()
    return "h:" + digest[:20]


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.db = sqlite_utils.Database(conn)
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        key = _file_key(self.path)
        if key not in _MIGRATED:  # once per process and database file, not on every request
            reread = False
            with self._write():  # inside the lock: two processes starting at once migrate once
                pending = {m.name for m in migrations.pending(self.db)}
                if pending:
                    migrations.apply(self.db)
            reread = bool(pending & set(REREAD_AFTER)) and self.snapshot_count() > 0
            if reread:
                self.reparse()
            _MIGRATED.add(_file_key(self.path))

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def _write(self):
        """One write transaction that takes the write lock up front (no
        deadlock between two readers that both want to write)."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # --- ingest -------------------------------------------------------------

    def ingest(self, url: str, html: str | bytes, captured_at: datetime, source: str = "cli",
               responses: list[Response] | list[dict] | None = None) -> IngestResult:
        """Store a capture and what it says.  Raises UnsupportedURL / NotAPage,
        or ValueError for a ``responses`` list of the wrong shape (nothing
        written), for input that is not a capture ghostwatch reads.

        The capture is read before the write lock is taken; the platform's own
        secrets (CSRF tokens) are dropped before anything is written."""
        ref = identify(url)  # refuse an unsupported URL before anything
        responses = parse_responses(responses)
        html_bytes = scrub_secrets(html.encode("utf-8") if isinstance(html, str) else bytes(html))
        captured_at = aware(captured_at)
        reading = _read_safely(html_bytes, ref.url, responses)  # NotAPage: nothing written
        kind, raw = _blob(html_bytes, responses)
        sha = hashlib.sha256(raw).hexdigest()
        captured = iso(captured_at)
        with self._write():
            existing = self.db.execute(
                "select id from snapshots where sha256 = ? and url = ? and captured_at = ?",
                [sha, ref.url, captured],
            ).fetchone()
            if not self.db.execute("select 1 from snapshot_blobs where sha256 = ?", [sha]).fetchone():
                self.db.execute(
                    "insert into snapshot_blobs (sha256, html_gz, size, kind) values (?, ?, ?, ?)",
                    [sha, gzip.compress(raw, 6), len(raw), kind],
                )
            if existing:
                snapshot_id = existing[0]
            else:
                snapshot_id = self.db.execute(
                    "insert into snapshots (sha256, url, platform, page, contract_id, thread_id, captured_at, "
                    "received_at, source, read_state) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [sha, ref.url, ref.platform, ref.page, ref.contract_id, ref.thread_id, captured, iso(now()),
                     source],
                ).lastrowid
            self._apply(snapshot_id, captured, reading)
        return IngestResult(snapshot_id=snapshot_id, duplicate=existing is not None, reading=reading)

    def _apply(self, snapshot_id: int, captured: str, reading: Reading) -> None:
        ok = not isinstance(reading, Unreadable)
        self.db.execute(
            "update snapshots set read_state = ?, reason = ?, page = ?, contract_id = ?, thread_id = ? where id = ?",
            ["ok" if ok else "unreadable", None if ok else reading.reason, reading.page,
             getattr(reading, "contract_id", None), getattr(reading, "thread_id", None), snapshot_id],
        )
        if isinstance(reading, Thread):
            self._apply_thread(snapshot_id, captured, reading)
        elif isinstance(reading, ContractList):
            self._apply_list(captured, reading)
        elif isinstance(reading, Inquiry):
            self._drop_unknown_job(reading.platform, reading.thread_id, None)
        else:
            key = self._unreadable_key(reading)
            if key is not None:
                self._apply_unreadable(snapshot_id, captured, reading, key)

    def contract_key_of(self, reading: Unreadable) -> str | None:
        """The contract an unreadable reading was stored under (None for a list page)."""
        return self._unreadable_key(reading)

    def _unreadable_key(self, reading: Unreadable) -> str | None:
        """The contract an unreadable capture belongs to: the URL's contract id,
        else the contract known to own its thread, else the thread itself."""
        if reading.contract_id is not None:
            return reading.contract_id
        if reading.thread_id is None:
            return None  # a list page
        row = self.db.execute(
            "select contract_id from contracts where platform = ? and thread_id = ? "
            "order by (contract_id like ?) limit 1",
            [reading.platform, reading.thread_id, UNKNOWN_JOB_PREFIX + "%"],
        ).fetchone()
        return row[0] if row else UNKNOWN_JOB_PREFIX + reading.thread_id

    def _drop_unknown_job(self, platform: str, thread_id: str, contract_id: str | None) -> None:
        """A capture named the board's job (or showed it is an inquiry): the
        placeholder kept for the board goes; the user's steps move to the job."""
        key = UNKNOWN_JOB_PREFIX + thread_id
        if contract_id is not None:
            self.db.execute("update steps set contract_id = ? where platform = ? and contract_id = ?",
                            [contract_id, platform, key])
        self.db.execute("delete from messages where platform = ? and contract_id = ?", [platform, key])
        self.db.execute("delete from contracts where platform = ? and contract_id = ?", [platform, key])

    def _ensure_contract(self, platform: str, contract_id: str, url: str, captured: str) -> dict:
        self.db.execute(
            "insert into contracts (platform, contract_id, url, first_seen_at) values (?, ?, ?, ?) "
            "on conflict (platform, contract_id) do nothing",
            [platform, contract_id, url, captured],
        )
        return self.db["contracts"].get((platform, contract_id))

    def _apply_thread(self, snapshot_id: int, captured: str, thread: Thread) -> None:
        self._drop_unknown_job(thread.platform, thread.thread_id, thread.contract_id)
        row = self._ensure_contract(thread.platform, thread.contract_id, thread.url, captured)
        if row["last_captured_at"] is None or captured >= row["last_captured_at"]:
            self.db.execute(
                """update contracts set url = ?, thread_id = ?, source = ?, fact_sources = ?, title = ?,
                client = ?, pay_type = ?, status = ?, escalation = ?, escalation_deadline = ?,
                history_collapsed = ?, delivered_at = ?, read_state = 'ok', unreadable_reason = null,
                last_snapshot_id = ?, last_captured_at = ?, last_read_at = ?
                where platform = ? and contract_id = ?""",
                [
                    thread.url, thread.thread_id, thread.source, json.dumps(thread.fact_sources),
                    thread.title or row["title"], thread.client, thread.pay_type, thread.status,
                    thread.escalation, iso(thread.escalation_deadline), int(thread.history_collapsed),
                    iso(thread.delivered_at) or row["delivered_at"], snapshot_id, captured, captured,
                    thread.platform, thread.contract_id,
                ],
            )
        if not thread.history_collapsed:
            self.db.execute(
                "update contracts set full_history_seen = 1 where platform = ? and contract_id = ?",
                [thread.platform, thread.contract_id],
            )
        self.db.conn.executemany(
            """insert into messages (platform, contract_id, key, message_id, sender, sent_at, text,
            first_snapshot_id, last_snapshot_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?)
            on conflict (platform, contract_id, key) do update set
              sender = excluded.sender, sent_at = excluded.sent_at, text = excluded.text,
              last_snapshot_id = excluded.last_snapshot_id""",
            [
                (
                    thread.platform, thread.contract_id, message_key(m), m.id, m.sender,
                    iso(m.sent_at), m.text, snapshot_id, snapshot_id,
                )
                for m in thread.messages
            ],
        )
        self.db.execute(_STATS_SQL + " where platform = ? and contract_id = ?", [thread.platform, thread.contract_id])

    def _apply_unreadable(self, snapshot_id: int, captured: str, reading: Unreadable, key: str) -> None:
        row = self._ensure_contract(reading.platform, key, reading.url, captured)
        if row["last_captured_at"] is None or captured >= row["last_captured_at"]:
            self.db.execute(
                """update contracts set read_state = 'unreadable', unreadable_reason = ?,
                thread_id = coalesce(?, thread_id), last_snapshot_id = ?, last_captured_at = ?
                where platform = ? and contract_id = ?""",
                [reading.reason, reading.thread_id, snapshot_id, captured, reading.platform, key],
            )

    def _apply_list(self, captured: str, listing: ContractList) -> None:
        for item in listing.contracts:
            row = self._ensure_contract(listing.platform, item.contract_id, item.url, captured)
            if row["list_seen_at"] is None or captured >= row["list_seen_at"]:
                self.db.execute(
                    """update contracts set list_status = ?, list_seen_at = ?,
                    title = coalesce(title, ?) where platform = ? and contract_id = ?""",
                    [item.status, captured, item.title or None, listing.platform, item.contract_id],
                )

    # --- reading back -------------------------------------------------------

    def contracts(self) -> list[dict]:
        return list(self.db.query("select * from contracts order by platform, contract_id"))

    def contract(self, platform: str, contract_id: str) -> dict | None:
        rows = list(
            self.db.query(
                "select * from contracts where platform = ? and contract_id = ?", [platform, contract_id]
            )
        )
        return rows[0] if rows else None

    def messages(self, platform: str, contract_id: str) -> list[dict]:
        return list(
            self.db.query(
                "select message_id as id, sender, sent_at, text from messages "
                "where platform = ? and contract_id = ? order by sent_at, rowid",
                [platform, contract_id],
            )
        )

    def refresh_message_stats(self) -> None:
        """Compute every contract's message aggregates again from its messages
        (for messages written by other means than ``ingest``, as the benchmark does)."""
        with self._write():
            self.db.execute(_STATS_SQL)

    def message_stats(self, platform: str | None = None, contract_id: str | None = None) -> dict[tuple[str, str], dict]:
        """Per contract (every one, or the one named): the client's last
        message, your last, the earliest message, the count (kept with each
        contract as its messages change)."""
        where, params = ("where platform = ? and contract_id = ?", [platform, contract_id]) if platform else ("", [])
        columns = ", ".join(MESSAGE_STATS)
        return {
            (row[0], row[1]): dict(zip(MESSAGE_STATS, row[2:]))
            for row in self.db.execute(f"select platform, contract_id, {columns} from contracts {where}", params)
            if row[5]  # a contract with no message read has no aggregates
        }

    def snapshot_capture(self, snapshot_id: int) -> tuple[bytes, list[Response]]:
        """A stored capture: the page's HTML and the responses captured with it."""
        row = self.db.execute(
            "select b.html_gz, b.kind from snapshots s join snapshot_blobs b on b.sha256 = s.sha256 where s.id = ?",
            [snapshot_id],
        ).fetchone()
        if row is None:
            raise KeyError(snapshot_id)
        raw = gzip.decompress(row[0])
        if row[1] != "capture":
            return raw, []  # a v1 snapshot: the page alone
        data = json.loads(raw)
        return data["html"].encode("utf-8"), parse_responses(data["responses"])

    def snapshot_html(self, snapshot_id: int) -> bytes:
        return self.snapshot_capture(snapshot_id)[0]

    def snapshot_count(self) -> int:
        return self.db.execute("select count(*) from snapshots").fetchone()[0]

    # --- steps --------------------------------------------------------------

    def add_step(self, platform: str, contract_id: str, step: str, done_at: datetime, note: str = "") -> int:
        if step not in STEP_KINDS:
            raise ValueError(f"unknown step {step!r}; one of {', '.join(STEP_KINDS)}")
        with self._write():
            return self.db.execute(
                "insert into steps (platform, contract_id, step, done_at, note, recorded_at) values (?, ?, ?, ?, ?, ?)",
                [platform, contract_id, step, iso(aware(done_at)), note, iso(now())],
            ).lastrowid

    def delete_step(self, step_id: int) -> None:
        with self._write():
            self.db.execute("delete from steps where id = ?", [step_id])

    def steps(self, platform: str | None = None, contract_id: str | None = None) -> list[dict]:
        if platform is None:
            return list(self.db.query("select * from steps order by done_at, id"))
        return list(
            self.db.query(
                "select * from steps where platform = ? and contract_id = ? order by done_at, id",
                [platform, contract_id],
            )
        )

    # --- re-reading ---------------------------------------------------------

    def reparse(self, progress=None) -> dict:
        """Re-read every stored snapshot with the current adapters, in capture
        order, and rebuild contracts and messages from them (steps are kept)."""
        snapshots = list(self.db.query("select id, url, captured_at from snapshots order by captured_at, id"))
        counts = {"snapshots": len(snapshots), "ok": 0, "unreadable": 0}
        with self._write():
            self.db.execute("delete from messages")
            self.db.execute("delete from contracts")
            for row in snapshots:
                html, responses = self.snapshot_capture(row["id"])
                try:
                    reading = _read_safely(html, row["url"], responses)
                except NotAPage as err:  # stored by an earlier version: keep it, as unreadable
                    ref = identify(row["url"])
                    reading = Unreadable(ref.platform, ref.url, ref.page, str(err), ref.contract_id, ref.thread_id)
                self._apply(row["id"], row["captured_at"], reading)
                counts["unreadable" if isinstance(reading, Unreadable) else "ok"] += 1
                if progress:
                    progress()
        return counts


def _blob(html: bytes, responses: list[Response]) -> tuple[str, bytes]:
    """What the store keeps of a capture: the page alone (``html``, as v1
    did), or the page and its responses as one JSON document (``capture``)."""
    if not responses:
        return "html", html
    try:
        text = html.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotAPage("HTML ではありません（UTF-8 として読めません）") from err
    doc = {"html": text, "responses": responses_json(responses)}
    return "capture", json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _read_safely(html: bytes, url: str, responses: list[Response]) -> Reading:
    """Read a capture; a reader bug becomes an unreadable reading (the raw
    capture is kept for ``reparse``), while input that is not a page raises
    NotAPage."""
    try:
        return read_page(html, url, responses)
    except (NotAPage, UnsupportedURL):
        raise
    except Exception as err:  # noqa: BLE001 - reported as unreadable, never guessed
        ref = identify(url)
        return Unreadable(
            ref.platform, ref.url, ref.page, f"読み取り中にエラーが発生しました: {type(err).__name__}: {err}",
            ref.contract_id, ref.thread_id,
        )
