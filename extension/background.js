// ghostwatch service worker: every call to the local server goes from here.
// Its parts are modules; every listener is registered here, at the top level,
// so that Chrome finds it whenever it starts the worker for an event.
//
// - api.js: requests to the server (server down, server error, token refused);
// - queue.js: captures kept until the server has them, never blocking each other;
// - badges.js: each tab's badge for its page, and the global badge;
// - summary.js: the summary and the table of states, on the summary alarm;
// - notifications.js: eligible / deadline passed, and the daily 「今日やること」;
// - pairing.js: the token, after the user confirms this extension in the web view;
// - snapshots.js: captures from the content script and 「このページをいま記録」;
// - schedule.js: what the alarms do.
import { renderGlobalBadge, samePage, tabClosed, tabNavigated } from "./badges.js";
import { KEYS, getSettings } from "./common.js";
import { isWatchedPage } from "./pages.js";
import { notificationClicked, normaliseDailyTime, scheduleDaily } from "./notifications.js";
import { pair, testConnection } from "./pairing.js";
import { flush, queueState, resetRetry, sweep, unpark } from "./queue.js";
import { ensureAlarms, onAlarm, tick } from "./schedule.js";
import { acceptSnapshot, captureTab } from "./snapshots.js";
import { refreshSummary } from "./summary.js";

const UNHANDLED = "unhandled"; // chrome.storage.session: the last unhandled rejections, for diagnosis

/** Run ``promise`` for a listener: its failure is logged, never unhandled. */
function run(what, promise) {
  return Promise.resolve(promise).catch((err) => console.warn(`ghostwatch: ${what} failed`, err));
}

self.addEventListener("unhandledrejection", (event) => {
  const reason = String((event.reason && (event.reason.stack || event.reason.message)) || event.reason);
  console.error("ghostwatch: unhandled rejection", reason);
  chrome.storage.session.get(UNHANDLED).then((got) => {
    const list = [...(got[UNHANDLED] || []), reason].slice(-20);
    return chrome.storage.session.set({ [UNHANDLED]: list });
  }).catch(() => {});
});

chrome.tabs.onUpdated.addListener((tabId, changeInfo, tab) => {
  // changeInfo.url: a new page committed, or the URL changed without a load
  // (history.pushState).  tab.url is there for the platforms' pages (host
  // permissions) and undefined elsewhere, which is "another page" too.
  if ("url" in changeInfo || changeInfo.status === "loading" || changeInfo.status === "complete") {
    run("badge", tabNavigated(tabId, tab.url));
  }
});

chrome.tabs.onRemoved.addListener((tabId) => {
  run("badge", tabClosed(tabId));
});

chrome.notifications.onClicked.addListener((id) => {
  run("notification", notificationClicked(id));
});

chrome.alarms.onAlarm.addListener((alarm) => {
  run(`alarm ${alarm.name}`, onAlarm(alarm));
});

chrome.runtime.onInstalled.addListener((details) => {
  run("install", (async () => {
    await ensureAlarms();
    if (details.reason === "install") {
      const { token } = await getSettings();
      if (!token) await chrome.runtime.openOptionsPage();
    }
    await tick();
  })());
});

chrome.runtime.onStartup.addListener(() => {
  run("startup", ensureAlarms().then(tick));
});

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

/** What the popup shows: the connection, the summary, the queue. */
async function popupData() {
  const result = await flush();
  const settings = await getSettings();
  const summary = result.problem || !settings.token ? null : await refreshSummary(settings);
  const got = await chrome.storage.local.get([KEYS.status, KEYS.summary, KEYS.states]);
  return {
    serverUrl: settings.serverUrl,
    paired: Boolean(settings.token),
    status: got[KEYS.status] || null,
    summary: summary || got[KEYS.summary] || null,
    states: got[KEYS.states] || null,
    ...(await queueState()),
    fresh: Boolean(summary),
  };
}

async function setDailyTime(value) {
  const time = value === "" ? "" : normaliseDailyTime(value);
  if (time === null) return { ok: false, problem: "bad_time" };
  await chrome.storage.local.set({ [KEYS.dailyTime]: time });
  await scheduleDaily();
  const alarm = await chrome.alarms.get("daily");
  return { ok: true, time, next: alarm ? alarm.scheduledTime : null };
}

const HANDLERS = {
  "capture-tab": (m) => captureTab(m.tabId),
  "popup-data": () => popupData(),
  pair: (m) => pair(m.serverUrl),
  "test-connection": (m) => testConnection(m.serverUrl, m.token),
  flush: async () => ({ ...(await flush()), ...(await queueState()) }),
  "retry-parked": async (m) => ({ ...(await unpark(m.id)), ...(await queueState()) }),
  "daily-time": (m) => setDailyTime(m.time),
  "settings-changed": async () => {
    await resetRetry();
    await tick();
    return { ok: true };
  },
};

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message || typeof message.type !== "string") return false;
  const reply = (promise) => {
    promise.then(sendResponse, (err) => sendResponse({ ok: false, problem: "error", detail: String(err) }));
    return true; // answer asynchronously
  };
  if (message.type === "snapshot") {
    // From content.js: only for a watched page, and only the page of the tab it runs in.
    if (!fromTabShowing(sender, message.url) || !isWatchedPage(message.url) ||
        typeof message.html !== "string" || typeof message.captured_at !== "string") {
      return false;
    }
    return reply(acceptSnapshot(message, sender.tab.id).then((r) => ({ ok: true, problem: r.problem })));
  }
  if (message.type === "page") {
    // From content.js: its tab now shows this page (a load, a pushState).
    if (!fromTabShowing(sender, message.url)) return false;
    return reply(tabNavigated(sender.tab.id, message.url).then(() => ({ ok: true })));
  }
  // From the extension's own pages (the popup, the settings page): never a content script.
  if (sender.tab && sender.url && !sender.url.startsWith(chrome.runtime.getURL(""))) return false;
  const handler = HANDLERS[message.type];
  return handler ? reply(handler(message)) : false;
});

// The worker starts for many reasons (an event, after being stopped): captures
// a stopped worker left half-queued go back in the queue, the schedule exists,
// and the badge says the truth.
run("start", (async () => {
  const { requeued } = await sweep();
  await ensureAlarms();
  await renderGlobalBadge();
  if (requeued) await flush();
})());
