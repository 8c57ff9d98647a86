"""Nothing lost, nothing crashes: mutated captures always read as a reading or
"unreadable", and a process killed in the middle of ingests leaves a database
that opens whole, with every capture whose ingest returned."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collector.pages import read_page
from collector.reading import NotAPage
from collector.reading import ContractList, Inquiry, Thread, Unreadable
from corpus import pages
from server.store import Store

CAPTURES = [(p, p.html.read_text(encoding="utf-8"), p.responses_list()) for p in pages()]
CASES = 3000


def _mutate_text(rng: random.Random, text: str) -> str:
    if not text:
        return text
    kind = rng.randrange(4)
    a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    if kind == 0:  # delete a span
        return text[:a] + text[b:]
    if kind == 1:  # truncate
        return text[:a]
    if kind == 2:  # swap two spans
        c, d = sorted(rng.randrange(len(text) + 1) for _ in range(2))
        if b <= c:
            return text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
        return text[b:] + text[:a]
    return text[:a] + text[a:b][::-1] + text[b:]  # reverse a span


WRONG_VALUES = [None, True, 0, -1, 10**30, 1.5, "", "x", "2026-13-45 99:99:99", [], {}, [1, 2], {"id": None}]


def _mutate_json(rng: random.Random, value):
    """The same JSON with one value somewhere replaced by one of another type."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate_json(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        n = rng.randrange(len(value))
        return value[:n] + [_mutate_json(rng, value[n])] + value[n + 1:]
    return rng.choice(WRONG_VALUES)


def _mutated(rng: random.Random):
    page, html, responses = rng.choice(CAPTURES)
    responses = [dict(r) for r in responses]
    what = rng.randrange(5)
    if what == 0 or not responses:
        html = _mutate_text(rng, html)
    elif what == 1:
        r = rng.choice(responses)
        r["body"] = _mutate_text(rng, r["body"])
    elif what == 2:
        r = rng.choice(responses)
        try:
            r["body"] = json.dumps(_mutate_json(rng, json.loads(r["body"])), ensure_ascii=False)
        except ValueError:
            r["body"] = ""
    elif what == 3:
        r = rng.choice(responses)
        r["status"] = rng.choice([0, 204, 301, 403, 404, 500, 503])
    else:
        rng.shuffle(responses)
        del responses[rng.randrange(len(responses)):]
    return page, html, responses


def test_mutated_captures_always_read_as_a_reading_or_unreadable():
    rng = random.Random(20261125)
    kinds = {}
    for n in range(CASES):
        page, html, responses = _mutated(rng)
        try:
            reading = read_page(html, page.url, responses)
        except NotAPage:
            kinds["not_a_page"] = kinds.get("not_a_page", 0) + 1  # refused input: nothing would be stored
            continue
        except Exception as err:  # noqa: BLE001
            pytest.fail(f"case {n} ({page.name}): {type(err).__name__}: {err}")
        assert isinstance(reading, (Thread, ContractList, Inquiry, Unreadable))
        json.dumps(reading.to_json(), ensure_ascii=False)  # every reading can be printed
        if isinstance(reading, Unreadable):
            assert reading.reason
        kinds[type(reading).__name__] = kinds.get(type(reading).__name__, 0) + 1
    # The mutations reach both outcomes: readings that still read, and unreadable ones.
    assert kinds.get("Unreadable", 0) > CASES // 20 and kinds.get("Thread", 0) > CASES // 20, kinds


WRITER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from corpus import pages
    from collector.timeutil import parse_instant
    from datetime import timedelta
    from server.store import Store

    captures = [(p.url, p.html.read_text(encoding="utf-8"), p.responses_list(), p.meta["captured_at"]) for p in pages()]
    with Store({db!r}) as store:
        n = 0
        while True:
            url, html, responses, captured = captures[n % len(captures)]
            result = store.ingest(url, html, parse_instant(captured) + timedelta(minutes=n), responses=responses)
            print(result.snapshot_id, flush=True)
            n += 1
""")


@pytest.mark.parametrize("after", [3, 25])
def test_a_process_killed_mid_ingest_leaves_a_whole_database(tmp_path, after):
    db = tmp_path / "killed.db"
    script = WRITER.format(tests=str(Path(__file__).parent), db=str(db))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)
    returned = []
    try:
        for line in proc.stdout:
            returned.append(int(line))
            if len(returned) >= after:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(returned) >= after, "the writer stopped before it was killed"
    with Store(db) as store:
        assert store.db.execute("pragma integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in store.db.execute("select id from snapshots")}
        assert set(returned) <= stored
        for snapshot_id in returned:  # every returned capture can be read back whole
            html, _ = store.snapshot_capture(snapshot_id)
            assert html.startswith(b"<!DOCTYPE html>")
