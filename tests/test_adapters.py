"""Details of the platform readers that the corpus JSON does not spell out:
what is a decoy, what makes a capture unreadable, which time formats are read."""

import json
import re

import pytest

from collector import crowdworks, lancers
from collector.pages import read_page
from collector.timeutil import JST, parse_instant
from corpus import page


def iso_exact(value):
    """An instant in Japan time, to the microsecond."""
    return value.astimezone(JST).isoformat()


def read(name, html=None, responses=None):
    p = page(name)
    return read_page(html if html is not None else p.html.read_text(encoding="utf-8"), p.url,
                     p.responses_list() if responses is None else responses)


def with_body(name, url_part, change):
    """The capture's responses with one response's JSON body changed by ``change``."""
    responses = page(name).responses_list()
    [target] = [r for r in responses if r["url"].endswith(url_part)]
    target["body"] = json.dumps(change(json.loads(target["body"])), ensure_ascii=False)
    return responses


def test_crowdworks_class_hashes_are_matched_by_their_stem():
    html = page("crowdworks/contract_dom_only").html.read_text(encoding="utf-8")
    rebuilt = re.sub(r"(_[a-zA-Z]+_)[a-z0-9]{5}(_\d+)\b", r"\1q7w8e\2", html)
    assert rebuilt != html
    before, after = read("crowdworks/contract_dom_only"), read("crowdworks/contract_dom_only", rebuilt)
    assert [m.to_json() for m in after.messages] == [m.to_json() for m in before.messages]
    assert after.history_collapsed is True


def test_crowdworks_without_messages_json_reads_the_page_and_with_it_the_json():
    api = read("crowdworks/contract_collapsed")
    dom = read("crowdworks/contract_collapsed", responses=[])
    assert (api.source, api.history_collapsed) == ("api", False)
    assert (dom.source, dom.history_collapsed) == ("page", True)
    assert len(api.messages) > len(dom.messages)
    # Every message of the client or mine the page shows is in the JSON, with the
    # same instant and sender (platform notices are on the page only).
    in_json = {(m.sent_at, m.sender) for m in api.messages}
    assert all((m.sent_at, m.sender) in in_json for m in dom.messages if m.sender != "system")


@pytest.mark.parametrize("status", [403, 500])
def test_crowdworks_messages_json_refused_falls_back_to_the_page(status):
    responses = page("crowdworks/contract_recent").responses_list()
    for r in responses:
        r.update(status=status, body="<html><body>Access denied</body></html>", content_type="text/html")
    thread = read("crowdworks/contract_recent", responses=responses)
    assert thread.source == "page" and thread.last_client_message_at is not None


def test_crowdworks_messages_json_with_another_time_format_is_unreadable():
    responses = with_body("crowdworks/contract_recent", "messages.json",
                          lambda d: {"messages": [dict(m, senddate="2026-11-20T11:05:00+09:00") for m in d["messages"]]})
    reading = read("crowdworks/contract_recent", responses=responses)
    assert reading.to_json()["unreadable"] is True and "日時の書式" in reading.reason


def test_crowdworks_thread_of_another_contract_is_unreadable():
    p = page("crowdworks/contract_recent")
    html = p.html.read_text(encoding="utf-8").replace("&quot;messageableId&quot;:63724402",
                                                      "&quot;messageableId&quot;:63724403")
    reading = read("crowdworks/contract_recent", html)
    assert reading.to_json()["unreadable"] is True and "63724402" in reading.reason


def test_crowdworks_two_different_statuses_make_the_page_unreadable():
    html = page("crowdworks/contract_recent").html.read_text(encoding="utf-8")
    both = html.replace("<p>業務を開始しています。</p>", "<p>業務を開始しています。</p><p>この契約は完了しました。</p>", 1)
    assert both != html
    assert read("crowdworks/contract_recent", both).to_json()["unreadable"] is True


def test_crowdworks_status_texts_in_scripts_hidden_dialogs_and_messages_are_not_the_status():
    # Every contract page carries the i18n strings of every status in an inline
    # script, and contract_long has 「納品済み」 inside a message body.
    assert read("crowdworks/contract_long").status == "in_progress"
    html = page("crowdworks/contract_recent").html.read_text(encoding="utf-8")
    hidden = html.replace("<p>業務を開始しています。</p>", "<p>業務を開始しています。</p><div hidden><p>納品完了</p></div>", 1)
    assert read("crowdworks/contract_recent", hidden).status == "in_progress"


def test_crowdworks_list_sections_competition_and_side_links_are_not_listed():
    listing = read("crowdworks/contracts_active")
    ids = [c.contract_id for c in listing.contracts]
    html = page("crowdworks/contracts_active").html.read_text(encoding="utf-8")
    assert "/contracts/63811120" in html and "63811120" not in ids  # a competition row
    assert "/contracts/63520983" in html and "63520983" not in ids  # recently finished, in the side panel
    assert read("crowdworks/contracts_active_empty").contracts == []
    no_sections = html.replace("section", "block")
    assert read("crowdworks/contracts_active", no_sections).to_json()["unreadable"] is True


def test_lancers_list_names_its_next_page_and_the_last_page_none():
    assert read("lancers/working_list").next_url == "https://www.lancers.jp/mypage/proposals/all/working/page:2"
    assert read("lancers/working_list_page2").next_url is None


def test_lancers_recommended_jobs_are_not_contracts():
    html = page("lancers/working_list").html.read_text(encoding="utf-8")
    assert "/work/detail/4903311" in html
    assert "4903311" not in [c.contract_id for c in read("lancers/working_list").contracts]


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-10T15:26:00+09:00", "2026-11-10T15:26:00+09:00"),
    ("2026-11-13T22:45:00Z", "2026-11-14T07:45:00+09:00"),
    ("2026-11-13T22:45:00.123+00:00", "2026-11-14T07:45:00.123000+09:00"),
    ("2026-11-10 15:26:00", "2026-11-10T15:26:00+09:00"),
    (1762755960, "2025-11-10T15:26:00+09:00"),
])
def test_lancers_message_times_in_every_accepted_format(value, expected):
    assert iso_exact(lancers.message_time(value)) == expected


@pytest.mark.parametrize("value", ["1762755960", "2026/11/10 15:26", "11月10日 15:26", "2026-11-10T15:26:00",
                                   True, None, 1.5])
def test_lancers_message_times_in_other_formats_are_unreadable(value):
    responses = with_body("lancers/thread_recent", "messages?limit=20",
                          lambda items: [dict(m, modified=value) for m in items])
    reading = read("lancers/thread_recent", responses=responses)
    assert reading.to_json()["unreadable"] is True and "日時" in reading.reason


def test_lancers_messages_are_ordered_by_id_not_by_position():
    responses = with_body("lancers/thread_recent", "messages?limit=20", lambda items: items[::-1])
    assert [m.to_json() for m in read("lancers/thread_recent", responses=responses).messages] == \
        [m.to_json() for m in read("lancers/thread_recent").messages]


def test_lancers_an_older_page_not_captured_leaves_the_history_collapsed():
    responses = [r for r in page("lancers/thread_paged_back").responses_list() if "direction=prev" not in r["url"]]
    thread = read("lancers/thread_paged_back", responses=responses)
    assert thread.history_collapsed is True and len(thread.messages) == 20


def test_lancers_a_captured_older_page_that_is_not_json_is_unreadable():
    responses = page("lancers/thread_paged_back").responses_list()
    for r in responses:
        if "direction=prev" in r["url"]:
            r.update(status=403, body="<html>human verification</html>")
    reading = read("lancers/thread_paged_back", responses=responses)
    assert reading.to_json()["unreadable"] is True and "403" in reading.reason


def test_lancers_query_parameters_match_in_any_order():
    responses = page("lancers/thread_paged_back").responses_list()
    for r in responses:
        if "direction=prev" in r["url"]:
            base, query = r["url"].split("?")
            r["url"] = base + "?" + "&".join(reversed(query.split("&")))
    assert read("lancers/thread_paged_back", responses=responses).history_collapsed is False


def test_lancers_the_help_link_is_not_the_button_and_side_lists_are_not_messages():
    thread = read("lancers/thread_hourly")
    html = page("lancers/thread_hourly").html.read_text(encoding="utf-8")
    assert "連絡催促申請について" in html and thread.escalation == "none"
    assert "p-message-board-list__time" in html  # the board list beside the thread, with its own times
    assert max(m.sent_at for m in thread.messages) <= parse_instant(page("lancers/thread_hourly").meta["captured_at"])


def test_a_login_page_is_recognised_and_a_contract_page_is_not():
    assert lancers.is_login_page("https://www.lancers.jp/user/login?ref=/mypage")
    assert lancers.is_login_page("https://www.lancers.jp/user/verify_code")
    assert lancers.is_login_page("https://www.lancers.jp/user/reminder")
    assert lancers.is_login_page("https://accounts.google.com/o/oauth2/auth?client_id=x")
    assert crowdworks.is_login_page("https://crowdworks.jp/login")
    form = '<form action="/user/login" method="post"><input type="password" name="p"><button>ログイン</button></form>'
    assert lancers.is_login_page("https://www.lancers.jp/mypage/message?boardId=1", f"<html><body>{form}</body></html>")
    p = page("lancers/thread_silent_fixed")
    switch = '<form action="/user/login/switch" method="post"><button>アカウント切替</button></form>'
    assert not lancers.is_login_page(p.url, p.html.read_text(encoding="utf-8").replace("</header>", switch + "</header>"))
    cw = page("crowdworks/contract_recent")
    assert not crowdworks.is_login_page(cw.url, cw.html.read_text(encoding="utf-8"))


def test_ids_are_ascii_digits_of_a_sane_length():
    from collector.pages import identify
    from collector.reading import UnsupportedURL

    for url in ("https://www.lancers.jp/mypage/message?boardId=" + "1" * 21,
                "https://www.lancers.jp/mypage/message?boardId=１２３",
                "https://crowdworks.jp/contracts/" + "9" * 21,
                "https://crowdworks.jp/contracts/６３７２４４０２"):
        with pytest.raises(UnsupportedURL):
            identify(url)
    assert identify("https://crowdworks.jp/contracts/" + "9" * 20).contract_id == "9" * 20


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59+09:00", "1969-12-31T23:59:59Z"])
def test_instants_outside_sane_years_are_refused(value):
    with pytest.raises(ValueError):
        parse_instant(value)
