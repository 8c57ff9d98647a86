// ghostwatch content script (a classic script: Chrome does not load content
// scripts as modules).  It runs only on the pages the manifest names, and
// only hands the page to the service worker, which does every server call.
//
// 1. Wait until the page's messages (or contract rows) are rendered: a
//    MutationObserver, with a time limit after which the page is sent anyway
//    (the server then says whether it could read it: "unreadable", never a guess).
// 2. Send {url, html, captured_at} to the service worker.
// 3. Send again when new messages appear (debounced), not on every DOM change.
// ("Capture this page now" in the popup is done by the service worker itself,
// with chrome.scripting, so it also works on a tab opened before install.)
(() => {
  "use strict";

  const READY_TIMEOUT_MS = 8000; // then send anyway
  const SETTLE_MS = 600; // the item count must stay put this long before the first send
  const DEBOUNCE_MS = 2000; // new messages: wait for the burst to end

  // The pages ghostwatch reads, and what marks their content as rendered.
  // Mirrors collector/lancers.py and collector/crowdworks.py (match_url).
  const PAGES = [
    { host: "www.lancers.jp", path: /^\/mypage\/message\/?$/, query: /(?:^|&)boardId=\d+(?:&|$)/,
      items: ".p-message-list__item" },
    { host: "www.lancers.jp", path: /^\/mypage\/proposals\/all\/working\/?$/,
      items: ".c-media-job, .p-mypage-work__media" },
    { host: "crowdworks.jp", path: /^\/contracts\/\d+\/?$/,
      items: "[class*='_messageItem_']" },
    { host: "crowdworks.jp", path: /^\/e\/contracts\/?$/,
      items: ".contracts-table__row" },
  ];

  function pageKind(loc) {
    const query = loc.search.replace(/^\?/, "");
    return PAGES.find((p) => p.host === loc.hostname && p.path.test(loc.pathname) &&
      (!p.query || p.query.test(query))) || null;
  }

  const kind = pageKind(window.location);
  if (!kind || window.top !== window) return; // another page under the same prefix, or a frame

  const countItems = () => document.querySelectorAll(kind.items).length;

  let lastSentCount = -1;
  let sending = false;

  async function send(reason) {
    if (sending) return;
    sending = true;
    lastSentCount = countItems();
    try {
      await chrome.runtime.sendMessage({
        type: "snapshot",
        reason,
        url: window.location.href,
        html: document.documentElement.outerHTML,
        captured_at: new Date().toISOString(), // an exact instant; the server shows it in Japan time
      });
    } catch (err) {
      // The extension was reloaded or updated: this page's script is orphaned.
      observer.disconnect();
    } finally {
      sending = false;
    }
  }

  let settleTimer = null;
  let debounceTimer = null;
  let firstSent = false;

  function firstSend(reason) {
    if (firstSent) return;
    firstSent = true;
    clearTimeout(settleTimer);
    clearTimeout(deadline);
    send(reason);
  }

  const observer = new MutationObserver(() => {
    if (!firstSent) {
      if (countItems() > 0) {
        clearTimeout(settleTimer);
        settleTimer = setTimeout(() => firstSend("rendered"), SETTLE_MS);
      }
      return;
    }
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(() => {
      if (countItems() > lastSentCount) send("new-messages");
    }, DEBOUNCE_MS);
  });
  observer.observe(document.documentElement, { childList: true, subtree: true });

  const deadline = setTimeout(() => firstSend("timeout"), READY_TIMEOUT_MS);
  if (countItems() > 0) settleTimer = setTimeout(() => firstSend("rendered"), SETTLE_MS);
})();
