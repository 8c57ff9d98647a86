// The server's summary (the global badge, the popup, the daily notification)
// and its table of states, refreshed on the summary alarm.  While the server is
// down the alarm backs off (1, 2, 4 … minutes, at most SUMMARY_MAX_MINUTES).
import { ServerProblem, request } from "./api.js";
import { setStatus } from "./badges.js";
import { KEYS, getLocal, getSettings } from "./common.js";
import { notifyChanges } from "./notifications.js";

export const SUMMARY_ALARM = "summary";
export const SUMMARY_PERIOD_MINUTES = 1;
const SUMMARY_MAX_MINUTES = 30;
const STATES_MAX_AGE_MS = 60 * 60 * 1000;

/** The summary alarm every minute, or later and later while the server is down. */
export async function scheduleSummary(failed) {
  const { attempt = 0 } = await getLocal(KEYS.summaryRetry, {});
  const next = failed ? attempt + 1 : 0;
  const period = Math.min(SUMMARY_PERIOD_MINUTES * 2 ** next, SUMMARY_MAX_MINUTES);
  if (next !== attempt) await chrome.storage.local.set({ [KEYS.summaryRetry]: { attempt: next } });
  const alarm = await chrome.alarms.get(SUMMARY_ALARM);
  if (!alarm || alarm.periodInMinutes !== period) {
    await chrome.alarms.create(SUMMARY_ALARM, { delayInMinutes: period, periodInMinutes: period });
  }
}

/** The table of states from the server, when it is missing or an hour old. */
export async function refreshStates(settings) {
  const kept = await getLocal(KEYS.states, null);
  if (kept && kept.fetched_at && Date.now() - kept.fetched_at < STATES_MAX_AGE_MS) return;
  try {
    const table = await request("/api/states", { settings });
    await chrome.storage.local.set({ [KEYS.states]: { ...table, fetched_at: Date.now() } });
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    console.warn("ghostwatch: no table of states", err.kind, err.detail);
  }
}

export async function refreshSummary(settings) {
  settings = settings || (await getSettings());
  try {
    const summary = await request("/api/summary", { settings });
    await refreshStates(settings);
    await chrome.storage.local.set({ [KEYS.summary]: summary });
    await setStatus("ok");
    await scheduleSummary(false);
    await notifyChanges(summary.needing_action || []);
    return summary;
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    await setStatus(err.kind === "rejected" ? "error" : err.kind, err.detail);
    if (err.kind === "down" || err.kind === "server_error") await scheduleSummary(true);
    return null;
  }
}
