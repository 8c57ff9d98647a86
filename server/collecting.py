"""Collecting: every open contract of a platform, captured in a real Chromium
on the user's logged-in profile and stored, as ``ghostwatch collect`` (and the
scheduler through it) runs it.  The logic only: ``server/collect_cmd.py`` is
the command's user interface, telling a ``Reporter`` what happens.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from collector.fetch import (
    BrowserError,
    FailedPage,
    HumanCheck,
    NotLoggedIn,
    SkippedPage,
    UnrecognisedList,
    collect_pages,
)
from collector.reading import NotAPage, UnsupportedURL
from server import labels, rules, service
from server.paths import profile_dir
from server.verdict import Verdict

PLATFORMS = ("lancers", "crowdworks")

EXIT_OK = 0
EXIT_NOT_LOGGED_IN = 3
EXIT_PAGES_FAILED = 4
EXIT_UNRECOGNISED_LIST = 5
EXIT_UNREADABLE_PAGES = 6
EXIT_BROWSER = 7
EXIT_HUMAN_CHECK = 8
EXIT_INTERRUPTED = 130
# What each exit code means: (Japanese, English), for ``collect --help`` and the
# web view's 「いま更新」.  "P" is the platform; a newline breaks the help's line.
EXIT_MEANINGS = {
    EXIT_OK: ("すべての契約を読みました", "everything read"),
    EXIT_NOT_LOGGED_IN: ("ログインしていません: ghostwatch login --platform P", "not logged in"),
    EXIT_PAGES_FAILED: ("再試行しても開けないページがありました。読めた分は保存済み", "pages failed after retries"),
    EXIT_UNRECOGNISED_LIST: ("契約一覧ページを認識できません", "list page not recognised"),
    EXIT_UNREADABLE_PAGES: ("読み取れない契約ページがありました。保存済み、更新後に reparse", "contract pages unreadable"),
    EXIT_BROWSER: ("ブラウザを起動できません", "browser could not start / profile in use"),
    EXIT_HUMAN_CHECK: ("人間による確認（ロボットではないことの確認）が表示されました: ghostwatch login --platform P\n"
                       "でブラウザを開いて確認を済ませてください", "a human verification page was shown"),
    EXIT_INTERRUPTED: ("中断しました。読めた分は保存済み", "interrupted"),
}
# When several things went wrong (``--platform all``), the first of these wins.
PRECEDENCE = (EXIT_BROWSER, EXIT_NOT_LOGGED_IN, EXIT_HUMAN_CHECK, EXIT_UNRECOGNISED_LIST, EXIT_PAGES_FAILED,
              EXIT_UNREADABLE_PAGES, EXIT_OK)

# What stops a platform's run, and the exit code it gives (collect and doctor).
STOPS = ((NotLoggedIn, EXIT_NOT_LOGGED_IN), (HumanCheck, EXIT_HUMAN_CHECK), (UnrecognisedList, EXIT_UNRECOGNISED_LIST),
         (BrowserError, EXIT_BROWSER))
STOPPING = tuple(kind for kind, _code in STOPS)


def stop_code(err: Exception) -> int:
    """The exit code of an error of ``STOPS``."""
    return next(code for kind, code in STOPS if isinstance(err, kind))


def worst(codes, precedence: tuple[int, ...] = PRECEDENCE) -> int:
    """The exit code of several platforms' runs: the first of ``precedence``
    among ``codes``, else the highest."""
    codes = set(codes)
    return next((c for c in precedence if c in codes), max(codes) if codes else EXIT_OK)



def profile_for(platform: str, override: Path | None) -> Path:
    if override is None:
        return profile_dir(platform)
    path = Path(override).expanduser() / platform
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path



class Reporter(Protocol):
    """What a run of the collector tells as it goes (a progress bar, a web page)."""

    def started(self, platform: str) -> None: ...
    def listed(self, platform: str, count: int) -> None: ...
    def boards(self, platform: str, checked: int) -> None: ...
    def reading(self, platform: str) -> None: ...
    def advance(self, platform: str) -> None: ...
    def verdict(self, verdict: Verdict) -> None: ...
    def line(self, text: str) -> None: ...
    def finished(self, platform: str) -> None: ...


@dataclass
class PlatformResult:
    platform: str
    code: int = EXIT_OK
    error: str | None = None
    listed: int = 0
    read: int = 0
    unreadable: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    timing: dict = field(default_factory=dict)

    @property
    def needing_action(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.state in rules.NEEDS_ACTION]

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "exit_code": self.code,
            "error": self.error,
            "listed": self.listed,
            "read": self.read,
            "unreadable": self.unreadable,
            "failed": self.failed,
            "skipped": self.skipped,
            "needing_action": len(self.needing_action),
            "verdicts": [v.to_json() for v in self.verdicts],
            "timing": self.timing,
        }


def known_boards(store, platform: str) -> dict[str, str]:
    """Lancers: ``{job id: board id}`` of the contracts earlier captures read, so that
    the boards list is only searched for new jobs (the capture checks each board)."""
    if platform != "lancers":
        return {}
    return {str(c["contract_id"]): str(c["thread_id"]) for c in store.contracts()
            if c.get("platform") == platform and str(c.get("contract_id") or "").isdigit()
            and str(c.get("thread_id") or "").isdigit()}


def collect_platform(store, platform: str, profile: Path, options, report: Reporter) -> PlatformResult:
    """Fetch and ingest one platform's open contracts, telling ``report`` as it
    goes; never raises for the site's answers."""
    result = PlatformResult(platform)
    begun = time.monotonic()
    first_page_at = last_done_at = None
    fetch_s = ingest_s = 0.0
    report.started(platform)

    def on_list(listing):
        result.listed = len(listing.contracts)
        report.listed(platform, result.listed)

    pages = collect_pages(platform, profile, options, on_list=on_list, known_boards=known_boards(store, platform),
                          on_board=lambda checked: report.boards(platform, checked))
    try:
        with contextlib.closing(pages):
            for item in pages:
                if first_page_at is None:
                    first_page_at = item.started
                if item.kind == "contract":
                    report.reading(platform)
                fetch_s += item.seconds
                last_done_at = time.monotonic()
                cid = item.listed.contract_id if item.listed else None
                if isinstance(item, SkippedPage):
                    result.skipped.append({"contract_id": cid, "url": item.url, "reason": item.reason})
                    report.line(f"[未取得] {labels.PLATFORM_LABELS[platform]} {cid}: {item.reason}")
                    report.advance(platform)
                    continue
                if isinstance(item, FailedPage):
                    result.failed.append({"contract_id": cid, "url": item.url, "error": item.error,
                                          "attempts": item.attempts})
                    if item.kind == "list":
                        result.code = EXIT_PAGES_FAILED
                        result.error = (f"{labels.PLATFORM_LABELS[platform]}の契約一覧を開けませんでした"
                                        f"（{item.attempts} 回試行）: {item.error}")
                    else:
                        report.line(f"[読み込み失敗] {labels.PLATFORM_LABELS[platform]} {cid}: {item.error}"
                             f"（{item.attempts} 回試行）")
                        report.advance(platform)
                    continue
                try:
                    ingest_started = time.monotonic()
                    try:
                        answer = service.ingest(store, item.url, item.html, item.captured_at, source="collector",
                                                responses=item.responses)
                    finally:
                        last_done_at = time.monotonic()
                        ingest_s += last_done_at - ingest_started
                except (UnsupportedURL, NotAPage, ValueError) as err:
                    if item.kind == "list":
                        continue  # UnrecognisedList follows and says what happened
                    result.unreadable.append({"contract_id": cid, "url": item.url, "reason": str(err)})
                    report.line(f"[読み取り不可] {labels.PLATFORM_LABELS[platform]} {cid}: {err}")
                    report.advance(platform)
                    continue
                if item.kind == "list":
                    continue
                report.advance(platform)
                if answer.get("page") == "inquiry":
                    # The board of a listed job turned out to hold no job: not a contract.
                    reason = "契約ではなく問い合わせのメッセージボードでした"
                    result.skipped.append({"contract_id": cid, "url": item.url, "reason": reason})
                    report.line(f"[未取得] {labels.PLATFORM_LABELS[platform]} {cid}: {reason}")
                    continue
                if answer["unreadable"]:
                    result.unreadable.append({"contract_id": answer.get("contract_id") or cid, "url": item.url,
                                              "reason": answer["reason"]})
                else:
                    result.read += 1
                if answer["verdict"] is not None:
                    result.verdicts.append(answer["verdict"])
                    report.verdict(answer["verdict"])
                elif answer["unreadable"]:
                    report.line(f"[読み取り不可] {labels.PLATFORM_LABELS[platform]} {cid}: {answer['reason']}")
    except STOPPING as err:
        result.code, result.error = stop_code(err), str(err)
    finally:
        report.finished(platform)
        ended = time.monotonic()
        result.timing = {
            "total_s": round(ended - begun, 3),  # browser start and close included
            # from the list page's first request to the last page stored
            "pages_s": round(last_done_at - first_page_at, 3) if first_page_at else None,
            "fetch_s": round(fetch_s, 3),
            "ingest_s": round(ingest_s, 3),
        }
    if result.code == EXIT_OK:
        if result.failed:
            result.code = EXIT_PAGES_FAILED
            result.error = (f"{labels.PLATFORM_LABELS[platform]}: {len(result.failed)} 件のページを開けませんでした"
                            "（再試行済み）。読めた分は保存しました。時間をおいて再実行してください。")
        elif result.unreadable:
            result.code = EXIT_UNREADABLE_PAGES
            result.error = (f"{labels.PLATFORM_LABELS[platform]}: {len(result.unreadable)} 件のページを読み取れませんでした"
                            "（保存済み）。ghostwatch を更新してから `ghostwatch reparse` を実行してください。")
    return result
