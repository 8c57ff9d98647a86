#!/usr/bin/env python3
"""Benchmark of ``ghostwatch collect`` against the HTTPS stand-in (issue 5).

    python scripts/bench_collect.py          prints the figures
    python scripts/bench_collect.py --json   one JSON object, for tools to read

Measured side by side in one run, with a generated Lancers list of 50 contracts
and 50 thread pages made from the corpus' threads (ids changed):

- the sum of bare ``page.goto`` times of the same 51 pages (the list and the 50
  threads) in one browser started with the same flags: the floor;
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
THREAD_URL = "https://www.lancers.jp/mypage/message?boardId={}"
CONTRACTS = 50
FIRST_ID = 9100000
TARGET_RATIO = 1.3

ITEM = re.compile(r'<li class="p-mypage-work__media c-media-job">.*?</div>\n</li>\n', re.S)


def generated_pages(n: int = CONTRACTS) -> dict[str, str]:
    """A list page with ``n`` contracts and their ``n`` thread pages, by URL."""
    listing = (CORPUS / "working_list.html").read_text(encoding="utf-8")
    items = ITEM.findall(listing)
    if not items:
        raise SystemExit("bench_collect: the corpus' Lancers list has no contract items")
    old_ids = [re.search(r"boardId=(\d+)", item).group(1) for item in items]
    by_id = {}
    for path in sorted(CORPUS.glob("thread_*.html")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        by_id[meta["expected"]["contract_id"]] = path.read_text(encoding="utf-8")
    pages: dict[str, str] = {}
    new_items = []
    for i in range(n):
        k = i % len(items)
        old, new = old_ids[k], str(FIRST_ID + i)
        new_items.append(items[k].replace(f"boardId={old}", f"boardId={new}"))
        thread = by_id.get(old) or next(iter(by_id.values()))
        pages[THREAD_URL.format(new)] = thread.replace(f"boardId={old}", f"boardId={new}").replace(
            f'"id":{old}', f'"id":{new}'
        )
    start = listing.index(items[0])
    end = listing.index(items[-1]) + len(items[-1])
    pages[LIST_URL] = listing[:start] + "".join(new_items) + listing[end:]
    return pages


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


def bare_gotos(urls: list[str], browser_args: list[str]) -> dict:
    """The floor: the same pages, ``page.goto`` one after the other in one browser."""
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
            closing = time.perf_counter()
            context.close()
        ended = time.perf_counter()
    return {
        "goto_sum_s": round(sum(times), 3),
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


def run(json_mode: bool = False) -> dict:
    from standin import RunningStandIn

    pages = generated_pages()
    urls = [LIST_URL] + [u for u in pages if u != LIST_URL]
    with RunningStandIn(with_corpus=False) as site:
        for url, html in pages.items():
            site.route(url, html)
        args = site.offline_browser_args
        # Interleave to share the machine's state; the better of two runs each.
        bare = min((bare_gotos(urls, args) for _ in range(2)), key=lambda b: b["goto_sum_s"])
        collect = min((run_collect(args) for _ in range(2)), key=lambda c: c["pages_s"])
    if collect["read"] != CONTRACTS:
        raise SystemExit(f"bench_collect: collect read {collect['read']} of {CONTRACTS} contracts")
    figures = {
        "contracts": CONTRACTS,
        "pages": len(urls),
        "bare_goto_sum_s": bare["goto_sum_s"],
        "bare_goto_median_ms": bare["goto_median_ms"],
        "collect_pages_s": collect["pages_s"],
        "ratio": round(collect["pages_s"] / bare["goto_sum_s"], 2),
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
            f"collect {CONTRACTS} contracts ({len(urls)} pages, --delay 0): {figures['collect_pages_s']} s "
            f"from the first request to the last page stored (fetching {figures['collect_fetch_s']} s, "
            f"storing {figures['collect_ingest_s']} s); bare page.goto of the same pages: "
            f"{figures['bare_goto_sum_s']} s -> {figures['ratio']}x (target <= {TARGET_RATIO}x)"
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
