// Desktop notifications: a contract that became eligible or whose deadline
// passed (once per contract and date), and the daily 「今日やること」 at the
// time the user set, from the server's summary.
import { DEFAULT_SERVER_URL, KEYS, getLocal, getSettings, plain, platformLabel, t, webViewUrl } from "./common.js";
import { serial } from "./serial.js";

const NOTIFIED_KEEP = 500;
export const DAILY_ALARM = "daily";
export const DAILY_ID = "daily";
export const DEFAULT_DAILY_TIME = "09:00";
const DAILY_LINES = 5;

async function show(id, options) {
  try {
    await chrome.notifications.create(id, {
      type: "basic",
      iconUrl: chrome.runtime.getURL("icons/icon128.png"),
      priority: 1,
      ...options,
    });
  } catch (err) {
    console.warn("ghostwatch: notification failed", err);
  }
}

const nextLine = (v) => (v.next_action && (v.next_action.line || v.next_action.text)) || "";
// A contract's title (from the page) as it may be shown.
const titleOf = (table, v) => plain(table, v.title || v.contract_id);

export async function notifyChanges(verdicts) {
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
  const table = await getLocal(KEYS.states, null);
  for (const [key, v] of fresh) {
    const days = v.silent_days === null || v.silent_days === undefined ? "?" : v.silent_days;
    const next = nextLine(v);
    await show(key, {
      title: t(v.state === "eligible" ? "notifyEligibleTitle" : "notifyOverdueTitle"),
      message: t("notifyBody", titleOf(table, v), platformLabel(table, v.platform), days) +
        (next ? `\n${next}` : ""),
    });
  }
}

/** 「今日やること N件」 from a summary: each contract's next step in one line. */
export async function notifyDaily(summary) {
  const needing = (summary && summary.needing_action) || [];
  if (!needing.length) return false;
  const table = await getLocal(KEYS.states, null);
  const lines = needing.slice(0, DAILY_LINES).map((v) => `${titleOf(table, v)}: ${nextLine(v)}`);
  if (needing.length > DAILY_LINES) lines.push(t("notifyDailyMore", needing.length - DAILY_LINES));
  const shown = { title: t("notifyDailyTitle", needing.length), message: lines.join("\n") };
  await show(DAILY_ID, { ...shown, priority: 2 });
  await chrome.storage.local.set({ [KEYS.lastDaily]: { ...shown, at: new Date().toISOString() } });
  return true;
}

/** "HH:MM" as it may be kept ("" turns the daily notification off). */
export function normaliseDailyTime(value) {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(String(value || "").trim());
  return m ? `${m[1].padStart(2, "0")}:${m[2]}` : null;
}

/** The next instant (ms) the clock shows ``time`` ("HH:MM"), after ``now``. */
export function nextDaily(time, now = Date.now()) {
  const [hh, mm] = time.split(":").map(Number);
  const at = new Date(now);
  at.setHours(hh, mm, 0, 0);
  if (at.getTime() <= now) at.setDate(at.getDate() + 1);
  return at.getTime();
}

export async function dailyTime() {
  const kept = await getLocal(KEYS.dailyTime, DEFAULT_DAILY_TIME);
  return kept === "" ? "" : normaliseDailyTime(kept) || DEFAULT_DAILY_TIME;
}

/** The daily alarm at the time set (each firing schedules the next: the clock, not a period). */
export async function scheduleDaily() {
  const time = await dailyTime();
  await chrome.alarms.clear(DAILY_ALARM);
  if (time) await chrome.alarms.create(DAILY_ALARM, { when: nextDaily(time) });
}

export async function notificationClicked(id) {
  const { serverUrl } = await getSettings();
  if (id === DAILY_ID) {
    await chrome.tabs.create({ url: `${serverUrl || DEFAULT_SERVER_URL}/` });
  } else {
    const [platform, contractId] = id.split("/");
    await chrome.tabs.create({ url: webViewUrl(serverUrl, { platform, contract_id: contractId }) });
  }
  await chrome.notifications.clear(id);
}
