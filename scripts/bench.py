#!/usr/bin/env python3
"""ghostwatch's benchmarks: prints its figures, each measured side by side in one run.

    python scripts/bench.py                 every section
    python scripts/bench.py --only core     core | server | collect (comma-separated)
    python scripts/bench.py --json          one JSON object, for tools to read

Core:
- reading the largest corpus capture (``read_page`` of its HTML and responses)
  against its floor: ``json.loads`` of its responses plus a bare lxml parse of
  its HTML with the readers' own parser, in the same run (target: at most 2x);
  with BeautifulSoup installed (``pip install -e '.[bench]'``), building its
  tree of the same HTML too, side by side: why the readers use lxml directly;
- ``ghostwatch status --json`` on a generated database of 2,000 contracts with
  200 messages each (target: under 0.3 s), plus peak memory.

The server and collector sections live in ``scripts/bench_server.py`` and
``scripts/bench_collect.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CORPUS = ROOT / "tests" / "fixtures" / "corpus"


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_parse(repeat: int = 15) -> dict:
    from lxml import etree

    from collector.html import parse_html
    from collector.pages import read_page

    def size(meta_path: Path) -> int:
        responses = meta_path.with_name(f"{meta_path.stem}.responses.json")
        return meta_path.with_suffix(".html").stat().st_size + (responses.stat().st_size if responses.exists() else 0)

    threads = [p for p in CORPUS.glob("*/*.json")
               if not p.name.endswith(".responses.json")
               and json.loads(p.read_text(encoding="utf-8"))["expected"]["page"] == "thread"]
    largest = max(threads, key=size)
    meta = json.loads(largest.read_text(encoding="utf-8"))
    raw = largest.with_suffix(".html").read_bytes()
    responses_path = largest.with_name(f"{largest.stem}.responses.json")
    responses = json.loads(responses_path.read_text(encoding="utf-8")) if responses_path.exists() else []
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)  # the readers' parser

    def floor_once():
        for response in responses:
            json.loads(response["body"])
        etree.fromstring(raw, parser)

    try:
        from bs4 import BeautifulSoup  # optional: the '.[bench]' extra
    except ImportError:
        BeautifulSoup = None

    assert parse_html(raw) is not None
    # Interleave them so that all see the same machine load; nothing is
    # cached between iterations (the readers keep no cache).
    floor, ours = [], []
    for _ in range(repeat):
        floor.append(_median_time(floor_once, 1))
        ours.append(_median_time(lambda: read_page(raw, meta["url"], responses), 1))
    floor_s, ours_s = statistics.median(floor), statistics.median(ours)
    # BeautifulSoup in a run of its own (its large trees would weigh on the
    # floor's timing), side by side with read_page again.
    again, soup_lxml, soup_python = [], [], []
    for _ in range(repeat if BeautifulSoup is not None else 0):
        again.append(_median_time(lambda: read_page(raw, meta["url"], responses), 1))
        soup_lxml.append(_median_time(lambda: BeautifulSoup(raw, "lxml"), 1))
        soup_python.append(_median_time(lambda: BeautifulSoup(raw, "html.parser"), 1))

    def ms(times):
        return round(statistics.median(times) * 1000, 2) if times else None
    return {
        "capture": f"{largest.parent.name}/{largest.stem}",
        "bytes": len(raw) + sum(len(r["body"].encode("utf-8")) for r in responses),
        "responses": len(responses),
        "floor_ms": round(floor_s * 1000, 2),
        "read_page_ms": round(ours_s * 1000, 2),
        "ratio": round(ours_s / floor_s, 2),
        "target_ratio": 2.0,
        # BeautifulSoup's tree of the same HTML alone (no reading), when installed.
        "bs4_read_page_ms": ms(again),
        "bs4_lxml_ms": ms(soup_lxml),
        "bs4_html_parser_ms": ms(soup_python),
    }


def generate_db(path: Path, contracts: int = 2000, messages: int = 200) -> None:
    """A database of ``contracts`` contracts with ``messages`` messages each,
    written straight into the store's tables (the shape ingest produces)."""
    from collector.timeutil import iso, parse_instant
    from server.store import Store

    rng = random.Random(7)
    base = parse_instant("2026-06-01T09:00:00+09:00")
    with Store(path) as store:
        conn = store.db.conn
        conn.execute("BEGIN")
        for n in range(contracts):
            platform = "lancers" if n % 2 else "crowdworks"
            cid = str(5_000_000 + n)
            status = rng.choice(["in_progress"] * 6 + ["delivered", "plan_change", "completed"])
            conn.execute(
                """insert into contracts (platform, contract_id, url, title, client, pay_type, status,
                escalation, history_collapsed, full_history_seen, read_state, last_captured_at, last_read_at,
                first_seen_at) values (?, ?, ?, ?, ?, ?, ?, ?, 0, 1, 'ok', ?, ?, ?)""",
                [platform, cid, f"https://example.invalid/{cid}", f"案件 {n}", f"クライアント {n % 97}",
                 rng.choice(["fixed", "fixed", "hourly"]), status, rng.choice(["none", "none", "available"]),
                 "2026-11-21T10:00:00+09:00", "2026-11-21T10:00:00+09:00", "2026-06-01T09:00:00+09:00"],
            )
            t = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
            rows = []
            for m in range(messages):
                t += timedelta(minutes=rng.randrange(5, 600))
                rows.append((platform, cid, f"{cid}-{m}", f"{cid}-{m}", rng.choice(["client", "me", "me", "system"]),
                             iso(t), "お世話になっております。" * 4, 1, 1))
            conn.executemany(
                """insert into messages (platform, contract_id, key, message_id, sender, sent_at, text,
                first_snapshot_id, last_snapshot_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
        conn.execute("COMMIT")
        store.refresh_message_stats()


def bench_status(contracts: int = 2000, messages: int = 200) -> dict:
    from server import service
    from server.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        generate_db(db, contracts, messages)
        generated_s = time.perf_counter() - start

        # The command as a user runs it (Python start-up included)...
        cmd = [sys.executable, "-m", "server.cli", "status", "--json", "--db", str(db),
               "--at", "2026-11-21T12:00:00+09:00"]
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, cwd=ROOT)
            if out.returncode not in (0, 3, 4):  # status exits 3 / 4 when something needs action
                raise SystemExit(f"bench: status failed: {out.stderr.decode()[-500:]}")
            runs.append(time.perf_counter() - start)
        verdicts = json.loads(out.stdout)
        child_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ...and the same work in-process, without start-up.
        from collector.timeutil import parse_instant

        at = parse_instant("2026-11-21T12:00:00+09:00")
        with Store(db) as store:
            in_process = _median_time(lambda: service.status(store, at), 3)
        # A bare "python -c pass" for the start-up floor, side by side.
        startup = _median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 3)
    return {
        "contracts": contracts,
        "messages_per_contract": messages,
        "verdicts": len(verdicts),
        "generate_s": round(generated_s, 2),
        "status_json_command_s": round(statistics.median(runs), 3),
        "status_in_process_s": round(in_process, 3),
        "python_startup_s": round(startup, 3),
        "status_command_peak_rss_mb": round(child_rss_kb / 1024, 1),
        "target_s": 0.3,
    }


SECTIONS = ("core", "server", "collect")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections: core,server,collect")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the server's concurrency run")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    figures: dict = {}
    if "core" in wanted:
        figures["parse"] = bench_parse()
        figures["status"] = bench_status()
        figures["core_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if not args.json:
            p, s = figures["parse"], figures["status"]
            print(f"read_page {p['capture']} ({p['bytes']:,} bytes, {p['responses']} responses): "
                  f"{p['read_page_ms']} ms; floor (json.loads of the responses + lxml parse of the HTML): "
                  f"{p['floor_ms']} ms -> {p['ratio']}x (target <= 2x)")
            if p["bs4_lxml_ms"] is None:
                print("BeautifulSoup: not installed (pip install -e '.[bench]' to compare)")
            else:
                print(f"BeautifulSoup's tree of the same HTML, no reading: {p['bs4_lxml_ms']} ms with lxml "
                      f"({p['bs4_lxml_ms'] / p['bs4_read_page_ms']:.1f}x read_page), {p['bs4_html_parser_ms']} ms "
                      f"with html.parser ({p['bs4_html_parser_ms'] / p['bs4_read_page_ms']:.1f}x read_page; "
                      f"read_page {p['bs4_read_page_ms']} ms in the same run)")
            print(f"status --json, {s['contracts']:,} contracts x {s['messages_per_contract']} messages: "
                  f"{s['status_json_command_s']} s as a command (python start-up alone {s['python_startup_s']} s), "
                  f"{s['status_in_process_s']} s in-process (target < 0.3 s); "
                  f"peak RSS {s['status_command_peak_rss_mb']} MB")
            print(f"benchmark process peak RSS: {figures['core_peak_rss_mb']} MB")
    if "server" in wanted:
        import bench_server

        figures["server"] = bench_server.run(json_mode=args.json, seconds=args.seconds)
    if "collect" in wanted:
        import bench_collect

        figures["collect"] = bench_collect.run(json_mode=args.json)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
