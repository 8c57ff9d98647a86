// ghostwatch capture routine: the ONE way a page is captured, for both ways in.
//
// - The extension lists this file before content.js in the manifest (a classic
//   content script: no modules, no build step), and content.js calls it.
// - The collector (collector/fetch.py) evaluates this file's text in the page
//   with Playwright's page.evaluate, then calls it the same way.
//
//   const capture = await globalThis.ghostwatchCapture(options);
//   // {url, captured_at, html, responses: [{url, status, content_type, body}]}
//
// A capture is the page's HTML plus the same-origin JSON the platform's own UI
// fetches (see tests/fixtures/corpus/README.md):
//
// - CrowdWorks contract page /contracts/<id>: the thread id from
//   #pack-message-thread's `data` attribute (HTML-escaped JSON, `.id`), then
//   /message/threads/<thread id>/messages.json;
// - Lancers thread page /mypage/message?boardId=<board>: the board detail
//   /v1/message_api/boards/<board>, the newest messages
//   /v1/message_api/boards/<board>/messages?limit=20, then older pages
//   (...&message_id=<smallest id so far>&direction=prev) while the last page
//   was full and held no client message, at most `maxPages` pages;
// - list pages: the HTML only (responses: []).
//
// Requests are same-origin, with the user's cookies, one at a time.  A request
// that fails is recorded with its status (the reader then says what is
// unreadable); one the network could not complete is left out.  It never
// throws: whatever could be gathered is returned.
//
// options (all optional): {timeoutMs: per request (20000), maxPages: Lancers
// message pages (50), deadlineMs: the whole capture (120000)}.
//
// Also: ghostwatchCapture.ready({timeoutMs}) waits until the page's markers are
// there (true) or the time is up (false); ghostwatchCapture.kind(location or
// URL) names the page (the one place the extension knows its URL patterns);
// ghostwatchCapture.fetchResponse(url, options) is the one same-origin
// request (the collector reads Lancers' boards list with it).
(() => {
  "use strict";

  // ---- ENDPOINTS: keep in step with collector/lancers.py and collector/crowdworks.py
  // (tests/test_capture.py checks them).  "{board}" / "{thread}" are ids.
  const ENDPOINTS = {
    lancersHost: "www.lancers.jp",
    lancersThreadPath: "/mypage/message",
    lancersBoardParam: "boardId",
    lancersBoardDetail: "/v1/message_api/boards/{board}",
    lancersMessages: "/v1/message_api/boards/{board}/messages",
    lancersPageSize: 20,
    lancersListPath: "/mypage/proposals/all/working",
    crowdworksHost: "crowdworks.jp",
    crowdworksContractPath: "/contracts/{contract}",
    crowdworksThreadElement: "#pack-message-thread",
    crowdworksThreadAttribute: "data",
    crowdworksMessages: "/message/threads/{thread}/messages.json",
    crowdworksListPath: "/e/contracts",
    crowdworksListStatusParam: "status",
    crowdworksListStatus: "active",
  };
  // ---- end of ENDPOINTS

  const DEFAULTS = { timeoutMs: 20000, maxPages: 50, deadlineMs: 120000 };
  const READY_MARKERS = {
    crowdworks_contract: ENDPOINTS.crowdworksThreadElement + "[" + ENDPOINTS.crowdworksThreadAttribute + "]",
    crowdworks_list: "div.section, .nodata",
    lancers_list: "li.p-mypage-work__media, .p-mypage-pagers, .p-mypage-work",
    lancers_thread: ".p-message-board, #js-message-board", // ASSUMED: the app's frame (the corpus')
  };
  // The page's own fetch, taken before the site's scripts can wrap it.
  const pageFetch = globalThis.fetch.bind(globalThis);

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(String(values[name])));
  }

  function absolute(path, params) {
    const url = new URL(path, location.origin);
    for (const [name, value] of params || []) url.searchParams.append(name, String(value));
    return url.href;
  }

  const urls = {
    lancersBoardDetail: (board) => absolute(fill(ENDPOINTS.lancersBoardDetail, { board })),
    lancersMessages: (board, beforeId) => absolute(
      fill(ENDPOINTS.lancersMessages, { board }),
      beforeId == null
        ? [["limit", ENDPOINTS.lancersPageSize]]
        : [["limit", ENDPOINTS.lancersPageSize], ["message_id", beforeId], ["direction", "prev"]],
    ),
    crowdworksMessages: (thread) => absolute(fill(ENDPOINTS.crowdworksMessages, { thread })),
  };

  // The first non-empty value of a query parameter, as Python's parse_qs reads it.
  function param(search, name) {
    return new URLSearchParams(search).getAll(name).find((value) => value !== "") || null;
  }

  // The page a URL (or location) shows: "lancers_thread", "lancers_list",
  // "crowdworks_contract", "crowdworks_list", or null.  The ONE place the
  // extension knows its pages (content.js, the service worker); the manifest's
  // matches cover them, and collector.pages.identify agrees
  // (tests/test_extension_pages.py checks all three).
  function kind(loc) {
    loc = loc || location;
    if (loc.protocol !== "https:") return null;
    const path = loc.pathname.replace(/\/+$/, "");
    if (loc.hostname === ENDPOINTS.lancersHost) {
      const board = param(loc.search, ENDPOINTS.lancersBoardParam);
      if (path === ENDPOINTS.lancersThreadPath) return board && /^\d+$/.test(board) ? "lancers_thread" : null;
      const rest = path.startsWith(ENDPOINTS.lancersListPath) ? path.slice(ENDPOINTS.lancersListPath.length) : null;
      if (rest === "" || /^\/page:\d+$/.test(rest)) return "lancers_list";
    } else if (loc.hostname === ENDPOINTS.crowdworksHost) {
      const contract = new RegExp("^" + fill(ENDPOINTS.crowdworksContractPath, { contract: "X" })
        .replace("X", "\\d+") + "$");
      if (contract.test(path)) return "crowdworks_contract";
      if (path === ENDPOINTS.crowdworksListPath &&
          (param(loc.search, ENDPOINTS.crowdworksListStatusParam) || ENDPOINTS.crowdworksListStatus) ===
          ENDPOINTS.crowdworksListStatus) {
        return "crowdworks_list";
      }
    }
    return null;
  }

  // One same-origin GET: {url, status, content_type, body}, or null when the
  // network failed (or the time ran out).  Never throws.
  async function fetchResponse(url, options) {
    const timeoutMs = (options && options.timeoutMs) || DEFAULTS.timeoutMs;
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
    try {
      const response = await pageFetch(url, {
        method: "GET",
        credentials: "same-origin",
        cache: "no-store",
        redirect: "follow",
        headers: { Accept: "application/json, text/plain, */*", "X-Requested-With": "XMLHttpRequest" },
        signal: controller ? controller.signal : undefined,
      });
      const body = await response.text();
      return {
        url: new URL(url, location.href).href,
        status: response.status,
        content_type: response.headers.get("content-type") || "",
        body,
      };
    } catch (err) {
      return null;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  function parseJSON(record) {
    if (!record || record.status !== 200) return undefined;
    try {
      return JSON.parse(record.body);
    } catch (err) {
      return undefined;
    }
  }

  function crowdworksThreadId() {
    const el = document.querySelector(ENDPOINTS.crowdworksThreadElement);
    const raw = el && el.getAttribute(ENDPOINTS.crowdworksThreadAttribute);
    if (!raw) return null;
    try {
      // getAttribute has already undone the HTML escaping.
      const id = JSON.parse(raw).id;
      return id != null && /^\d+$/.test(String(id)) ? String(id) : null;
    } catch (err) {
      return null;
    }
  }

  function isClientMessage(message) {
    return !!(message && message.send_user && message.send_user.is_client === true);
  }

  async function lancersResponses(board, options, deadline, push) {
    await push(urls.lancersBoardDetail(board));
    let page = parseJSON(await push(urls.lancersMessages(board)));
    let pages = 1;
    let smallest = null; // the id as the JSON wrote it, and its value
    let smallestValue = null;
    while (Array.isArray(page)) {
      for (const m of page) {
        const id = m ? Number(m.id) : NaN;
        if (Number.isFinite(id) && (smallestValue === null || id < smallestValue)) {
          smallestValue = id;
          smallest = String(m.id);
        }
      }
      const full = page.length >= ENDPOINTS.lancersPageSize;
      if (!full || page.some(isClientMessage) || smallest === null) break;
      if (pages >= options.maxPages || Date.now() > deadline) break;
      page = parseJSON(await push(urls.lancersMessages(board, smallest)));
      pages += 1;
    }
  }

  async function ghostwatchCapture(options) {
    options = Object.assign({}, DEFAULTS, options || {});
    const deadline = Date.now() + options.deadlineMs;
    const capture = {
      url: location.href,
      captured_at: new Date().toISOString(),
      html: "<!DOCTYPE html>" + document.documentElement.outerHTML,
      responses: [],
    };
    const push = async (url) => {
      const record = await fetchResponse(url, options);
      if (record) capture.responses.push(record);
      return record;
    };
    try {
      const page = kind(location);
      if (page === "crowdworks_contract") {
        const thread = crowdworksThreadId();
        if (thread) await push(urls.crowdworksMessages(thread));
      } else if (page === "lancers_thread") {
        const board = param(location.search, ENDPOINTS.lancersBoardParam);
        await lancersResponses(board, options, deadline, push);
      }
    } catch (err) {
      // Never throw: the page and whatever was fetched are the capture.
    }
    return capture;
  }

  // Wait until the page shows its markers: true, or false when timeoutMs pass.
  function ready(options) {
    const timeoutMs = (options && options.timeoutMs) || 8000;
    const selector = READY_MARKERS[kind(location)];
    const found = () => document.readyState !== "loading" && (!selector || !!document.querySelector(selector));
    if (found()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value) => {
        observer.disconnect();
        clearTimeout(timer);
        document.removeEventListener("readystatechange", check);
        resolve(value);
      };
      const check = () => { if (found()) finish(true); };
      const observer = new MutationObserver(check);
      observer.observe(document, { childList: true, subtree: true, attributes: true });
      document.addEventListener("readystatechange", check);
      const timer = setTimeout(() => finish(found()), timeoutMs);
    });
  }

  ghostwatchCapture.ready = ready;
  ghostwatchCapture.kind = kind;
  ghostwatchCapture.param = param;
  ghostwatchCapture.fetchResponse = fetchResponse;
  ghostwatchCapture.urls = urls;
  ghostwatchCapture.ENDPOINTS = ENDPOINTS;
  ghostwatchCapture.version = 1;
  globalThis.ghostwatchCapture = ghostwatchCapture;
})();
