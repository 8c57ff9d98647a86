// ghostwatch service worker: every call to the local server goes from here.
//
// - A snapshot from the content script (or "capture now" in the popup) is first
//   appended to the queue in chrome.storage.local, then the queue is sent in
//   order; an entry leaves the queue only when the server has accepted it.
//   Server down or token refused: badge "!", a title saying what to do, retries
//   with backoff (a timer, and a chrome.alarms backstop that survives the
//   worker being stopped).  Nothing is lost.
// - The tab's badge shows the server's answer for the page the tab shows (days
//   of silence, coloured; "…" while it is being captured), and goes the moment
//   the tab shows another page (a load or a history.pushState).
// - The global badge shows GET /api/summary, on a chrome.alarms schedule.
// - A notification, once, when a contract becomes eligible or a deadline passes.

import {
  ERROR_BADGE, GREY, KEYS, PENDING_BADGE, getSettings, isWatchedPage, isoWithOffset, normaliseServerUrl,
  platformLabel, stateLabel, t, verdictBadge, webViewUrl,
} from "./common.js";

const SUMMARY_ALARM = "summary";
const FLUSH_ALARM = "flush";
const SUMMARY_PERIOD_MINUTES = 1;
const BACKOFF_BASE_MS = 2000;
const BACKOFF_MAX_MS = 60000;
const REQUEST_TIMEOUT_MS = 30000;
const NOTIFIED_KEEP = 500;
const TAB_BADGES = "tabBadges"; // chrome.storage.session: {tabId: {url, text, color, title}}

// --- small helpers -------------------------------------------------------------

// One queue, one writer: every read-modify-write of storage goes through here.
let chain = Promise.resolve();
function serial(fn) {
  const run = chain.then(fn, fn);
  chain = run.catch(() => {});
  return run;
}

async function getLocal(key, fallback) {
  const got = await chrome.storage.local.get(key);
  return got[key] === undefined ? fallback : got[key];
}

const queueLength = async () => (await getLocal(KEYS.queue, [])).length;

class ServerProblem extends Error {
  // kind: down | no_token | bad_token | error | rejected
  constructor(kind, detail = "", status = 0) {
    super(`${kind}: ${detail}`);
    this.kind = kind;
    this.detail = detail;
    this.status = status;
  }
}

/** A request to the server: the parsed JSON answer, or a ServerProblem. */
async function request(path, { method = "GET", body, settings, auth = true } = {}) {
  const { serverUrl, token } = settings || (await getSettings());
  if (auth && !token) throw new ServerProblem("no_token");
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(serverUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ServerProblem("down", String(err && err.message || err));
  }
  let answer = null;
  try {
    answer = await res.json();
  } catch {
    answer = null;
  }
  if (res.ok) return answer;
  const detail = (answer && (answer.message || answer.error)) || `HTTP ${res.status}`;
  if (res.status === 401) throw new ServerProblem("bad_token", detail, 401);
  if (res.status >= 500) throw new ServerProblem("down", detail, res.status);
  if ([400, 413, 422].includes(res.status)) throw new ServerProblem("rejected", detail, res.status);
  throw new ServerProblem("error", detail, res.status);
}

// --- badges ----------------------------------------------------------------------

async function setStatus(kind, detail = "") {
  await chrome.storage.local.set({ [KEYS.status]: { kind, detail, at: isoWithOffset() } });
  await renderGlobalBadge();
}

function problemTitle(kind, queued) {
  if (kind === "no_token") return t("titleNoToken", queued);
  if (kind === "bad_token") return t("titleBadToken", queued);
  return t("titleServerDown", queued);
}

/** The badge every tab shows unless it has its own: the summary, or "!". */
async function globalBadge() {
  const status = await getLocal(KEYS.status, null);
  const queued = await queueLength();
  if (status && ["down", "no_token", "bad_token"].includes(status.kind)) {
    return { ...ERROR_BADGE, title: problemTitle(status.kind, queued) };
  }
  const summary = await getLocal(KEYS.summary, null);
  if (summary && summary.badge) {
    const needing = (summary.needing_action || []).length;
    return {
      text: summary.badge.text === "0" ? "" : String(summary.badge.text),
      color: summary.badge.color,
      title: t("titleSummary", needing),
    };
  }
  return { text: "", color: GREY, title: t("titleIdle") };
}

async function renderGlobalBadge() {
  const badge = await globalBadge();
  await chrome.action.setBadgeText({ text: badge.text });
  await chrome.action.setBadgeBackgroundColor({ color: badge.color });
  await chrome.action.setTitle({ title: badge.title });
  // Tabs that left a page of their own show the global badge: keep them in step.
  for (const [tabId, stored] of Object.entries(await tabBadges())) {
    if (stored.global) await showTabBadge(Number(tabId), null, badge);
  }
}

function daysOf(answer) {
  return answer.silent_days === null || answer.silent_days === undefined ? "?" : answer.silent_days;
}

/** The tab's badge for the server's answer to its page: {text, color, title}. */
function answerBadge(answer) {
  const badge = verdictBadge(answer);
  let title;
  if (answer.page === "inquiry") {
    title = t("titleInquiry", answer.title || answer.thread_id || "");
  } else if (answer.state === "unreadable") {
    title = t("titleUnreadable", answer.unreadable_reason || "");
  } else if (answer.page === "contract_list") {
    title = t("titleList", badge.text);
  } else if (answer.state === "unconfirmed") {
    title = t("titleUnconfirmed", answer.title || answer.contract_id || "", daysOf(answer));
  } else {
    title = t("titleContract", answer.title || answer.contract_id || "", stateLabel(answer.state), daysOf(answer));
  }
  return { ...badge, title };
}

// Each tab's own badge, for the page (URL) it was made for.  A tab that moves
// to another page (a load, or history.pushState in Lancers' message app) loses
// it at once: "…" while the new page is being captured, the global badge on a
// page ghostwatch does not read.  So a contract never shows another's days.
// Kept in chrome.storage.session (the worker may be stopped between events).

const stripHash = (url) => String(url || "").split("#")[0];
const samePage = (a, b) => Boolean(a) && Boolean(b) && stripHash(a) === stripHash(b);

async function tabBadges() {
  return (await chrome.storage.session.get(TAB_BADGES))[TAB_BADGES] || {};
}

// What happens to one tab's badge happens in order (its events, its answers),
// so a late step for the page it left never overtakes the step for the new one.
const tabChains = new Map();
function inTabOrder(tabId, fn) {
  const run = (tabChains.get(tabId) || Promise.resolve()).then(fn, fn);
  const settled = run.catch(() => {});
  tabChains.set(tabId, settled);
  settled.then(() => {
    if (tabChains.get(tabId) === settled) tabChains.delete(tabId);
  });
  return run;
}

async function updateTabBadges(fn) {
  return serial(async () => {
    const all = await tabBadges();
    const result = fn(all);
    await chrome.storage.session.set({ [TAB_BADGES]: all });
    return result;
  });
}

/**
 * Show ``badge`` on the tab, or (null) the global badge again.  (Chrome can
 * give a tab back the global text, not its colour and title: those are copied.)
 */
async function showTabBadge(tabId, badge, global = null) {
  try {
    if (badge && !badge.global) {
      await chrome.action.setBadgeText({ tabId, text: badge.text });
      await chrome.action.setBadgeBackgroundColor({ tabId, color: badge.color });
      await chrome.action.setTitle({ tabId, title: badge.title });
    } else {
      const shown = global || (await globalBadge());
      await chrome.action.setBadgeText({ tabId, text: null });
      await chrome.action.setBadgeBackgroundColor({ tabId, color: shown.color });
      await chrome.action.setTitle({ tabId, title: shown.title });
    }
  } catch {
    // The tab went away meanwhile.
  }
}

async function currentTab(tabId) {
  try {
    return await chrome.tabs.get(tabId);
  } catch {
    return null; // closed
  }
}

/**
 * The badge for the tab that showed ``url``: kept and shown only while the tab
 * still shows that page (an answer that comes after the tab moved on is dropped).
 */
function setTabBadge(tabId, url, badge) {
  if (tabId === undefined || tabId === null || tabId < 0) return Promise.resolve();
  return inTabOrder(tabId, async () => {
    const tab = await currentTab(tabId);
    if (!tab || !samePage(tab.url, url)) return;
    await updateTabBadges((all) => {
      all[tabId] = { url, ...badge };
    });
    await showTabBadge(tabId, badge);
  });
}

/**
 * The tab shows ``url`` now (a load committed, a pushState, the content script
 * starting).  Its badge for another page goes at once; a watched page shows "…"
 * until its answer comes.
 */
function tabNavigated(tabId, url) {
  return inTabOrder(tabId, () => showForPage(tabId, url));
}

async function showForPage(tabId, url) {
  const stored = (await tabBadges())[tabId];
  const watched = Boolean(url) && isWatchedPage(url);
  if (stored && (samePage(stored.url, url) || (stored.global && !watched))) {
    // Still the same page (a reload, a #fragment), or still not a page of its
    // own: what it shows holds (until the new answer).
    await showTabBadge(tabId, stored);
    return;
  }
  if (!stored && !watched) return; // a tab ghostwatch never badged: nothing to undo
  // Another page: "…" for a page ghostwatch reads, else the global badge.
  const next = watched ? { url, ...PENDING_BADGE, title: t("titlePending") } : { url: url || "", global: true };
  await updateTabBadges((all) => {
    all[tabId] = next;
  });
  await showTabBadge(tabId, next);
}

chrome.tabs.onUpdated.addListener((tabId, changeInfo, tab) => {
  // changeInfo.url: a new page committed, or the URL changed without a load
  // (history.pushState).  tab.url is there for the platforms' pages (host
  // permissions) and undefined elsewhere, which is "another page" too.
  if ("url" in changeInfo || changeInfo.status === "loading" || changeInfo.status === "complete") {
    tabNavigated(tabId, tab.url);
  }
});

chrome.tabs.onRemoved.addListener((tabId) => {
  updateTabBadges((all) => {
    delete all[tabId];
  });
});

// --- notifications ---------------------------------------------------------------

async function notifyChanges(verdicts) {
  const fresh = [];
  await serial(async () => {
    const notified = await getLocal(KEYS.notified, {});
    for (const v of verdicts) {
      if (!v || !v.platform || !v.contract_id) continue;
      let key = null;
      if (v.state === "eligible") key = `${v.platform}/${v.contract_id}/eligible/${v.eligible_at || ""}`;
      else if (v.state === "overdue") key = `${v.platform}/${v.contract_id}/overdue/${v.deadline_at || ""}`;
      if (!key || notified[key]) continue;
      notified[key] = Date.now();
      fresh.push([key, v]);
    }
    if (!fresh.length) return;
    const keys = Object.keys(notified).sort((a, b) => notified[b] - notified[a]);
    for (const old of keys.slice(NOTIFIED_KEEP)) delete notified[old];
    await chrome.storage.local.set({ [KEYS.notified]: notified });
  });
  for (const [key, v] of fresh) {
    const days = v.silent_days === null || v.silent_days === undefined ? "?" : v.silent_days;
    const next = v.next_action && v.next_action.text ? `\n${v.next_action.text}` : "";
    try {
      await chrome.notifications.create(key, {
        type: "basic",
        iconUrl: chrome.runtime.getURL("icons/icon128.png"),
        title: t(v.state === "eligible" ? "notifyEligibleTitle" : "notifyOverdueTitle"),
        message: t("notifyBody", v.title || v.contract_id, platformLabel(v.platform), days) + next,
        priority: 1,
      });
    } catch (err) {
      console.warn("ghostwatch: notification failed", err);
    }
  }
}

chrome.notifications.onClicked.addListener(async (id) => {
  const [platform, contractId] = id.split("/");
  const { serverUrl } = await getSettings();
  await chrome.tabs.create({ url: webViewUrl(serverUrl, { platform, contract_id: contractId }) });
  chrome.notifications.clear(id);
});

// --- the queue -------------------------------------------------------------------

function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

// The queue holds each entry's metadata; its capture ({html, responses}) is
// kept under its own key, so adding or removing one entry never rewrites every
// queued capture.
const pageKey = (id) => `snapshot:${id}`;

async function enqueue({ html, responses, ...meta }) {
  const entry = { id: newId(), ...meta };
  await chrome.storage.local.set({ [pageKey(entry.id)]: { html, responses: responses || [] } });
  await serial(async () => {
    const queue = await getLocal(KEYS.queue, []);
    queue.push(entry);
    await chrome.storage.local.set({ [KEYS.queue]: queue });
  });
  return entry;
}

async function dequeue(id) {
  await serial(async () => {
    const queue = await getLocal(KEYS.queue, []);
    await chrome.storage.local.set({ [KEYS.queue]: queue.filter((e) => e.id !== id) });
  });
  await chrome.storage.local.remove(pageKey(id));
}

let flushing = null;
let flushAgain = false;
let retryTimer = null;

/** Send the queue, oldest first.  Resolves to {sent, left, problem}. */
function flush() {
  if (flushing) {
    flushAgain = true;
    return flushing;
  }
  flushing = (async () => {
    let result;
    do {
      flushAgain = false;
      result = await flushOnce();
    } while (flushAgain && !result.problem);
    return result;
  })().finally(() => {
    flushing = null;
  });
  return flushing;
}

async function flushOnce() {
  const settings = await getSettings();
  let sent = 0;
  const answers = [];
  for (;;) {
    const queue = await getLocal(KEYS.queue, []);
    if (!queue.length) break;
    const entry = queue[0];
    let kept = await getLocal(pageKey(entry.id), null);
    if (typeof kept === "string") kept = { html: kept, responses: [] }; // queued by version 0.1
    if (!kept || typeof kept.html !== "string") {
      await dequeue(entry.id); // cannot happen: the capture is stored before its entry
      continue;
    }
    try {
      const answer = await request("/api/snapshots", {
        method: "POST",
        settings,
        body: { url: entry.url, html: kept.html, captured_at: entry.captured_at, responses: kept.responses || [] },
      });
      await dequeue(entry.id);
      sent += 1;
      answers.push(answer);
      await setTabBadge(entry.tabId, entry.url, answerBadge(answer));
      await notifyChanges(answer.page === "contract_list" ? answer.contracts || [] : [answer]);
    } catch (err) {
      if (!(err instanceof ServerProblem)) throw err;
      if (err.kind === "rejected") {
        // The server will never take this one (not a page, too large, a URL it
        // does not read): keep it out of the way of the others, and say so.
        await dequeue(entry.id);
        console.warn("ghostwatch: snapshot refused", err.status, err.detail);
        await setTabBadge(entry.tabId, entry.url, {
          text: "?", color: GREY, title: t("titleRejected", err.detail),
        });
        continue;
      }
      await setStatus(err.kind, err.detail);
      const left = await queueLength();
      const badge = { ...ERROR_BADGE, title: problemTitle(err.kind, left) };
      for (const e of await getLocal(KEYS.queue, [])) await setTabBadge(e.tabId, e.url, badge);
      await scheduleRetry();
      return { sent, left, problem: err.kind, detail: err.detail };
    }
  }
  await chrome.storage.local.set({ [KEYS.retry]: { attempt: 0 } });
  clearTimeout(retryTimer);
  await chrome.alarms.clear(FLUSH_ALARM);
  if (sent) await refreshSummary(settings);
  return { sent, left: 0, problem: null, answers };
}

async function scheduleRetry() {
  const { attempt = 0 } = await getLocal(KEYS.retry, {});
  const delay = Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_MAX_MS);
  await chrome.storage.local.set({ [KEYS.retry]: { attempt: attempt + 1 } });
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => flush(), delay);
  // If the worker is stopped before the timer fires, the alarm wakes it.
  await chrome.alarms.create(FLUSH_ALARM, { delayInMinutes: Math.max(delay, 30000) / 60000 });
}

// --- the summary -----------------------------------------------------------------

async function refreshSummary(settings) {
  try {
    const summary = await request("/api/summary", { settings: settings || (await getSettings()) });
    await chrome.storage.local.set({ [KEYS.summary]: summary });
    await setStatus("ok");
    await notifyChanges(summary.needing_action || []);
    return summary;
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    await setStatus(err.kind === "rejected" ? "error" : err.kind, err.detail);
    return null;
  }
}

/** The periodic job: send what is queued, then refresh the global badge. */
async function tick() {
  const result = await flush();
  if (!result.problem && !result.sent) await refreshSummary();
}

async function ensureAlarms() {
  if (!(await chrome.alarms.get(SUMMARY_ALARM))) {
    await chrome.alarms.create(SUMMARY_ALARM, { delayInMinutes: 0.1, periodInMinutes: SUMMARY_PERIOD_MINUTES });
  }
}

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === SUMMARY_ALARM || alarm.name === FLUSH_ALARM) tick();
});

chrome.runtime.onInstalled.addListener(async (details) => {
  await ensureAlarms();
  if (details.reason === "install") {
    const { token } = await getSettings();
    if (!token) chrome.runtime.openOptionsPage();
  }
  tick();
});

chrome.runtime.onStartup.addListener(() => {
  ensureAlarms();
  tick();
});

// --- capture and pairing -----------------------------------------------------------

/**
 * The responses of a capture that may go to the server: same-origin as the
 * page, each {url, status, content_type, body} with the right types.
 */
function cleanResponses(responses, pageUrl) {
  if (!Array.isArray(responses)) return [];
  let origin;
  try {
    origin = new URL(pageUrl).origin;
  } catch {
    return [];
  }
  const kept = [];
  for (const r of responses) {
    if (!r || typeof r !== "object" || typeof r.url !== "string" || typeof r.body !== "string") continue;
    if (!Number.isInteger(r.status)) continue;
    let where;
    try {
      where = new URL(r.url);
    } catch {
      continue;
    }
    if (where.origin !== origin) continue;
    kept.push({ url: r.url, status: r.status, content_type: String(r.content_type || ""), body: r.body });
  }
  return kept;
}

async function acceptSnapshot({ url, html, captured_at, responses }, tabId) {
  await enqueue({ url, html, captured_at, responses: cleanResponses(responses, url), tabId });
  return flush();
}

/**
 * Capture the page in ``tabId`` now (popup button) with the same routine as the
 * content script (capture.js); works without the content script too.
 */
async function captureTab(tabId) {
  const tab = await chrome.tabs.get(tabId);
  if (!isWatchedPage(tab.url)) return { ok: false, reason: "not_watched" };
  const target = { tabId };
  let result = null;
  try {
    await chrome.scripting.executeScript({ target, files: ["capture.js"] });
    [{ result }] = await chrome.scripting.executeScript({
      target,
      func: async () => {
        const got = await globalThis.ghostwatchCapture({ reason: "popup" });
        return { url: location.href, captured_at: got.captured_at, html: got.html, responses: got.responses };
      },
    });
  } catch (err) {
    console.warn("ghostwatch: capture.js failed, sending the page alone", err);
  }
  if (!result || typeof result.html !== "string") {
    [{ result }] = await chrome.scripting.executeScript({
      target,
      func: () => ({ url: location.href, html: document.documentElement.outerHTML }),
    });
  }
  if (!result || !isWatchedPage(result.url) || typeof result.html !== "string") {
    return { ok: false, reason: "not_watched" };
  }
  const outcome = await acceptSnapshot({
    url: result.url,
    html: result.html,
    captured_at: typeof result.captured_at === "string" ? result.captured_at : isoWithOffset(),
    responses: result.responses,
  }, tabId);
  return { ok: true, queued: Boolean(outcome.problem), problem: outcome.problem || null };
}

function waitForTabComplete(tabId, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      chrome.tabs.onUpdated.removeListener(listener);
      reject(new Error("timeout"));
    }, timeoutMs);
    function listener(id, info, tab) {
      if (id === tabId && info.status === "complete") {
        clearTimeout(timer);
        chrome.tabs.onUpdated.removeListener(listener);
        resolve(tab);
      }
    }
    chrome.tabs.onUpdated.addListener(listener);
    chrome.tabs.get(tabId).then((tab) => {
      if (tab.status === "complete" && tab.url && tab.url.startsWith("http")) {
        clearTimeout(timer);
        chrome.tabs.onUpdated.removeListener(listener);
        resolve(tab);
      }
    }, () => {});
  });
}

/**
 * Pair in one step: read the token from the web view's /pair page (opened in
 * a background tab unless one is open), check it against the server, keep it.
 */
async function pair(serverUrlInput) {
  const serverUrl = normaliseServerUrl(serverUrlInput) || (await getSettings()).serverUrl;
  const pairUrl = `${serverUrl}/pair`;
  try {
    await request("/api/health", { settings: { serverUrl, token: "" }, auth: false });
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    return { ok: false, problem: "down", detail: err.detail };
  }
  let created = null;
  const tabs = await chrome.tabs.query({ url: `${serverUrl}/pair*` });
  let tabId;
  if (tabs.length) {
    tabId = tabs[0].id;
    await chrome.tabs.reload(tabId);
  } else {
    created = await chrome.tabs.create({ url: pairUrl, active: false });
    tabId = created.id;
  }
  let token = "";
  try {
    await waitForTabComplete(tabId);
    const [{ result }] = await chrome.scripting.executeScript({
      target: { tabId },
      func: () => {
        const fromBody = document.body && document.body.dataset.ghostwatchToken;
        const code = document.getElementById("ghostwatch-token");
        return (fromBody || (code && code.textContent) || "").trim();
      },
    });
    token = result || "";
  } catch (err) {
    if (!created) return { ok: false, problem: "down", detail: String(err && err.message || err) };
    token = "";
  } finally {
    if (created && token) chrome.tabs.remove(created.id).catch(() => {});
  }
  if (!token) {
    // Leave the tab open: it shows the server's own page on how to get in.
    if (created) chrome.tabs.update(created.id, { active: true }).catch(() => {});
    return { ok: false, problem: "no_pair_token" };
  }
  const result = await testConnection(serverUrl, token);
  if (!result.ok) return result;
  await chrome.storage.local.set({ [KEYS.serverUrl]: serverUrl, [KEYS.token]: token });
  await chrome.storage.local.set({ [KEYS.retry]: { attempt: 0 } });
  tick();
  return result;
}

async function testConnection(serverUrlInput, tokenInput) {
  const current = await getSettings();
  const serverUrl = normaliseServerUrl(serverUrlInput) || current.serverUrl;
  const token = typeof tokenInput === "string" ? tokenInput.trim() : current.token;
  const settings = { serverUrl, token };
  try {
    const health = await request("/api/health", { settings, auth: false });
    const summary = await request("/api/summary", { settings });
    return { ok: true, version: health && health.version, needing: (summary.needing_action || []).length };
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    return { ok: false, problem: err.kind, detail: err.detail };
  }
}

async function popupData() {
  const result = await flush();
  const settings = await getSettings();
  const summary = result.problem ? null : await refreshSummary(settings);
  return {
    serverUrl: settings.serverUrl,
    status: await getLocal(KEYS.status, null),
    summary: summary || (await getLocal(KEYS.summary, null)),
    queued: await queueLength(),
    fresh: Boolean(summary),
  };
}

// --- messages from the content script, the popup and the options page ----------------

/**
 * Whether a message comes from a content script in a tab that shows ``url``
 * now.  sender.url is the URL the document was loaded with (history.pushState
 * does not change it); the tab's URL is the one it shows.
 */
function fromTabShowing(sender, url) {
  const tab = sender.tab;
  if (!tab || sender.frameId !== 0 || typeof url !== "string") return false;
  let origin;
  try {
    origin = new URL(url).origin;
  } catch {
    return false;
  }
  return samePage(tab.url, url) && (sender.origin || new URL(sender.url).origin) === origin;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message || typeof message.type !== "string") return false;
  const reply = (promise) => {
    promise.then(sendResponse, (err) => sendResponse({ ok: false, problem: "error", detail: String(err) }));
    return true; // answer asynchronously
  };
  switch (message.type) {
    case "snapshot": {
      // From content.js: only for a watched page, and only the page of the tab it runs in.
      if (!fromTabShowing(sender, message.url) || !isWatchedPage(message.url) ||
          typeof message.html !== "string" || typeof message.captured_at !== "string") {
        return false;
      }
      return reply(acceptSnapshot(message, sender.tab.id).then((r) => ({ ok: true, problem: r.problem })));
    }
    case "page": {
      // From content.js: its tab now shows this page (a load, a pushState).
      if (!fromTabShowing(sender, message.url)) return false;
      return reply(tabNavigated(sender.tab.id, message.url).then(() => ({ ok: true })));
    }
    case "capture-tab":
      return reply(captureTab(message.tabId));
    case "popup-data":
      return reply(popupData());
    case "pair":
      return reply(pair(message.serverUrl));
    case "test-connection":
      return reply(testConnection(message.serverUrl, message.token));
    case "flush":
      return reply(flush().then(async (r) => ({ ...r, answers: undefined, queued: await queueLength() })));
    case "settings-changed":
      return reply((async () => {
        await chrome.storage.local.set({ [KEYS.retry]: { attempt: 0 } });
        await tick();
        return { ok: true };
      })());
    default:
      return false;
  }
});

// The worker starts for many reasons (an event, after being stopped): make sure
// the schedule exists and the badge says the truth.
ensureAlarms();
renderGlobalBadge();
