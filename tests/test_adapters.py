"""Details of the platform adapters that the corpus JSON does not spell out."""

import json
import re

from collector import crowdworks, lancers
from collector.pages import read_page
from collector.timeutil import parse_instant
from standin import CORPUS


def corpus_page(platform, name):
    meta = json.loads((CORPUS / platform / f"{name}.json").read_text(encoding="utf-8"))
    return (CORPUS / platform / f"{name}.html").read_text(encoding="utf-8"), meta


def read(html, meta):
    return read_page(html, meta["url"], parse_instant(meta["captured_at"]))


def test_crowdworks_class_hashes_are_matched_by_their_stem():
    html, meta = corpus_page("crowdworks", "contract_collapsed")
    rebuilt = re.sub(r"(_[a-zA-Z]+_)[a-z0-9]{5}\b", r"\1q7w8e", html)
    assert rebuilt != html
    before, after = read(html, meta), read(rebuilt, meta)
    assert [m.to_json() for m in after.messages] == [m.to_json() for m in before.messages]
    assert after.history_collapsed is True


def test_a_lancers_list_with_a_pager_names_its_next_page():
    html, meta = corpus_page("lancers", "working_list")
    assert read(html, meta).next_url is None
    pager = '<nav class="c-pager"><a rel="next" href="/mypage/proposals/all/working?page=2">次へ</a></nav>'
    paged = read(html.replace("<h1 class=\"p-mypage-work__title\">", pager + "<h1 class=\"p-mypage-work__title\">", 1), meta)
    assert paged.next_url == "https://www.lancers.jp/mypage/proposals/all/working?page=2"


def test_a_crowdworks_list_with_a_pager_names_its_next_page():
    html, meta = corpus_page("crowdworks", "contracts_active")
    pager = '<div class="pagination"><a class="next_page" rel="next" href="/e/contracts?page=2&amp;status=active">次へ</a></div>'
    paged = read(html.replace('<p class="contracts-table__count">', pager + '<p class="contracts-table__count">', 1), meta)
    assert paged.next_url == "https://crowdworks.jp/e/contracts?page=2&status=active"
    assert len(paged.contracts) == 6


def test_a_login_page_is_recognised_and_a_contract_page_is_not():
    assert lancers.is_login_page("https://www.lancers.jp/user/login?ref=/mypage")
    assert crowdworks.is_login_page("https://crowdworks.jp/login")
    form = '<form action="/user/login" method="post"><input type="password" name="p"><button>ログイン</button></form>'
    assert lancers.is_login_page("https://www.lancers.jp/mypage/message?boardId=1", f"<html><body>{form}</body></html>")
    # A logged-in page that merely links or posts to the login path is not a login page.
    html, meta = corpus_page("lancers", "thread_silent_fixed")
    switch = '<form action="/user/login/switch" method="post"><button>アカウント切替</button></form>'
    assert not lancers.is_login_page(meta["url"], html.replace("</header>", switch + "</header>"))
    cw_html, cw_meta = corpus_page("crowdworks", "contract_recent")
    assert not crowdworks.is_login_page(cw_meta["url"], cw_html)


def test_only_the_thread_is_read_not_the_side_panels():
    # The CrowdWorks list's side panel links a finished contract, and Lancers'
    # board list shows other threads' times: neither is read as this page's.
    html, meta = corpus_page("crowdworks", "contracts_active")
    assert "11520983" in html
    assert "11520983" not in [c.contract_id for c in read(html, meta).contracts]
    html, meta = corpus_page("lancers", "thread_silent_fixed")
    assert "今日 20:05" in html
    thread = read(html, meta)
    assert max(m.sent_at for m in thread.messages) <= parse_instant(meta["captured_at"])
