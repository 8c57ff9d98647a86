#!/usr/bin/env python3
"""The local server's figures, against a real ``ghostwatch serve`` subprocess.

    python scripts/bench_server.py [--seconds 30] [--json]

- ``POST /api/snapshots`` of the largest corpus page
  (``lancers/thread_long.html``): median and p95;
- 4 concurrent clients posting corpus pages for ``--seconds`` (default 30 s)
  to the waitress server: requests per second, p50 / p95 of a post, and errors
  (target: none);
- the server's peak RSS (``VmHWM`` of ``/proc/<pid>/status``) after 1,000
  ingests (target: under 150 MB);
- ``/`` rendered with 2,000 contracts (a generated database, as in
  ``scripts/bench.py``): median (target: under 300 ms).

Each server runs on a free port of 127.0.0.1 with a temporary GHOSTWATCH_HOME.
``scripts/bench.py`` imports ``run``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
LARGEST = CORPUS / "lancers" / "thread_long.html"

RSS_TARGET_MB = 150
INDEX_TARGET_MS = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ghostwatch serve`` as a subprocess, on a free port, in a temporary home."""

    def __init__(self, home: Path, db: Path | None = None):
        self.home = home
        self.port = _free_port()
        args = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), "--no-open"]
        if db is not None:
            args += ["--db", str(db)]
        self.log = open(home.parent / f"bench-server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "GHOSTWATCH_HOME": str(home)},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("ghostwatch serve exited: " + Path(self.log.name).read_text(errors="replace"))
            try:
                if self.request("GET", "/api/health", auth=False)[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("ghostwatch serve did not answer in 30 s") from None
                time.sleep(0.1)
        self.token = (home / "token").read_text().strip()

    def request(self, method: str, path: str, body: bytes | None = None, auth: bool = True,
                headers: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            hdrs = dict(headers or {})
            if auth:
                hdrs["Authorization"] = f"Bearer {self.token}"
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def sign_in(self) -> str:
        """A visit with ``?token=`` (303 + a session cookie): the ``Cookie`` value."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", f"/?token={self.token}")
            resp = conn.getresponse()
            resp.read()
            return resp.getheader("Set-Cookie").split(";", 1)[0]
        finally:
            conn.close()

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _responses(meta_path: Path) -> list:
    path = meta_path.with_name(meta_path.stem + ".responses.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _corpus() -> list[tuple[str, str, str, list]]:
    """Every corpus capture: (url, html, captured_at, responses)."""
    pages = []
    for meta_path in sorted(CORPUS.glob("*/*.json")):
        if meta_path.name.endswith(".responses.json"):
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        pages.append((meta["url"], meta_path.with_suffix(".html").read_text(encoding="utf-8"), meta["captured_at"],
                      _responses(meta_path)))
    return pages


def _body(url: str, html: str, captured_at: str, salt: str, responses: list | None = None) -> bytes:
    # A comment makes every post a new snapshot (stored, not deduplicated), as
    # the extension sends a page again when new messages appear.
    return json.dumps({"url": url, "html": html + f"<!-- bench {salt} -->", "captured_at": captured_at,
                       "responses": responses or []}, ensure_ascii=False).encode("utf-8")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_largest(server: Server, repeat: int = 40) -> dict:
    meta = json.loads(LARGEST.with_suffix(".json").read_text(encoding="utf-8"))
    html = LARGEST.read_text(encoding="utf-8")
    times = []
    for n in range(repeat):
        body = _body(meta["url"], html, meta["captured_at"], f"largest {n}", _responses(LARGEST.with_suffix(".json")))
        start = time.perf_counter()
        status, _ = server.request("POST", "/api/snapshots", body)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"POST /api/snapshots answered {status}")
    return {
        "page": "lancers/thread_long.html",
        "bytes": len(html.encode("utf-8")),
        "posts": repeat,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 0.95), 1),
    }


def bench_concurrent(server: Server, seconds: float, clients: int = 4) -> dict:
    pages = _corpus()
    counts = [0] * clients
    errors: list[str] = []
    times: list[float] = []
    stop_at = time.monotonic() + seconds

    def client(k: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            url, html, captured, responses = pages[(n + k * 5) % len(pages)]
            body = _body(url, html, captured, f"c{k} {n}", responses)
            start = time.perf_counter()
            try:
                status, raw = server.request("POST", "/api/snapshots", body)
                times.append((time.perf_counter() - start) * 1000)
            except OSError as err:
                errors.append(f"client {k}: {err}")
            else:
                if status == 200:
                    counts[k] += 1
                else:
                    errors.append(f"client {k}: {status} {raw[:200]!r}")
            n += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": sum(counts),
        "requests_per_s": round(sum(counts) / elapsed, 1),
        "p50_ms": round(_percentile(times, 0.50), 1) if times else None,
        "p95_ms": round(_percentile(times, 0.95), 1) if times else None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def bench_rss(server: Server, ingests: int = 1000) -> dict:
    pages = _corpus()
    done = 0
    # What the server holds after the runs above plus ``ingests`` more, posted two at a time.
    lock = threading.Lock()
    failures = []

    def client(k: int) -> None:
        nonlocal done
        while True:
            with lock:
                if done >= ingests:
                    return
                n = done
                done += 1
            url, html, captured, responses = pages[n % len(pages)]
            status, _ = server.request("POST", "/api/snapshots", _body(url, html, captured, f"rss {n}", responses))
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"ingests": ingests, "errors": len(failures), "peak_rss_mb": server.peak_rss_mb(),
            "target_mb": RSS_TARGET_MB}


def bench_index(tmp: Path, contracts: int = 2000, messages: int = 200, repeat: int = 7) -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    from bench import generate_db

    db = tmp / "index-bench.db"
    generate_db(db, contracts, messages)
    home = tmp / "index-home"
    home.mkdir()
    server = Server(home, db=db)
    try:
        cookie = {"Cookie": server.sign_in()}
        times, size = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            status, raw = server.request("GET", "/?at=2026-11-21T12%3A00%3A00%2B09%3A00", auth=False, headers=cookie)
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise RuntimeError(f"GET / answered {status}")
            size = len(raw)
        rows = raw.count(b'<tr class="contract"')
    finally:
        server.stop()
    return {
        "contracts": contracts,
        "messages_per_contract": messages,
        "rows": rows,
        "bytes": size,
        "median_ms": round(statistics.median(times), 1),
        "target_ms": INDEX_TARGET_MS,
    }


def run(json_mode: bool = False, seconds: float = 30.0) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="ghostwatch-bench-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        server = Server(home)
        try:
            figures["post_largest"] = bench_largest(server)
            figures["concurrent"] = bench_concurrent(server, seconds)
            figures["rss"] = bench_rss(server)
        finally:
            server.stop()
        figures["index"] = bench_index(tmp)
    if not json_mode:
        p, c, r, i = figures["post_largest"], figures["concurrent"], figures["rss"], figures["index"]
        print(f"POST /api/snapshots {p['page']} ({p['bytes']:,} bytes), {p['posts']} posts: "
              f"median {p['median_ms']} ms, p95 {p['p95_ms']} ms")
        print(f"{c['clients']} concurrent clients for {c['seconds']} s: {c['requests']} snapshots, "
              f"{c['requests_per_s']}/s, p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, errors: {c['errors']}")
        print(f"server peak RSS after {r['ingests']:,} more ingests: {r['peak_rss_mb']} MB "
              f"(target < {r['target_mb']} MB), errors: {r['errors']}")
        print(f"GET / with {i['contracts']:,} contracts ({i['rows']} rows shown, {i['bytes']:,} bytes): "
              f"median {i['median_ms']} ms (target < {i['target_ms']} ms)")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the concurrency run (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = run(json_mode=args.json, seconds=args.seconds)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    errors = figures["concurrent"]["errors"] + figures["rss"]["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
