"""Reading a capture: which platform and page a URL is, and ``read_page``.

A capture goes in as its HTML, its URL, the instant it was captured and the
same-origin JSON responses captured with it; out comes a reading
(``collector.reading``).  The URLs, selectors, texts and endpoints of each
platform live in its own module (``collector.lancers``,
``collector.crowdworks``); this module only dispatches.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from collector import crowdworks, lancers
from collector.capture import Response, parse_responses
from collector.html import parse_html
from collector.reading import LayoutError, PageRef, Reading, Unreadable, UnsupportedURL

PLATFORMS = (lancers, crowdworks)


def platform_module(name: str):
    for module in PLATFORMS:
        if module.PLATFORM == name:
            return module
    raise KeyError(name)


def identify(url: str) -> PageRef:
    """Which platform and page kind a URL is; raises UnsupportedURL otherwise."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as err:
        raise UnsupportedURL(f"URL として読めません: {url!r}") from err
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsupportedURL(f"対応していない URL です: {url!r}")
    for module in PLATFORMS:
        ref = module.match_url(parts, url.strip())
        if ref is not None:
            return ref
    raise UnsupportedURL(
        f"対応していないページです: {url} "
        "(Lancers のメッセージ・進行中の仕事、CrowdWorks の契約ページ・契約中の仕事に対応)"
    )


def read_page(html: str | bytes, url: str, responses: list[Response] | list[dict] | None = None) -> Reading:
    """Read a capture: its page's HTML, its URL and the platform's JSON the page
    loaded.  Raises UnsupportedURL or NotAPage for bad input (and ValueError for
    a ``responses`` list of the wrong shape); a page whose layout or JSON is not
    recognised comes back as ``Unreadable``.

    Every time a capture holds is absolute, so the reading does not depend on
    when it was captured (the caller, and the store, keep that instant)."""
    ref = identify(url)
    responses = parse_responses(responses)
    doc = parse_html(html)
    module = platform_module(ref.platform)
    try:
        if ref.page == "thread":
            return module.read_thread(doc, ref, responses)
        return module.read_list(doc, ref, responses)
    except LayoutError as err:
        return Unreadable(platform=ref.platform, url=ref.url, page=ref.page, reason=str(err),
                          contract_id=ref.contract_id, thread_id=ref.thread_id)
