// ghostwatch content script (a classic script: Chrome does not load content
// scripts as modules).  The manifest loads capture.js first, which defines
// globalThis.ghostwatchCapture (the capture routine the collector runs too).
// This script runs only on the pages the manifest names, and only hands what
// it captured to the service worker, which does every server call.
//
// 1. Wait until the page is there: its own marker (the Lancers message board,
//    CrowdWorks' #pack-message-thread[data], the rows of a list), then the part
//    that may come later (the Lancers deal panel, CrowdWorks' message items) for
//    a while, then the DOM quiet for a moment.  After READY_TIMEOUT_MS the page
//    is captured anyway (the server then says whether it could read it:
//    "unreadable", never a guess).
// 2. Capture it with ghostwatchCapture(): the HTML plus the same-origin JSON the
//    platform's own app uses; hand {url, captured_at, html, responses} to the
//    service worker.
// 3. Capture again when new messages appear (debounced), not on every DOM change.
// 4. Lancers' message page is an app: another board can replace the URL without a
//    reload (history.pushState).  Every URL change starts over at 1 for the new
//    page, and the worker is told at once, so the badge never shows the previous
//    board's days.
// ("Capture this page now" in the popup is done by the service worker itself,
// with chrome.scripting, so it also works on a tab opened before install.)
(() => {
  "use strict";

  if (window.top !== window) return; // frames are not pages
  if (globalThis.__ghostwatchContentStarted) return;
  globalThis.__ghostwatchContentStarted = true;

  const READY_TIMEOUT_MS = 8000; // then capture anyway
  const SETTLE_MS = 600; // the DOM quiet this long before the first capture
  const GRACE_MS = 4000; // marker there, the later part not: capture after this long
  const DEBOUNCE_MS = 2000; // new messages: wait for the burst to end
  const URL_POLL_MS = 500; // a backstop for URL changes the Navigation API did not report
  const CHECK_MS = 50; // DOM changes: look at the page at most this often

  // What each page ghostwatch reads needs before it is captured, by its kind
  // (capture.js's kind(): the one place the URL patterns live):
  // - marker: the page is there (the corpus README, "confirmed" unless marked);
  // - later: a part that may be rendered after the marker; waited for GRACE_MS;
  // - text: a text that also marks the page as there (an empty list);
  // - items: what "new messages" (or rows) counts.
  const PAGES = {
    lancers_thread: {
      // The thread page is an app: its HTML has no message list; the messages
      // come from /v1/message_api (capture.js).  The deal panel (ASSUMED markup)
      // holds the facts the API lacks; some boards have none.
      marker: ".p-message-board, #js-message-board",
      later: "aside.p-message-board__deal",
      // ASSUMED: the app renders one element per message in #js-message-list.
      items: "#js-message-list > :not(.p-message-board__loading)",
      // ASSUMED: the board's forms carry its id; while they name another board
      // (the app has not redrawn after a pushState yet), the page is not this board.
      belongs: (url) => {
        const fields = document.querySelectorAll("input[name='board_id']");
        if (!fields.length) return true;
        const { param, ENDPOINTS } = globalThis.ghostwatchCapture;
        const board = param(new URL(url).search, ENDPOINTS.lancersBoardParam);
        return [...fields].some((f) => f.value === board);
      },
    },
    lancers_list: {
      marker: "li.p-mypage-work__media, .p-mypage-pagers",
      text: "進行中の仕事はありません", // ASSUMED: the empty list
      items: "li.p-mypage-work__media",
    },
    crowdworks_contract: {
      marker: "#pack-message-thread[data]",
      // messages.json is the message list; the page's own items are the fallback.
      later: "[class*='_messageItem_']",
      items: "[class*='_messageItem_']",
    },
    crowdworks_list: {
      marker: "div.hourly.section, div.fixed_price.section, div.competition.section",
      items: "div.hourly.section tr, div.fixed_price.section tr, div.competition.section tr",
    },
  };

  function pageKind(loc) {
    const capture = globalThis.ghostwatchCapture;
    const name = capture && typeof capture.kind === "function" ? capture.kind(loc) : null;
    return (name && PAGES[name]) || null;
  }

  const stripHash = (url) => String(url).split("#")[0];
  const count = (selector) => document.querySelectorAll(selector).length;

  // One visit per URL: its timers, whether it was captured, what it counted.
  let visit = null;
  let orphaned = false;
  let mutatedSinceUrlCheck = false;

  function markerPresent(kind) {
    if (document.querySelector(kind.marker)) return true;
    if (!kind.text) return false;
    const main = document.querySelector("main") || document.body;
    return Boolean(main && main.innerText && main.innerText.includes(kind.text));
  }

  async function tell(message) {
    if (orphaned) return null;
    try {
      return await chrome.runtime.sendMessage(message);
    } catch (err) {
      // The extension was reloaded or updated: this page's script is orphaned.
      orphaned = true;
      observer.disconnect();
      clearInterval(poller);
      if (visit) stopTimers(visit);
      return null;
    }
  }

  function stopTimers(v) {
    clearTimeout(v.looking);
    v.looking = null;
    clearTimeout(v.deadline);
    clearTimeout(v.grace);
    clearTimeout(v.settle);
    clearTimeout(v.debounce);
  }

  /** A new page in this tab: a load, a history.pushState, back/forward, a bfcache restore. */
  function begin(reason) {
    if (visit) stopTimers(visit);
    const kind = pageKind(window.location);
    visit = {
      url: window.location.href,
      kind,
      reason,
      // After a same-document URL change the old board's DOM is still there:
      // wait until the app has redrawn something before trusting the page.
      redrawn: reason === "load" || reason === "pageshow",
      captured: false,
      capturing: false,
      again: null,
      lastCount: -1,
    };
    if (!kind) return; // not a page ghostwatch reads (the worker clears the badge itself)
    tell({ type: "page", url: visit.url });
    const v = visit;
    v.deadline = setTimeout(() => capture(v, "timeout"), READY_TIMEOUT_MS);
    check(v);
  }

  /** Whether the page is there; arms the capture accordingly. */
  function check(v) {
    if (v !== visit || !v.kind || v.captured || v.capturing || !v.redrawn) return;
    if (!markerPresent(v.kind)) return;
    if (v.kind.belongs && !v.kind.belongs(v.url)) return;
    if (v.kind.later && !document.querySelector(v.kind.later)) {
      if (!v.grace) v.grace = setTimeout(() => capture(v, "partial"), GRACE_MS);
      return;
    }
    clearTimeout(v.settle);
    v.settle = setTimeout(() => capture(v, "rendered"), SETTLE_MS);
  }

  function fallbackCapture(v, error) {
    // capture.js missing or failed: the page alone (the server reads what it
    // can, and says "unreadable" for what needs the JSON).
    return {
      url: v.url,
      captured_at: new Date().toISOString(),
      html: document.documentElement.outerHTML,
      responses: [],
      error: error ? String(error && error.message || error) : undefined,
    };
  }

  async function capture(v, reason) {
    if (orphaned || v !== visit || !v.kind) return;
    if (v.capturing) {
      v.again = reason;
      return;
    }
    if (v.kind.belongs && !v.kind.belongs(v.url)) {
      // The page still shows another board (the app has not redrawn): capturing
      // it would give this board the other's facts.  Wait for the redraw (check()).
      return;
    }
    stopTimers(v);
    v.captured = true;
    v.capturing = true;
    v.lastCount = count(v.kind.items);
    let got;
    try {
      got = typeof globalThis.ghostwatchCapture === "function"
        ? await globalThis.ghostwatchCapture({ reason })
        : fallbackCapture(v, "ghostwatchCapture is not defined");
      if (!got || typeof got.html !== "string") got = fallbackCapture(v, "no capture");
    } catch (err) {
      console.warn("ghostwatch: capture failed", err);
      got = fallbackCapture(v, err);
    }
    try {
      // Moved on meanwhile (another board): this capture belongs to no page shown.
      if (v !== visit || stripHash(window.location.href) !== stripHash(v.url)) return;
      await tell({
        type: "snapshot",
        reason,
        url: v.url,
        captured_at: typeof got.captured_at === "string" ? got.captured_at : new Date().toISOString(),
        html: got.html,
        responses: Array.isArray(got.responses) ? got.responses : [],
      });
    } finally {
      v.capturing = false;
      if (v.again && v === visit) {
        const again = v.again;
        v.again = null;
        capture(v, again);
      }
    }
  }

  function urlChanged(reason) {
    if (orphaned || !visit || window.location.href === visit.url) return false;
    const sameDocumentRedraw = mutatedSinceUrlCheck;
    if (stripHash(window.location.href) === stripHash(visit.url)) {
      visit.url = window.location.href; // only the #fragment moved
      return false;
    }
    begin(reason);
    // Polling notices a change late: a redraw since the last look counts.
    if (reason === "poll" && sameDocumentRedraw) {
      visit.redrawn = true;
      check(visit);
    }
    return true;
  }

  const observer = new MutationObserver(() => {
    mutatedSinceUrlCheck = true;
    const v = visit;
    if (!v || !v.kind) return;
    v.redrawn = true;
    if (!v.captured) {
      // Coalesce a burst of changes into one look at the page.
      if (!v.looking) {
        v.looking = setTimeout(() => {
          v.looking = null;
          check(v);
        }, CHECK_MS);
      }
      return;
    }
    clearTimeout(v.debounce);
    v.debounce = setTimeout(() => {
      if (v === visit && count(v.kind.items) > v.lastCount) capture(v, "new-messages");
    }, DEBOUNCE_MS);
  });
  observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  // URL changes without a load: the Navigation API where there is one (it
  // reports history.pushState/replaceState and back/forward at once), popstate,
  // and a cheap poll of location.href as a backstop.
  if (globalThis.navigation && typeof globalThis.navigation.addEventListener === "function") {
    globalThis.navigation.addEventListener("currententrychange", () => {
      observer.takeRecords(); // changes made before the URL changed belong to the old page
      mutatedSinceUrlCheck = false;
      urlChanged("navigation");
    });
  }
  window.addEventListener("popstate", () => {
    observer.takeRecords();
    mutatedSinceUrlCheck = false;
    urlChanged("popstate");
  });
  const poller = setInterval(() => {
    urlChanged("poll");
    mutatedSinceUrlCheck = false;
  }, URL_POLL_MS);
  // Back to this page from the back/forward cache: the worker cleared the badge
  // when the tab left; say it again and capture again.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) begin("pageshow");
  });

  begin("load");
})();
