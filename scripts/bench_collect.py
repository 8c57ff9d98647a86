#!/usr/bin/env python3
"""Benchmark of ``ghostwatch collect`` against the HTTPS stand-in (issues 5, 8).

    python scripts/bench_collect.py          prints the figures
    python scripts/bench_collect.py --json   one JSON object, for tools to read

Measured side by side in one run, with a generated Lancers account of 50 jobs:
a working list of 50 jobs, a boards list of 50 boards (three pages of the
boards list API), and each board's thread page and JSON made from the corpus'
captures (ids changed):

- the floor, in one browser started with the same flags: the sum of bare
  ``page.goto`` times of the same 51 pages (the list and the 50 threads) plus
  the sum of bare in-page ``fetch`` times of the same JSON requests the
  collector made (the boards list and details of the join, the board details
  and message pages of the captures);
- ``ghostwatch collect --platform lancers --delay 0`` as a user runs it, in a
  fresh data directory: the time from the list page's first request to the
  last page stored (``timing.pages_s`` of its ``--json`` output), against that
  floor (target: at most 1.3x); and the whole command's wall time (Python
  start-up, browser start and close included), beside the bare browser's own
  start-up and close;
- the processes of the run left alive after it exited (target: none), found by
  the run's own GHOSTWATCH_HOME in their environment (every Chromium helper
  inherits it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "lancers"
LIST_URL = "https://www.lancers.jp/mypage/proposals/all/working"
CONTRACTS = 50
FIRST_BOARD = 9100000
FIRST_JOB = 4900000
TARGET_RATIO = 1.3

ITEM = re.compile(r'<li class="p-mypage-work__media c-media-job">.*?</div>\n</li>\n', re.S)
PAGER = re.compile(r'<nav class="p-mypage-pagers".*?</nav>', re.S)
JOB = re.compile(r'href="/work/detail/(\d+)"')


def generated_site(n: int = CONTRACTS) -> tuple[dict[str, str], list[dict]]:
    """A Lancers account of ``n`` jobs: the pages by URL, and the JSON responses
    (the boards list, each board's detail and messages) as recorded responses."""
    from collector import lancers
    from standin import corpus_pages, corpus_responses

    listing = (CORPUS / "working_list.html").read_text(encoding="utf-8")
    items = ITEM.findall(listing)
    if not items:
        raise SystemExit("bench_collect: the corpus' Lancers list has no contract items")
    threads = {}  # job id -> (html, responses, board id)
    for path, meta in corpus_pages():
        expected = meta["expected"]
        if meta["url"].startswith(lancers.BASE_URL) and expected["page"] == "thread" and "contract_id" in expected:
            threads[expected["contract_id"]] = (path.read_text(encoding="utf-8"), corpus_responses(path),
                                                expected["thread_id"])
    pages: dict[str, str] = {}
    responses: list[dict] = []
    boards = []
    new_items = []
    for i in range(n):
        item = items[i % len(items)]
        old_job = JOB.search(item).group(1)
        html, recorded, old_board = threads[old_job]
        job, board = str(FIRST_JOB + i), str(FIRST_BOARD + i)
        new_items.append(item.replace(f"/work/detail/{old_job}", f"/work/detail/{job}"))
        pages[lancers.thread_url(board)] = html.replace(f"boardId={old_board}", f"boardId={board}").replace(
            f'"id":{old_board}', f'"id":{board}')
        for r in recorded:
            responses.append({**r, "url": r["url"].replace(f"/boards/{old_board}", f"/boards/{board}"),
                              "body": r["body"].replace(old_board, board).replace(
                                  f'"job":{{"id":{old_job}}}', f'"job":{{"id":{job}}}')})
        boards.append({"id": int(board), "title": f"案件 {i}", "modified": f"2026-11-22 {20 - i // 60:02d}:{59 - i % 60:02d}:00",
                       "is_required_reply": False, "unread_count": 0})
    modified = None
    for start in range(0, n + 1, lancers.PAGE_SIZE):
        chunk = boards[start:start + lancers.PAGE_SIZE]
        responses.append({"url": lancers.boards_list_url(modified), "status": 200,
                          "content_type": "application/json; charset=utf-8",
                          "body": json.dumps(chunk, ensure_ascii=False)})
        if len(chunk) < lancers.PAGE_SIZE:
            break
        modified = chunk[-1]["modified"]
    start = listing.index(items[0])
    end = listing.index(items[-1]) + len(items[-1])
    pages[LIST_URL] = PAGER.sub("", listing[:start] + "".join(new_items) + listing[end:])
    return pages, responses


def processes_with_env(name: str, value: str) -> list[int]:
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def bare_gotos(urls: list[str], json_urls: list[str], browser_args: list[str]) -> dict:
    """The floor: the same pages, ``page.goto`` one after the other in one browser,
    and the same JSON requests, each a bare in-page ``fetch``."""
    from playwright.sync_api import sync_playwright

    from collector import browser as browsers

    with tempfile.TemporaryDirectory(prefix="gw-bench-bare-") as profile:
        started = time.perf_counter()
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                headless=True,
                args=browsers.launch_args(browser_args),
                chromium_sandbox=browsers.use_sandbox(),
                ignore_https_errors=True,
                **browsers.launch_options(p),
            )
            launched = time.perf_counter()
            page = context.pages[0] if context.pages else context.new_page()
            times = []
            for url in urls:
                t = time.perf_counter()
                response = page.goto(url)
                times.append(time.perf_counter() - t)
                if response is None or response.status != 200:
                    raise SystemExit(f"bench_collect: the stand-in did not serve {url}")
            fetches = []
            for url in json_urls:
                t = time.perf_counter()
                status = page.evaluate("async (u) => (await (await fetch(u)).text(), 200)", url)
                fetches.append(time.perf_counter() - t)
                if status != 200:
                    raise SystemExit(f"bench_collect: the stand-in did not serve {url}")
            closing = time.perf_counter()
            context.close()
        ended = time.perf_counter()
    return {
        "goto_sum_s": round(sum(times), 3),
        "fetch_sum_s": round(sum(fetches), 3),
        "floor_s": round(sum(times) + sum(fetches), 3),
        "goto_median_ms": round(sorted(times)[len(times) // 2] * 1000, 1),
        "browser_start_s": round(launched - started, 3),
        "browser_close_s": round(ended - closing, 3),
    }


def run_collect(browser_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="gw-bench-collect-") as home:
        env = {**os.environ, "GHOSTWATCH_HOME": home}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "server.cli", "collect", "--platform", "lancers", "--delay", "0",
             "--ignore-https-errors", "--json", *(f"--browser-arg={a}" for a in browser_args)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"bench_collect: ghostwatch collect exited {proc.returncode}: {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)["platforms"][0]
        left = processes_with_env("GHOSTWATCH_HOME", home)
        # Anything still there a moment later would be a zombie Chromium.
        deadline = time.monotonic() + 3
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = processes_with_env("GHOSTWATCH_HOME", home)
        return {
            "command_s": round(wall, 3),
            "pages_s": report["timing"]["pages_s"],
            "fetch_s": report["timing"]["fetch_s"],
            "ingest_s": report["timing"]["ingest_s"],
            "listed": report["listed"],
            "read": report["read"],
            "processes_left": len(left),
        }


def json_requests(site, before: dict) -> list[str]:
    """The JSON URLs the stand-in answered since ``before`` (its hits), each as often."""
    urls = []
    for key, count in site.hits.items():
        if "/v1/message_api/" in key:
            urls += [f"https://{key}"] * (count - before.get(key, 0))
    return urls


def run(json_mode: bool = False) -> dict:
    from standin import RunningStandIn

    pages, responses = generated_site()
    urls = [LIST_URL] + [u for u in pages if u != LIST_URL]
    with RunningStandIn(with_corpus=False) as site:
        for url, html in pages.items():
            site.route(url, html)
        site.route_responses(responses)
        args = site.offline_browser_args
        # Interleave to share the machine's state; the better of two runs each.
        before = dict(site.hits)
        collects = [run_collect(args)]
        requested = json_requests(site, before)
        bares = [bare_gotos(urls, requested, args)]
        collects.append(run_collect(args))
        bares.append(bare_gotos(urls, requested, args))
        bare = min(bares, key=lambda b: b["floor_s"])
        collect = min(collects, key=lambda c: c["pages_s"])
    if collect["read"] != CONTRACTS:
        raise SystemExit(f"bench_collect: collect read {collect['read']} of {CONTRACTS} contracts")
    figures = {
        "contracts": CONTRACTS,
        "pages": len(urls),
        "json_requests": len(requested),
        "bare_goto_sum_s": bare["goto_sum_s"],
        "bare_fetch_sum_s": bare["fetch_sum_s"],
        "floor_s": bare["floor_s"],
        "bare_goto_median_ms": bare["goto_median_ms"],
        "collect_pages_s": collect["pages_s"],
        "ratio": round(collect["pages_s"] / bare["floor_s"], 2),
        "target_ratio": TARGET_RATIO,
        "collect_fetch_s": collect["fetch_s"],
        "collect_ingest_s": collect["ingest_s"],
        "collect_command_s": collect["command_s"],
        "bare_browser_start_s": bare["browser_start_s"],
        "bare_browser_close_s": bare["browser_close_s"],
        "processes_left": collect["processes_left"],
    }
    if not json_mode:
        print(
            f"collect {CONTRACTS} contracts ({len(urls)} pages and {len(requested)} JSON requests, --delay 0): "
            f"{figures['collect_pages_s']} s from the first request to the last page stored (fetching "
            f"{figures['collect_fetch_s']} s, storing {figures['collect_ingest_s']} s); bare page.goto of the "
            f"same pages {figures['bare_goto_sum_s']} s + bare fetch of the same JSON {figures['bare_fetch_sum_s']} s "
            f"= {figures['floor_s']} s -> {figures['ratio']}x (target <= {TARGET_RATIO}x)"
        )
        print(
            f"the whole command: {figures['collect_command_s']} s (Python start-up, browser start and close "
            f"included; a bare browser starts in {figures['bare_browser_start_s']} s and closes in "
            f"{figures['bare_browser_close_s']} s)"
        )
        print(f"browser processes left after the run: {figures['processes_left']} (target: none)")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = run(json_mode=args.json)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
