"""The Playwright fetcher behind ``ghostwatch collect`` and ``ghostwatch login``.

It drives a real Chromium on the user's dedicated ghostwatch profile, opens the
platform's list of open contracts (every page of it), then each contract's
page, one page at a time, and hands every page it got to the caller as a
``FetchedPage``: a **capture**, taken by the same routine the browser extension
runs (``extension/capture.js``, evaluated in the page): the final URL, the HTML
as the browser had it, the capture instant, and the same-origin JSON responses
the platform's own UI uses (``responses``).  It stores nothing and imports
nothing from ``server``: the caller ingests.

    from collector.fetch import FetchOptions, collect_pages, NotLoggedIn, UnrecognisedList

    with contextlib.closing(collect_pages("lancers", profile_dir, FetchOptions())) as pages:
        for item in pages:   # FetchedPage | FailedPage | SkippedPage, the list pages first
            ...

- Lancers: the working list (all its pages), then the boards list API
  (``lancers.boards_list_url``) and each board's detail, to find the board of
  each listed job (``with.job.id``; it stops as soon as every job has its board;
  jobs in ``known_boards`` are not looked up), then a capture of each job's board
  (``lancers.thread_url``), after ``load`` and a short wait for the deal panel.  A
  job whose board is not found is a ``SkippedPage`` (its list entry is stored
  from the list page).
- CrowdWorks: the active contracts list, then a capture of each contract's page,
  once ``#pack-message-thread[data]`` is there (not the load event).

Raised from the iteration (pages already yielded stay valid):

- ``NotLoggedIn``: the platform sent the browser to its login page (or showed a
  login form, an e-mail code page, Google's sign-in); the user has to run
  ``ghostwatch login --platform P``;
- ``HumanCheck``: the site answered with a human verification page (a captcha);
  the user has to pass it in the browser of ``ghostwatch login``;
- ``UnrecognisedList``: the list page was fetched (and yielded, so it can be
  stored and re-read later) but is not a list of contracts ghostwatch knows (or
  Lancers' boards list is not the JSON expected);
- ``BrowserError``: Chromium could not be started (not found, profile in use).

Politeness towards the real sites: one page at a time, a delay with jitter
between pages (a quarter of it between the boards list's JSON requests), a
timeout per page, a few retries with exponential backoff (and ``Retry-After``
honoured) for timeouts, network errors and 408/425/429/5xx answers, and the
browser always closed, also on errors and Ctrl-C.

Cookies and page bodies are never logged: log lines and error messages carry
URLs, statuses and the first line of Playwright's error only.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import importlib
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from collector import browser as browsers
from collector import lancers
from collector.pages import read_page
from collector.reading import ContractList, ListedContract, NotAPage, Reading, UnsupportedURL
from collector.timeutil import now

# Playwright is imported where a browser starts (``Browser.open``, ``login``):
# the server imports this module through ``server.collecting`` and never drives
# a browser itself, so its start-up does not pay for Playwright.

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


class HumanCheck(FetchError):
    """The site showed a human verification page (a captcha) instead of the page."""

    def __init__(self, platform: str, url: str):
        self.platform = platform
        self.url = url
        super().__init__(
            f"{platform} で人間による確認（ロボットではないことの確認）が表示されました（{_safe_url(url)}）。"
            f"`ghostwatch login --platform {platform}` でブラウザを開いて確認を済ませてから、"
            "もう一度実行してください。"
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
    max_message_pages: int = 50  # Lancers message pages per capture


@dataclass
class FetchedPage:
    """A captured page: what ``service.ingest`` needs, and where it came from."""

    kind: str  # "list" | "contract"
    url: str  # the final URL (after redirects): the one to store and read
    html: str
    captured_at: datetime
    requested_url: str
    status: int | None
    attempts: int
    listed: ListedContract | None = None  # the list entry, for a contract page
    reading: Reading | None = None  # the list's reading, for a list page
    started: float = 0.0  # time.monotonic() when the first attempt began
    seconds: float = 0.0  # spent on it, retries and their waits included
    responses: list[dict] = field(default_factory=list)  # {"url", "status", "content_type", "body"}
    thread_id: str | None = None  # Lancers: the board id the job was joined to

    def to_capture(self) -> dict:
        """The capture's JSON form (``collector.capture.Capture.from_json``)."""
        return {"url": self.url, "captured_at": self.captured_at.isoformat(), "html": self.html,
                "responses": self.responses}

    def __repr__(self) -> str:  # never the body
        return (f"FetchedPage({self.kind!r}, {self.url!r}, status={self.status}, attempts={self.attempts}, "
                f"responses={len(self.responses)})")


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
class SkippedPage:
    """A listed contract that was not opened, and why (Lancers: no board found for the job)."""

    kind: str
    url: str
    reason: str  # Japanese
    listed: ListedContract | None = None
    attempts: int = 0
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

    def between_requests(self, options: FetchOptions) -> None:
        """Between two JSON requests of Lancers' boards list: a quarter of the page delay."""
        if options.delay > 0:
            self.sleep(options.delay * API_DELAY_FRACTION * (1 + self.rng.uniform(0, options.jitter)))

    def before_retry(self, options: FetchOptions, attempt: int, retry_after: float | None) -> None:
        wait = options.backoff * (2 ** (attempt - 1)) if options.backoff > 0 else 0.0
        if wait:
            wait *= 1 + self.rng.uniform(0, 0.25)
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        if wait > 0:
            self.sleep(wait)


API_DELAY_FRACTION = 0.25


# --- the capture routine (extension/capture.js) ----------------------------------


def capture_script_path() -> Path:
    """``extension/capture.js``, the capture routine shared with the extension:
    beside the ``collector`` package in the source tree, else the copy an
    installed wheel ships as the data of the ``ghostwatch_extension`` package
    (pyproject.toml maps ``extension/`` to it)."""
    source = Path(__file__).resolve().parent.parent / "extension" / "capture.js"
    if source.is_file():
        return source
    try:
        spec = importlib.util.find_spec("ghostwatch_extension")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        shipped = Path(location) / "capture.js"
        if shipped.is_file():
            return shipped
    return source  # not found: capture_script() says so


@functools.lru_cache(maxsize=1)
def capture_script() -> str:
    """The routine as a function for ``page.evaluate``: defines ``globalThis.ghostwatchCapture``."""
    path = capture_script_path()
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BrowserError(f"取得用スクリプト {path} が見つかりません: {err}") from err
    return "() => {\n" + source + "\n}"


# --- what a page is -------------------------------------------------------------

GOOGLE_SIGN_IN_HOSTS = ("accounts.google.com",)  # also in collector.lancers (GOOGLE_SIGN_IN_HOST)
# A bot check in front of a site (Cloudflare, reCAPTCHA, ...): its page's words.
HUMAN_CHECK_MARKERS = re.compile(
    r"human verification|verify you are human|are you a robot|私はロボットではありません|"
    r"ロボットではありません|captcha|cf-challenge|challenge-platform|just a moment|attention required",
    re.IGNORECASE,
)
HUMAN_CHECK_STATUSES = frozenset({401, 403, 429, 503})  # what bot checks answer with
# A page answered 200 is a check only by a title no contract page has (a job may be
# titled "reCAPTCHA 導入", so not "captcha" alone).
HUMAN_CHECK_TITLES = re.compile(
    r"^\s*(?:human verification|verify you are human|are you a robot|just a moment|attention required|"
    r"私はロボットではありません|ロボットではありません)",
    re.IGNORECASE,
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def platform_module(platform: str):
    """``collector.lancers`` or ``collector.crowdworks``."""
    if platform not in ("lancers", "crowdworks"):
        raise ValueError(f"unknown platform: {platform}")
    return importlib.import_module(f"collector.{platform}")


def is_login(platform: str, url: str, html: str | None = None) -> bool:
    """The platform's login pages (its module's ``is_login_page``: Lancers' form, e-mail
    code, reminder and Google sign-in; CrowdWorks' form), and any Google sign-in."""
    if (urlsplit(url).hostname or "") in GOOGLE_SIGN_IN_HOSTS:
        return True
    return bool(platform_module(platform).is_login_page(url, html))


def is_human_check(status: int | None, body: str | None, content_type: str = "text/html") -> bool:
    """A human verification page: an HTML answer 401/403/429/503 in a bot check's words,
    or a page whose title is one (never a page that merely mentions a captcha)."""
    if not body or "html" not in (content_type or "html").lower():
        return False
    if status is not None and status >= 400:
        return status in HUMAN_CHECK_STATUSES and bool(HUMAN_CHECK_MARKERS.search(body[:200_000]))
    title = _TITLE.search(body[:50_000])
    return bool(title and HUMAN_CHECK_TITLES.search(title.group(1)))


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

    def _load(self, url: str, platform: str, ready: str | None = None, later: str | None = None):
        """Navigate; the document must arrive within the timeout.

        With ``ready`` (a selector), the rest of the timeout is spent waiting
        for it (CrowdWorks' ``#pack-message-thread[data]``), not for ``load``.
        Otherwise a third-party script or image that never finishes loading
        must not fail the page: once the document is there, the rest of the
        timeout is spent waiting for ``load`` (or ``networkidle``) and the page
        is read as it is when that wait runs out.  ``later`` is a part an app
        may render after that (Lancers' deal panel): waited for up to
        ``LATER_GRACE`` seconds, as some pages never have it.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        options = self.options
        started = time.monotonic()
        wait_load = options.wait_until in ("load", "networkidle")
        response = self.page.goto(
            url,
            timeout=options.timeout * 1000,
            wait_until="domcontentloaded" if wait_load or ready else options.wait_until,
        )
        if response is not None and response.status >= 400:
            return response
        if is_login(platform, self.page.url):
            return response
        remaining = max(0.5, options.timeout - (time.monotonic() - started))
        try:
            if ready:
                self.page.wait_for_selector(ready, state="attached", timeout=remaining * 1000)
            elif wait_load:
                self.page.wait_for_load_state(options.wait_until, timeout=remaining * 1000)
        except PlaywrightTimeout:
            log.info("%s: not ready after %gs; capturing it as it is", _safe_url(url), options.timeout)
            return response
        if later:
            remaining = options.timeout - (time.monotonic() - started)
            try:
                self.page.wait_for_selector(later, state="attached",
                                            timeout=max(0.1, min(LATER_GRACE, remaining)) * 1000)
            except PlaywrightTimeout:
                log.info("%s: %s not shown; capturing without it", _safe_url(url), later)
        return response

    def _inject(self) -> None:
        self.page.evaluate(capture_script())

    def capture(self) -> dict:
        """Run ``extension/capture.js`` in the current page: the capture's JSON form."""
        self._inject()
        return self.page.evaluate(
            "(o) => globalThis.ghostwatchCapture(o)",
            {"timeoutMs": self.options.timeout * 1000, "maxPages": self.options.max_message_pages,
             "deadlineMs": max(60.0, self.options.timeout * 4) * 1000},
        )

    def fetch(self, url: str, platform: str, kind: str, sleeper: Sleeper,
              listed: ListedContract | None = None, ready: str | None = None,
              later: str | None = None) -> FetchedPage | FailedPage:
        """Load and capture ``url`` with retries; raise ``NotLoggedIn`` on a login
        page and ``HumanCheck`` on a human verification page."""
        started = time.monotonic()
        item = self._fetch(url, platform, kind, sleeper, listed, ready, later)
        item.started, item.seconds = started, time.monotonic() - started
        return item

    def _fetch(self, url, platform, kind, sleeper, listed, ready, later):
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        options = self.options
        attempts = max(0, options.retries) + 1
        error, status = "", None
        for attempt in range(1, attempts + 1):
            retry_after = None
            try:
                response = self._load(url, platform, ready, later)
                final_url = self.page.url
                status = response.status if response is not None else None
                if is_login(platform, final_url):
                    raise NotLoggedIn(platform, final_url)
                if status is not None and status >= 400:
                    if is_human_check(status, _body(response), _content_type(response)):
                        raise HumanCheck(platform, final_url)
                    error = f"HTTP {status}"
                    retry_after = _retry_after(response)
                    if status not in RETRY_STATUSES:
                        log.info("%s: HTTP %s, not retried", _safe_url(url), status)
                        return FailedPage(kind, url, error, attempt, status, listed)
                else:
                    capture = self.capture()
                    html, final_url = capture["html"], capture["url"]
                    if is_login(platform, final_url, html):
                        raise NotLoggedIn(platform, final_url)
                    if is_human_check(status, html):
                        raise HumanCheck(platform, final_url)
                    responses = capture["responses"]
                    for r in responses:
                        if is_human_check(r["status"], r["body"], r["content_type"]):
                            raise HumanCheck(platform, r["url"])
                        if "html" in (r["content_type"] or "").lower() and is_login(platform, r["url"], r["body"]):
                            raise NotLoggedIn(platform, r["url"])  # the JSON was sent to a login form
                    busy = [r for r in responses if r["status"] in RETRY_STATUSES]
                    if busy and attempt < attempts:
                        error = f"HTTP {busy[0]['status']} ({_safe_url(busy[0]['url'])})"
                    else:
                        log.info("%s: HTTP %s, %d response(s), in %d attempt(s)", _safe_url(final_url), status,
                                 len(responses), attempt)
                        return FetchedPage(kind, final_url, html, _instant(capture["captured_at"]), url,
                                           status, attempt, listed, responses=responses)
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

    # one JSON request ------------------------------------------------------

    def get(self, url: str, platform: str, sleeper: Sleeper) -> dict:
        """A same-origin GET from the platform's page (``ghostwatchCapture.fetchResponse``),
        with the retries: ``{"url", "status", "content_type", "body"}``; status 0 when the
        network failed every time.  Raises ``HumanCheck`` / ``NotLoggedIn``."""
        from playwright.sync_api import Error as PlaywrightError

        options = self.options
        attempts = max(0, options.retries) + 1
        record = {"url": url, "status": 0, "content_type": "", "body": ""}
        for attempt in range(1, attempts + 1):
            try:
                self._on_origin(platform)
                self._inject()
                got = self.page.evaluate("([u, o]) => globalThis.ghostwatchCapture.fetchResponse(u, o)",
                                         [url, {"timeoutMs": options.timeout * 1000}])
            except PlaywrightError as err:
                if self.context is None or _browser_gone(err):
                    raise BrowserError(f"ブラウザが終了しました: {_first_line(err)}") from err
                log.info("%s: %s", _safe_url(url), _first_line(err))
                got = None
            if got is not None:
                record = got
                if is_human_check(record["status"], record["body"], record["content_type"]):
                    raise HumanCheck(platform, url)
                if record["status"] not in RETRY_STATUSES:
                    log.info("%s: HTTP %s", _safe_url(url), record["status"])
                    return record
            log.info("%s: attempt %d of %d failed: %s", _safe_url(url), attempt, attempts,
                     f"HTTP {record['status']}" if got else "network")
            if attempt < attempts:
                sleeper.before_retry(options, attempt, None)
        return record

    def _on_origin(self, platform: str) -> None:
        """Be on a page of the platform, so that a request is same-origin with its cookies."""
        module = platform_module(platform)
        host = urlsplit(module.LIST_URL).hostname
        if urlsplit(self.page.url).hostname != host:
            self.page.goto(module.LIST_URL, wait_until="domcontentloaded", timeout=self.options.timeout * 1000)
            if is_login(platform, self.page.url):
                raise NotLoggedIn(platform, self.page.url)


def _body(response) -> str | None:
    try:
        return response.text()
    except Exception:  # noqa: BLE001 - a body we cannot read is no body
        return None


def _content_type(response) -> str:
    try:
        return response.headers.get("content-type") or ""
    except Exception:  # noqa: BLE001
        return ""


def _instant(value: str) -> datetime:
    """The capture's ``captured_at`` (ISO 8601, ``Z`` allowed), else now."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return now()
    return parsed if parsed.tzinfo is not None else now()


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

MAX_LIST_PAGES = 20  # pages of the list of contracts
MAX_BOARD_PAGES = 50  # pages of Lancers' boards list (20 boards each)


LATER_GRACE = 3.0  # seconds a contract page's late part is waited for


def ready_selector(platform: str) -> str | None:
    """What marks a contract page as ready to capture (None: the load event).
    CrowdWorks: the thread element with its ``data`` (the thread id)."""
    if platform == "crowdworks":
        return f"#{getattr(platform_module(platform), 'THREAD_ID', 'pack-message-thread')}[data]"
    return None


def later_selector(platform: str) -> str | None:
    """A part of a contract page its app may render after ``load``, waited for a
    little (``LATER_GRACE``): Lancers' deal panel (ASSUMED markup; some boards have none)."""
    if platform == "lancers":
        panel = getattr(platform_module(platform), "DEAL_PANEL", None)
        return f"xpath={panel}" if panel else None
    return None


def _read_list(page: FetchedPage) -> tuple[ContractList | None, str]:
    """The reading of a fetched list page (also stored on ``page.reading``), or
    None with the reason when it is not a contract list."""
    try:
        page.reading = read_page(page.html, page.url)
    except UnsupportedURL:
        page.reading = None
        return None, f"想定外のページに移動しました（{_safe_url(page.url)}）"
    except NotAPage as err:
        page.reading = None
        return None, str(err)
    if isinstance(page.reading, ContractList):
        return page.reading, ""
    return None, getattr(page.reading, "reason", None) or "契約一覧ではありません"


def _contract_url(platform: str, listed: ListedContract, boards: dict[str, str]) -> tuple[str | None, str | None]:
    """The page to capture for a listed contract (always built here from its id,
    never a link taken from the page), and the Lancers board id."""
    module = platform_module(platform)
    cid = str(listed.contract_id or "")
    if not cid.isdigit():
        return None, None
    if platform == "lancers":
        board = boards.get(cid)
        return (module.thread_url(board), board) if board else (None, None)
    return module.contract_url(cid), None


def join_lancers_boards(browser: Browser, job_ids: Sequence[str], sleeper: Sleeper,
                        on_board: Callable[[int], None] | None = None) -> dict[str, str]:
    """Lancers' working list shows jobs, its message pages are boards: find each
    job's board through the boards list API and each board's detail
    (``with.job.id``), newest boards first, until every job has its board or
    the list ends.  Returns ``{job id: board id}``.

    Raises ``UnrecognisedList`` when the boards list is not the JSON expected,
    ``FetchError`` when it cannot be loaded; a board whose detail cannot be
    read is passed over (its job, if any, is reported as not found).
    ``on_board(n)`` is told the number of boards checked so far."""
    options = browser.options
    wanted = {str(j) for j in job_ids}
    found: dict[str, str] = {}
    seen: set[str] = set()
    url = lancers.boards_list_url()
    requests = 0
    for _ in range(MAX_BOARD_PAGES):
        if requests:
            sleeper.between_requests(options)
        requests += 1
        record = browser.get(url, "lancers", sleeper)
        if record["status"] != 200:
            error = f"HTTP {record['status']}" if record["status"] else "ネットワークエラー"
            raise FetchError(f"ランサーズのメッセージ一覧（{_safe_url(url)}）を読み込めませんでした: {error}")
        try:
            boards = lancers.read_boards_page(record["body"])
        except ValueError as err:
            raise UnrecognisedList("lancers", url, f"メッセージ一覧の JSON を読み取れません: {err}") from err
        fresh = [b for b in boards if str(b["id"]) not in seen]
        if boards and not fresh:
            log.info("boards list: a page with no new board; the list ends here")
            break
        for board in fresh:
            board_id = str(board["id"])
            seen.add(board_id)
            sleeper.between_requests(options)
            requests += 1
            detail = browser.get(lancers.board_detail_url(board_id), "lancers", sleeper)
            if on_board is not None:
                on_board(len(seen))
            if detail["status"] != 200:
                log.info("board %s: HTTP %s, passed over", board_id, detail["status"])
                continue
            try:
                job = lancers.job_id_of_board(detail["body"])
            except ValueError:
                log.info("board %s: detail not readable, passed over", board_id)
                continue
            if job is not None and str(job) in wanted and str(job) not in found:
                found[str(job)] = board_id
                if len(found) == len(wanted):
                    return found
        if len(boards) < getattr(lancers, "PAGE_SIZE", 20) or not boards or not boards[-1].get("modified"):
            break
        url = lancers.boards_list_url(modified=boards[-1]["modified"])
    return found


def _captured_job(item: FetchedPage, board: str) -> str | None:
    """The job a Lancers capture's board detail names (None: not readable or an inquiry)."""
    detail_url = urlsplit(lancers.board_detail_url(board))
    for r in item.responses:
        parts = urlsplit(r["url"])
        if (parts.hostname, parts.path) == (detail_url.hostname, detail_url.path) and r["status"] == 200:
            try:
                return lancers.job_id_of_board(r["body"])
            except ValueError:
                return None
    return None


def collect_pages(platform: str, profile_dir: str | Path, options: FetchOptions | None = None,
                  sleeper: Sleeper | None = None,
                  on_list: Callable[[ContractList], None] | None = None,
                  known_boards: dict[str, str] | None = None,
                  on_board: Callable[[int], None] | None = None,
                  ) -> Iterator[FetchedPage | FailedPage | SkippedPage]:
    """Open the platform's list of open contracts (all its pages), then capture
    every contract's page.

    Yields each list page first (``kind="list"``, its ``reading`` set), then one
    ``FetchedPage``, ``FailedPage`` or ``SkippedPage`` per listed contract (in
    the list's order, except that a Lancers job whose known board turned out to
    be another job's comes last).  ``on_list`` is called with the whole
    ``ContractList`` before the first contract page is loaded (the caller sizes
    its progress bar).  ``known_boards`` (Lancers ``{job id: board id}``, from
    earlier captures) spares the boards list for the jobs it names; each such
    board is checked by its capture (the board detail names the job) and
    looked up again when it names another; ``on_board(n)`` follows that
    search (boards checked).  The browser is closed when the generator ends,
    raises, or is closed early.
    """
    options = options or FetchOptions()
    sleeper = sleeper or Sleeper()
    module = platform_module(platform)
    with Browser(profile_dir, options) as browser:
        seen: set[str] = set()
        contracts: list[ListedContract] = []
        list_url: str | None = module.LIST_URL
        visited_lists: set[str] = set()
        reading = None
        while list_url is not None:
            if visited_lists:
                sleeper.between_pages(options)
            visited_lists.add(list_url)
            page = browser.fetch(list_url, platform, "list", sleeper)
            if isinstance(page, FailedPage):
                yield page
                return
            reading, reason = _read_list(page)
            yield page
            if reading is None:
                raise UnrecognisedList(platform, page.url, reason)
            for listed in reading.contracts:
                ident = str(listed.contract_id or listed.url)
                if ident not in seen:
                    seen.add(ident)
                    contracts.append(listed)
            # A long list runs to several pages: follow its pager, within bounds.
            list_url = getattr(reading, "next_url", None)
            if list_url in visited_lists or len(visited_lists) >= MAX_LIST_PAGES:
                list_url = None
        if on_list is not None:
            on_list(dataclasses.replace(reading, contracts=contracts))
        ready, later = ready_selector(platform), later_selector(platform)

        def join(listed_jobs: list[ListedContract]):
            """{job: board} for these jobs, or the FailedPage of each when the boards list failed."""
            sleeper.between_pages(options)
            try:
                return join_lancers_boards(browser, [c.contract_id for c in listed_jobs], sleeper, on_board), []
            except (UnrecognisedList, HumanCheck, NotLoggedIn, BrowserError):
                raise
            except FetchError as err:
                return {}, [FailedPage("contract", c.url, str(err), 1, None, c) for c in listed_jobs]

        def capture_all(listed_jobs, boards, check_known: set[str]):
            """Capture each listed contract; yields items, returns the jobs whose known board was wrong."""
            wrong = []
            for listed in listed_jobs:
                url, board = _contract_url(platform, listed, boards)
                if url is None:
                    if platform == "lancers" and str(listed.contract_id or "").isdigit():
                        reason = "この仕事のメッセージボードが見つかりませんでした（一覧の情報だけを保存しました）"
                        yield SkippedPage("contract", listed.url, reason, listed)
                    else:
                        yield FailedPage("contract", listed.url, "対応していない URL なので開きませんでした", 0, None,
                                         listed)
                    continue
                sleeper.between_pages(options)
                item = browser.fetch(url, platform, "contract", sleeper, listed, ready, later)
                if isinstance(item, FetchedPage):
                    item.thread_id = board
                    if listed.contract_id in check_known and _captured_job(item, board) != listed.contract_id:
                        log.info("job %s: its known board %s names another job; looked up again",
                                 listed.contract_id, board)
                        wrong.append(listed)
                        continue
                yield item
            return wrong

        boards: dict[str, str] = {}
        known: set[str] = set()
        if platform == "lancers" and contracts:
            listed_jobs = {c.contract_id for c in contracts}
            boards = {job: board for job, board in (known_boards or {}).items()
                      if job in listed_jobs and str(board).isdigit()}
            known = set(boards)
            unknown = [c for c in contracts if c.contract_id not in boards]
            if unknown:
                found, failed = join(unknown)
                if failed:
                    yield from failed
                    contracts = [c for c in contracts if c.contract_id in boards]
                boards.update(found)
        wrong = yield from capture_all(contracts, boards, known)
        if wrong:
            found, failed = join(wrong)
            yield from failed
            if not failed:
                yield from capture_all(wrong, found, set())


def login(platform: str, profile_dir: str | Path, options: FetchOptions | None = None,
          wait_seconds: float = 600.0, on_open: Callable[[str], None] | None = None) -> str:
    """Show the platform's login page and wait until the user has left it
    (and passed a human verification page, if the site shows one).

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
        settled: dict = {}  # page -> the URL it showed at the last look
        while True:
            try:
                pages = [p for p in browser.context.pages if not p.is_closed()]
                if not pages:
                    raise LoginAborted("ログインの前にブラウザが閉じられました。")
                for page in pages:
                    url = page.url
                    parts = urlsplit(url)
                    if parts.hostname == host and not is_login(platform, url):
                        # Let the site finish setting its cookies before the profile is closed.
                        try:
                            page.wait_for_load_state("load", timeout=10_000)
                        except PlaywrightError:
                            pass
                        if _shows_human_check(page) or page.url != url:
                            settled.pop(page, None)
                            continue  # a human check (the user passes it in this window), or moving on
                        # The same page twice in a row: not a step on the way (a redirect, a check).
                        if settled.get(page) != url:
                            settled[page] = url
                            continue
                        log.info("logged in to %s: left the login page for %s", platform, _safe_url(url))
                        return url
                    settled.pop(page, None)
                if time.monotonic() > deadline:
                    raise LoginAborted(
                        f"{wait_seconds / 60:g} 分待ちましたが、ログインが完了しませんでした。"
                    )
                pages[0].wait_for_timeout(300)
            except PlaywrightError as err:
                raise LoginAborted("ログインの前にブラウザが閉じられました。") from err


def _shows_human_check(page) -> bool:
    """Whether the page in the window is (or may still be becoming) a human
    verification page: by its title, once the document is parsed."""
    try:
        state, title = page.evaluate("() => [document.readyState, document.title]")
    except Exception:  # noqa: BLE001 - a page navigating away: look again
        return True
    return state == "loading" or is_human_check(200, f"<title>{title}</title>")
