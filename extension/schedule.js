// What the alarms do: send the queue and refresh the summary (the summary
// alarm, the queue's retry alarm), and the daily notification.
import { DAILY_ALARM, notifyDaily, scheduleDaily } from "./notifications.js";
import { FLUSH_ALARM, flush } from "./queue.js";
import { SUMMARY_ALARM, SUMMARY_PERIOD_MINUTES, refreshSummary } from "./summary.js";

/** The periodic job: send what is queued, then refresh the global badge. */
export async function tick() {
  const result = await flush();
  if (!result.problem && !result.sent) await refreshSummary();
}

/** The alarms exist (the worker starts for many reasons, after being stopped too). */
export async function ensureAlarms() {
  if (!(await chrome.alarms.get(SUMMARY_ALARM))) {
    await chrome.alarms.create(SUMMARY_ALARM, { delayInMinutes: 0.1, periodInMinutes: SUMMARY_PERIOD_MINUTES });
  }
  if (!(await chrome.alarms.get(DAILY_ALARM))) await scheduleDaily();
}

export async function daily() {
  try {
    const summary = await refreshSummary();
    if (summary) await notifyDaily(summary);
  } finally {
    await scheduleDaily(); // tomorrow, at the time set
  }
}

export function onAlarm(alarm) {
  if (alarm.name === SUMMARY_ALARM || alarm.name === FLUSH_ALARM) return tick();
  if (alarm.name === DAILY_ALARM) return daily();
  return Promise.resolve();
}
