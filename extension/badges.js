// The toolbar badge: each tab's own badge for the page it shows, and the global
// badge (the summary, or "!" when the server cannot be used) everywhere else.
//
// A tab's badge belongs to the page (URL) it was made for.  A tab that moves
// to another page (a load, or history.pushState in Lancers' message app) loses
// it at once: "…" while the new page is being captured, the global badge on a
// page ghostwatch does not read.  So a contract never shows another's days.
// Kept in chrome.storage.session (the worker may be stopped between events).
import { serverUnusable } from "./api.js";
import {
  ERROR_BADGE, GREY, KEYS, PENDING_BADGE, getLocal, isoWithOffset, plain, stateLabel, t, verdictBadge,
} from "./common.js";
import { isWatchedPage } from "./pages.js";
import { serial } from "./serial.js";

const TAB_BADGES = "tabBadges"; // chrome.storage.session: {tabId: {url, text, color, title}}

export const queueLength = async () => (await getLocal(KEYS.queue, [])).length;

export async function setStatus(kind, detail = "") {
  await chrome.storage.local.set({ [KEYS.status]: { kind, detail, at: isoWithOffset() } });
  await renderGlobalBadge();
}

export function problemTitle(kind, queued, detail = "") {
  if (kind === "no_token") return t("titleNoToken", queued);
  if (kind === "bad_token") return t("titleBadToken", queued);
  if (kind === "server_error") return t("titleServerError", detail, queued);
  return t("titleServerDown", queued);
}

/** The badge every tab shows unless it has its own: the summary, or "!". */
async function globalBadge() {
  const status = await getLocal(KEYS.status, null);
  const queued = await queueLength();
  if (status && serverUnusable(status.kind)) {
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

export async function renderGlobalBadge() {
  const badge = await globalBadge();
  await chrome.action.setBadgeText({ text: badge.text });
  await chrome.action.setBadgeBackgroundColor({ color: badge.color });
  await chrome.action.setTitle({ title: badge.title });
  // Tabs that left a page of their own show the global badge: keep them in step.
  for (const [tabId, stored] of Object.entries(await tabBadges())) {
    if (stored.global) await showTabBadge(Number(tabId), null, badge);
  }
}

const daysOf = (answer) => (answer.silent_days === null || answer.silent_days === undefined ? "?" : answer.silent_days);

/** The tab's badge for the server's answer to its page: {text, color, title}. */
export async function answerBadge(answer) {
  const table = await getLocal(KEYS.states, null);
  const badge = verdictBadge(answer, table);
  const name = plain(table, answer.title || answer.contract_id || "");
  let title;
  if (answer.page === "inquiry") title = t("titleInquiry", plain(table, answer.title || answer.thread_id || ""));
  else if (answer.state === "unreadable") title = t("titleUnreadable", plain(table, answer.unreadable_reason || ""));
  else if (answer.page === "contract_list") title = t("titleList", badge.text);
  else if (answer.state === "unconfirmed") title = t("titleUnconfirmed", name, daysOf(answer));
  else title = t("titleContract", name, stateLabel(table, answer.state), daysOf(answer));
  return { ...badge, title };
}

const stripHash = (url) => String(url || "").split("#")[0];
export const samePage = (a, b) => Boolean(a) && Boolean(b) && stripHash(a) === stripHash(b);

async function tabBadges() {
  return (await chrome.storage.session.get(TAB_BADGES))[TAB_BADGES] || {};
}

// What happens to one tab's badge happens in order (its events, its answers),
// so a late step for the page it left never overtakes the step for the new one.
const tabChains = new Map();
function inTabOrder(tabId, fn) {
  const run = (tabChains.get(tabId) || Promise.resolve()).then(fn, fn);
  const settled = run.catch((err) => console.warn("ghostwatch: badge step failed", err));
  tabChains.set(tabId, settled);
  settled.then(() => {
    if (tabChains.get(tabId) === settled) tabChains.delete(tabId);
  });
  return settled;
}

function updateTabBadges(fn) {
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
export function setTabBadge(tabId, url, badge) {
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

/** The server-problem badge on the tabs of the pages still waiting to be sent. */
export async function showProblemOnQueued(kind, detail) {
  const queue = await getLocal(KEYS.queue, []);
  const badge = { ...ERROR_BADGE, title: problemTitle(kind, queue.length, detail) };
  for (const e of queue) await setTabBadge(e.tabId, e.url, badge);
}

/**
 * The tab shows ``url`` now (a load committed, a pushState, the content script
 * starting).  Its badge for another page goes at once; a watched page shows "…"
 * until its answer comes.
 */
export function tabNavigated(tabId, url) {
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
  await showTabBadge(tabId, next); // on screen first: not a moment more of the other page's days
  await updateTabBadges((all) => {
    all[tabId] = next;
  });
}

export function tabClosed(tabId) {
  return updateTabBadges((all) => {
    delete all[tabId];
  });
}
