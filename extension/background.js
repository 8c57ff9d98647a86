// ghostwatch service worker: every call to the local server goes from here.
//
// - A snapshot from the content script (or "capture now" in the popup) is first
//   appended to the queue in chrome.storage.local, then the queue is sent in
//   order; an entry leaves the queue only when the server has accepted it.
//   Server down or token refused: badge "!", a title saying what to do, retries
//   with backoff (a timer, and a chrome.alarms backstop that survives the
//   worker being stopped).  Nothing is lost.
// - The tab's badge shows the server's answer (days of silence, coloured),
//   set once the tab has finished loading.
// - The global badge shows GET /api/summary, on a chrome.alarms schedule.
// - A notification, once, when a contract becomes eligible or a deadline passes.

import {
  ERROR_BADGE, KEYS, getSettings, isWatchedPage, isoWithOffset, normaliseServerUrl,
  platformLabel, stateLabel, t, webViewUrl,
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
async function renderGlobalBadge() {
  const status = await getLocal(KEYS.status, null);
  const queued = await queueLength();
  if (status && ["down", "no_token", "bad_token"].includes(status.kind)) {
    await chrome.action.setBadgeText({ text: ERROR_BADGE.text });
    await chrome.action.setBadgeBackgroundColor({ color: ERROR_BADGE.color });
    await chrome.action.setTitle({ title: problemTitle(status.kind, queued) });
    return;
  }
  const summary = await getLocal(KEYS.summary, null);
  if (summary && summary.badge) {
    const needing = (summary.needing_action || []).length;
    await chrome.action.setBadgeText({ text: summary.badge.text === "0" ? "" : String(summary.badge.text) });
    await chrome.action.setBadgeBackgroundColor({ color: summary.badge.color });
    await chrome.action.setTitle({ title: t("titleSummary", needing) });
  } else {
    await chrome.action.setBadgeText({ text: "" });
    await chrome.action.setTitle({ title: t("titleIdle") });
  }
}

function answerBadge(answer) {
  const badge = answer.badge || { text: "?", color: "#757575" };
  let title;
  if (answer.state === "unreadable") {
    title = t("titleUnreadable", answer.unreadable_reason || "");
  } else if (answer.page === "contract_list") {
    title = t("titleList", badge.text);
  } else {
    const days = answer.silent_days === null || answer.silent_days === undefined ? "?" : answer.silent_days;
    title = t("titleContract", answer.title || answer.contract_id || "", stateLabel(answer.state), days);
  }
  return { text: String(badge.text), color: badge.color, title };
}

async function tabBadges() {
  return (await chrome.storage.session.get(TAB_BADGES))[TAB_BADGES] || {};
}

/** Remember ``badge`` for the tab showing ``url``, and show it once the tab has loaded. */
async function setTabBadge(tabId, url, badge) {
  if (tabId === undefined || tabId === null || tabId < 0) return;
  await serial(async () => {
    const all = await tabBadges();
    all[tabId] = { url, ...badge };
    await chrome.storage.session.set({ [TAB_BADGES]: all });
  });
  let tab;
  try {
    tab = await chrome.tabs.get(tabId);
  } catch {
    return; // closed
  }
  if (tab.status === "complete") await applyTabBadge(tab);
  // Still loading: tabs.onUpdated applies it when the load completes.
}

async function applyTabBadge(tab) {
  const stored = (await tabBadges())[tab.id];
  if (!stored || !tab.url || stripHash(tab.url) !== stripHash(stored.url)) return;
  try {
    await chrome.action.setBadgeText({ tabId: tab.id, text: stored.text });
    await chrome.action.setBadgeBackgroundColor({ tabId: tab.id, color: stored.color });
    await chrome.action.setTitle({ tabId: tab.id, title: stored.title });
  } catch {
    // The tab went away meanwhile.
  }
}

const stripHash = (url) => String(url).split("#")[0];

chrome.tabs.onUpdated.addListener((tabId, changeInfo, tab) => {
  if (changeInfo.status === "complete") applyTabBadge(tab);
});

chrome.tabs.onRemoved.addListener((tabId) => {
  serial(async () => {
    const all = await tabBadges();
    if (all[tabId]) {
      delete all[tabId];
      await chrome.storage.session.set({ [TAB_BADGES]: all });
    }
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

// The queue holds each entry's metadata; its page is kept under its own key,
// so adding or removing one entry never rewrites every queued page.
const pageKey = (id) => `snapshot:${id}`;

async function enqueue({ html, ...meta }) {
  const entry = { id: newId(), ...meta };
  await chrome.storage.local.set({ [pageKey(entry.id)]: html });
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
    const html = await getLocal(pageKey(entry.id), null);
    if (typeof html !== "string") {
      await dequeue(entry.id); // cannot happen: the page is stored before its entry
      continue;
    }
    try {
      const answer = await request("/api/snapshots", {
        method: "POST",
        settings,
        body: { url: entry.url, html, captured_at: entry.captured_at },
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
          text: "?", color: "#757575", title: t("titleRejected", err.detail),
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

async function acceptSnapshot({ url, html, captured_at }, tabId) {
  await enqueue({ url, html, captured_at, tabId });
  return flush();
}

/** Read the page in ``tabId`` now (popup button); works without the content script. */
async function captureTab(tabId) {
  const tab = await chrome.tabs.get(tabId);
  if (!isWatchedPage(tab.url)) return { ok: false, reason: "not_watched" };
  const [{ result }] = await chrome.scripting.executeScript({
    target: { tabId },
    func: () => ({ url: location.href, html: document.documentElement.outerHTML }),
  });
  if (!result || !isWatchedPage(result.url)) return { ok: false, reason: "not_watched" };
  const outcome = await acceptSnapshot({ ...result, captured_at: isoWithOffset() }, tabId);
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

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message || typeof message.type !== "string") return false;
  const reply = (promise) => {
    promise.then(sendResponse, (err) => sendResponse({ ok: false, problem: "error", detail: String(err) }));
    return true; // answer asynchronously
  };
  switch (message.type) {
    case "snapshot": {
      // From content.js: only for a watched page, and only the page of the tab it runs in.
      const tab = sender.tab;
      if (!tab || !isWatchedPage(message.url) || typeof message.html !== "string" ||
          stripHash(sender.url || "") !== stripHash(message.url)) {
        return false;
      }
      return reply(acceptSnapshot(message, tab.id).then((r) => ({ ok: true, problem: r.problem })));
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
