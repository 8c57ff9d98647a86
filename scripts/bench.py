#!/usr/bin/env python3
"""ghostwatch's benchmarks: prints its figures, each measured side by side in one run.

    python scripts/bench.py                 every section
    python scripts/bench.py --only core     core | server | collect (comma-separated)
    python scripts/bench.py --json          one JSON object, for tools to read

Core (issue 2):
- reading the largest corpus thread against a bare ``lxml.html.fromstring`` of
  the same bytes (target: at most 3x that floor);
- ``ghostwatch status --json`` on a generated database of 2,000 contracts with
  200 messages each (target: under 1 s), plus peak memory.

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
    import lxml.html

    from collector.pages import read_page
    from collector.timeutil import parse_instant

    largest = max(CORPUS.glob("*/*.html"), key=lambda p: p.stat().st_size if "list" not in p.name else 0)
    meta = json.loads(largest.with_suffix(".json").read_text(encoding="utf-8"))
    raw = largest.read_bytes()
    captured = parse_instant(meta["captured_at"])
    # Interleave the two so that both see the same machine load.
    floor, ours = [], []
    for _ in range(repeat):
        floor.append(_median_time(lambda: lxml.html.fromstring(raw), 1))
        ours.append(_median_time(lambda: read_page(raw, meta["url"], captured), 1))
    floor_s, ours_s = statistics.median(floor), statistics.median(ours)
    return {
        "page": f"{largest.parent.name}/{largest.name}",
        "bytes": len(raw),
        "lxml_fromstring_ms": round(floor_s * 1000, 2),
        "read_page_ms": round(ours_s * 1000, 2),
        "ratio": round(ours_s / floor_s, 2),
        "target_ratio": 3.0,
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
            out = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)
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
        "target_s": 1.0,
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
            print(f"read_page {p['page']} ({p['bytes']:,} bytes): {p['read_page_ms']} ms, "
                  f"lxml.html.fromstring: {p['lxml_fromstring_ms']} ms -> {p['ratio']}x (target <= 3x)")
            print(f"status --json, {s['contracts']:,} contracts x {s['messages_per_contract']} messages: "
                  f"{s['status_json_command_s']} s as a command (python start-up alone {s['python_startup_s']} s), "
                  f"{s['status_in_process_s']} s in-process (target < 1 s); "
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
