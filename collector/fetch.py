"""The Playwright fetcher behind ``ghostwatch collect`` and ``ghostwatch login``.

It drives a real Chromium on the user's dedicated ghostwatch profile, opens the
platform's list of open contracts, then each contract's page, one page at a
time, and hands every page it got to the caller as a ``FetchedPage`` (its final
URL, the HTML as the browser had it after scripts ran, and the capture instant).
It stores nothing and imports nothing from ``server``: the caller ingests.

    from collector.fetch import FetchOptions, collect_pages, NotLoggedIn, UnrecognisedList

    with contextlib.closing(collect_pages("lancers", profile_dir, FetchOptions())) as pages:
        for item in pages:          # FetchedPage | FailedPage, the list page first
            ...

Raised from the iteration (pages already yielded stay valid):

- ``NotLoggedIn``: the platform sent the browser to its login page (or showed a
  login form); the user has to run ``ghostwatch login --platform P``;
- ``UnrecognisedList``: the list page was fetched (and yielded, so it can be
  stored and re-read later) but is not a list of contracts ghostwatch knows;
- ``BrowserError``: Chromium could not be started (not found, profile in use).

Politeness towards the real sites: one page at a time, a delay with jitter
between pages, a timeout per page, a few retries with exponential backoff (and
``Retry-After`` honoured) for timeouts, network errors and 408/425/429/5xx
answers, and the browser always closed, also on errors and Ctrl-C.

Cookies and page bodies are never logged: log lines and error messages carry
URLs, statuses and the first line of Playwright's error only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from collector import browser as browsers
from collector.pages import (
    ContractList,
    ListedContract,
    NotAPage,
    Reading,
    Unreadable,
    UnsupportedURL,
    identify,
    platform_module,
    read_page,
)
from collector.timeutil import now

log = logging.getLogger("ghostwatch.fetch")

# Answers worth another try: the site is busy or a proxy timed out.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is not waited for


class FetchError(Exception):
    """Base of the fetcher's errors; the message is Japanese, for the user."""


class BrowserError(FetchError):
    """Chromium could not be started (not found, profile in use, crashed)."""


class NotLoggedIn(FetchError):
    def __init__(self, platform: str, url: str):
        self.platform = platform
        self.url = url
        super().__init__(
            f"{platform} にログインしていません（ログインページに移動しました: {_safe_url(url)}）。"
            f"`ghostwatch login --platform {platform}` でログインしてから、もう一度実行してください。"
        )


class UnrecognisedList(FetchError):
    def __init__(self, platform: str, url: str, reason: str):
        self.platform = platform
        self.url = url
        self.reason = reason
        super().__init__(
            f"{platform} の契約一覧ページを認識できません（{_safe_url(url)}）: {reason}。"
            "サイトの画面が変わった可能性があります。ghostwatch を更新してください。"
        )


class LoginAborted(FetchError):
    """The login window was closed, or the wait timed out, before the user logged in."""


@dataclass
class FetchOptions:
    """How to drive the browser; the defaults are polite towards the real sites."""

    browser_path: str | None = None  # --browser-path / GHOSTWATCH_BROWSER
    browser_args: Sequence[str] = ()  # --browser-arg, passed to Chromium
    headless: bool = True
    ignore_https_errors: bool = False
    timeout: float = 30.0  # seconds per page (navigation and reading it)
    retries: int = 2  # further attempts after the first
    delay: float = 2.0  # seconds between pages ...
    jitter: float = 0.5  # ... plus up to this fraction of it, at random
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    wait_until: str = "load"  # Playwright's goto wait_until


@dataclass
class FetchedPage:
    """A page the browser showed: what ``service.ingest`` needs, and where it came from."""

    kind: str  # "list" | "contract"
    url: str  # the final URL (after redirects): the one to store and read
    html: str
    captured_at: datetime
    requested_url: str
    status: int | None
    attempts: int
    listed: ListedContract | None = None  # the list entry, for a contract page
    reading: Reading | None = None  # the list's reading, for the list page
    started: float = 0.0  # time.monotonic() when the first attempt began
    seconds: float = 0.0  # spent on it, retries and their waits included

    def __repr__(self) -> str:  # never the body
        return f"FetchedPage({self.kind!r}, {self.url!r}, status={self.status}, attempts={self.attempts})"


@dataclass
class FailedPage:
    """A page that could not be loaded after every retry."""

    kind: str
    url: str
    error: str  # Japanese, no page body
    attempts: int
    status: int | None = None
    listed: ListedContract | None = None
    started: float = 0.0
    seconds: float = 0.0


@dataclass
class Sleeper:
    """Polite waits; tests and the benchmark swap ``sleep``."""

    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def between_pages(self, options: FetchOptions) -> None:
        if options.delay > 0:
            self.sleep(options.delay * (1 + self.rng.uniform(0, options.jitter)))

    def before_retry(self, options: FetchOptions, attempt: int, retry_after: float | None) -> None:
        wait = options.backoff * (2 ** (attempt - 1)) if options.backoff > 0 else 0.0
        if wait:
            wait *= 1 + self.rng.uniform(0, 0.25)
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        if wait > 0:
            self.sleep(wait)


def _safe_url(url: str) -> str:
    """A URL fit for messages and logs: no user info, no fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(URL)"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}" if parts.scheme else url


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def _retry_after(response) -> float | None:
    try:
        value = response.headers.get("retry-after")
    except Exception:  # noqa: BLE001 - a header we cannot read is no header
        return None
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


# --- the browser ------------------------------------------------------------


class Browser:
    """A persistent-profile Chromium, always closed on exit (context manager).

    ``fetch(url)`` loads one page with the per-page timeout and retries.
    """

    def __init__(self, profile_dir: str | Path, options: FetchOptions):
        self.profile_dir = Path(profile_dir)
        self.options = options
        self._playwright = None
        self._manager = None
        self.context = None
        self._page = None

    # context manager -----------------------------------------------------

    def __enter__(self) -> Browser:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        self.profile_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._manager = sync_playwright()
        self._playwright = self._manager.start()
        try:
            launch = browsers.launch_options(self._playwright, self.options.browser_path)
        except browsers.BrowserNotFound as err:
            raise BrowserError(str(err)) from err
        args = browsers.launch_args(self.options.browser_args)
        common = dict(
            headless=self.options.headless,
            args=args,
            ignore_https_errors=self.options.ignore_https_errors,
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
            timeout=max(30.0, self.options.timeout) * 1000,
            **launch,
        )
        sandbox = browsers.use_sandbox()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                str(self.profile_dir), chromium_sandbox=sandbox, **common
            )
        except PlaywrightError as err:
            message = str(err)
            if sandbox and "sandbox" in message.lower():
                log.warning("Chromium's sandbox is not usable here; starting without it")
                try:
                    self.context = self._playwright.chromium.launch_persistent_context(
                        str(self.profile_dir), chromium_sandbox=False, **common
                    )
                    return self._ready()
                except PlaywrightError as err2:
                    err, message = err2, str(err2)
            raise BrowserError(_launch_message(message, self.profile_dir)) from err
        self._ready()

    def _ready(self) -> None:
        self.context.set_default_timeout(self.options.timeout * 1000)
        self.context.set_default_navigation_timeout(self.options.timeout * 1000)
        pages = self.context.pages
        self._page = pages[0] if pages else self.context.new_page()

    def close(self) -> None:
        """Close the browser and stop Playwright; safe to call twice."""
        context, self.context, self._page = self.context, None, None
        if context is not None:
            try:
                context.close()
            except Exception as err:  # noqa: BLE001 - closing must not hide the real error
                log.debug("closing the browser: %s", _first_line(err))
        manager, self._manager, self._playwright = self._manager, None, None
        if manager is not None:
            try:
                manager.__exit__(None, None, None)
            except Exception as err:  # noqa: BLE001
                log.debug("stopping Playwright: %s", _first_line(err))

    @property
    def page(self):
        if self._page is None or self._page.is_closed():
            self._page = self.context.new_page()
        return self._page

    def _fresh_page(self) -> None:
        """Drop a page whose navigation hung, so its request dies with it."""
        old, self._page = self._page, None
        if old is not None:
            try:
                old.close()
            except Exception as err:  # noqa: BLE001
                log.debug("closing a hung page: %s", _first_line(err))

    # one page ------------------------------------------------------------

    def _load(self, url: str):
        """Navigate; the document must arrive within the timeout.

        A third-party script or image that never finishes loading must not
        fail the page: once the document is there, the rest of the timeout is
        spent waiting for ``load`` (or ``networkidle``) and the page is read
        as it is when that wait runs out.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        options = self.options
        started = time.monotonic()
        later = options.wait_until in ("load", "networkidle")
        response = self.page.goto(
            url,
            timeout=options.timeout * 1000,
            wait_until="domcontentloaded" if later else options.wait_until,
        )
        if later:
            remaining = max(0.5, options.timeout - (time.monotonic() - started))
            try:
                self.page.wait_for_load_state(options.wait_until, timeout=remaining * 1000)
            except PlaywrightTimeout:
                log.info("%s: still loading after %gs; reading it as it is", _safe_url(url), options.timeout)
        return response

    def fetch(self, url: str, platform: str, kind: str, sleeper: Sleeper,
              listed: ListedContract | None = None) -> FetchedPage | FailedPage:
        """Load ``url`` with retries; raise ``NotLoggedIn`` on the login page."""
        started = time.monotonic()
        item = self._fetch(url, platform, kind, sleeper, listed)
        item.started, item.seconds = started, time.monotonic() - started
        return item

    def _fetch(self, url, platform, kind, sleeper, listed):
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        module = platform_module(platform)
        options = self.options
        attempts = max(0, options.retries) + 1
        error, status = "", None
        for attempt in range(1, attempts + 1):
            retry_after = None
            try:
                response = self._load(url)
                captured_at = now()
                final_url = self.page.url
                status = response.status if response is not None else None
                if module.is_login_page(final_url, None):
                    raise NotLoggedIn(platform, final_url)
                if status is not None and status >= 400:
                    error = f"HTTP {status}"
                    retry_after = _retry_after(response)
                    if status not in RETRY_STATUSES:
                        log.info("%s: HTTP %s, not retried", _safe_url(url), status)
                        return FailedPage(kind, url, error, attempt, status, listed)
                else:
                    html = self.page.content()
                    if module.is_login_page(final_url, html):
                        raise NotLoggedIn(platform, final_url)
                    log.info("%s: HTTP %s in %d attempt(s)", _safe_url(final_url), status, attempt)
                    return FetchedPage(kind, final_url, html, captured_at, url, status, attempt, listed)
            except PlaywrightTimeout:
                error = f"{options.timeout:g} 秒以内に読み込めませんでした"
                self._fresh_page()
            except PlaywrightError as err:
                if self.context is None or _browser_gone(err):
                    raise BrowserError(f"ブラウザが終了しました: {_first_line(err)}") from err
                error = _first_line(err)
                self._fresh_page()
            log.info("%s: attempt %d of %d failed: %s", _safe_url(url), attempt, attempts, error)
            if attempt < attempts:
                sleeper.before_retry(options, attempt, retry_after)
        return FailedPage(kind, url, error, attempts, status, listed)


def _browser_gone(err: BaseException) -> bool:
    text = str(err)
    return "Target page, context or browser has been closed" in text and "Browser" in text or (
        "Browser has been closed" in text or "browser has disconnected" in text.lower()
    )


def _launch_message(message: str, profile_dir: Path) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "不明なエラー"
    lowered = message.lower()
    if "singletonlock" in lowered or "profile" in lowered and "in use" in lowered or "processsingleton" in lowered:
        return (
            f"ブラウザのプロファイル {profile_dir} が別のブラウザで使用中です。"
            "`ghostwatch login` や別の `ghostwatch collect` を閉じてから、もう一度実行してください。"
        )
    if "xserver" in lowered or "missing x server" in lowered or "$display" in lowered:
        return (
            "ブラウザの画面を表示できません（X サーバー / $DISPLAY がありません）。"
            "デスクトップのターミナルで実行してください（サーバーでは xvfb-run などを使ってください）。"
        )
    if "executable doesn't exist" in lowered or "enoent" in lowered:
        return (
            f"Chromium を起動できません: {first}。"
            "`apt install chromium` でインストールするか、--browser-path で指定してください。"
        )
    return f"Chromium を起動できません: {first}"


# --- a whole collection ----------------------------------------------------


def _same_site(platform: str, url: str) -> bool:
    """Whether ``url`` is a contract page of ``platform`` (never follow links elsewhere)."""
    try:
        ref = identify(url)
    except UnsupportedURL:
        return False
    return ref.platform == platform and ref.page == "thread"


MAX_LIST_PAGES = 20


def _read_list(page: "FetchedPage"):
    """The reading of a fetched list page (also stored on ``page.reading``);
    an Unreadable with the reason when it is not a contract list."""
    try:
        page.reading = read_page(page.html, page.url, page.captured_at)
    except UnsupportedURL:
        page.reading = None
        return Unreadable("", page.url, "contract_list", f"想定外のページに移動しました（{_safe_url(page.url)}）")
    except NotAPage as err:
        page.reading = None
        return Unreadable("", page.url, "contract_list", str(err))
    return page.reading


def collect_pages(platform: str, profile_dir: str | Path, options: FetchOptions | None = None,
                  sleeper: Sleeper | None = None,
                  on_list: Callable[[ContractList], None] | None = None) -> Iterator[FetchedPage | FailedPage]:
    """Open the platform's list of open contracts, then every contract's page.

    Yields the list page first (``kind="list"``, its ``reading`` set), then one
    ``FetchedPage`` or ``FailedPage`` per listed contract, in the list's order.
    ``on_list`` is called with the ``ContractList`` before the first contract
    page is loaded (the caller sizes its progress bar).  The browser is closed
    when the generator ends, raises, or is closed early.
    """
    options = options or FetchOptions()
    sleeper = sleeper or Sleeper()
    module = platform_module(platform)
    with Browser(profile_dir, options) as browser:
        seen: set[str] = set()
        contracts = []
        list_url: str | None = module.LIST_URL
        visited_lists: set[str] = set()
        while list_url is not None:
            if visited_lists:
                sleeper.between_pages(options)
            visited_lists.add(list_url)
            page = browser.fetch(list_url, platform, "list", sleeper)
            if isinstance(page, FailedPage):
                yield page
                return
            reading = _read_list(page)
            yield page
            if not isinstance(reading, ContractList):
                reason = getattr(reading, "reason", None) or "契約一覧ではありません"
                raise UnrecognisedList(platform, page.url, reason)
            for listed in reading.contracts:
                if listed.url not in seen:
                    seen.add(listed.url)
                    contracts.append(listed)
            # A long list runs to several pages: follow its pager, within bounds.
            list_url = reading.next_url
            if list_url in visited_lists or len(visited_lists) >= MAX_LIST_PAGES:
                list_url = None
        reading = ContractList(reading.platform, reading.url, contracts)
        if on_list is not None:
            on_list(reading)
        for listed in contracts:
            sleeper.between_pages(options)
            if not _same_site(platform, listed.url):
                yield FailedPage("contract", listed.url, "対応していない URL なので開きませんでした", 0, None, listed)
                continue
            yield browser.fetch(listed.url, platform, "contract", sleeper, listed)


def login(platform: str, profile_dir: str | Path, options: FetchOptions | None = None,
          wait_seconds: float = 600.0, on_open: Callable[[str], None] | None = None) -> str:
    """Show the platform's login page and wait until the user has left it.

    Returns the URL the browser went to after logging in.  Raises
    ``LoginAborted`` when the window is closed or ``wait_seconds`` pass first.
    """
    from playwright.sync_api import Error as PlaywrightError

    options = options or FetchOptions(headless=False)
    module = platform_module(platform)
    host = urlsplit(module.LIST_URL).hostname
    deadline = time.monotonic() + wait_seconds
    with Browser(profile_dir, options) as browser:
        try:
            browser.page.goto(module.LOGIN_URL, wait_until="domcontentloaded")
        except PlaywrightError as err:
            raise LoginAborted(f"ログインページを開けません: {_first_line(err)}") from err
        if on_open is not None:
            on_open(module.LOGIN_URL)
        while True:
            try:
                pages = [p for p in browser.context.pages if not p.is_closed()]
                if not pages:
                    raise LoginAborted("ログインの前にブラウザが閉じられました。")
                for page in pages:
                    url = page.url
                    parts = urlsplit(url)
                    if parts.hostname == host and not module.is_login_page(url, None):
                        # Let the site finish setting its cookies before the profile is closed.
                        try:
                            page.wait_for_load_state("load", timeout=10_000)
                        except PlaywrightError:
                            pass
                        log.info("logged in to %s: left the login page for %s", platform, _safe_url(url))
                        return url
                if time.monotonic() > deadline:
                    raise LoginAborted(
                        f"{wait_seconds / 60:g} 分待ちましたが、ログインが完了しませんでした。"
                    )
                pages[0].wait_for_timeout(300)
            except PlaywrightError as err:
                raise LoginAborted("ログインの前にブラウザが閉じられました。") from err
