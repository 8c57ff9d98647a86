// The queue of captures: nothing lost, nothing blocked.
//
// Every capture is first stored (its HTML and responses under their own key
// snapshot:<id>, with what is needed to queue it again; its entry appended to
// the list `queue`), then the queue is sent oldest first.  A capture leaves only
// when the server has answered for it:
// - 200: sent;
// - 400/413/422: the server will never take it: dropped, and its tab says why;
// - 5xx for this page while the server answers /api/health: this page's
//   fault: its attempts are counted, the pages behind it go on, and after
//   MAX_ATTEMPTS it is parked (listed on the settings page, sent again only
//   when asked);
// - no answer, 5xx everywhere, no token or a refused one: the server cannot be
//   used: the queue waits with backoff (2, 4, 8 … s, at most 60 s; an alarm
//   wakes the worker if Chrome stopped it).
import { ServerProblem, request } from "./api.js";
import { problemTitle, setStatus, setTabBadge, showProblemOnQueued, answerBadge } from "./badges.js";
import { ERROR_BADGE, GREY, KEYS, getLocal, getSettings, t } from "./common.js";
import { notifyChanges } from "./notifications.js";
import { serial } from "./serial.js";
import { refreshStates, refreshSummary } from "./summary.js";

export const FLUSH_ALARM = "flush";
export const MAX_ATTEMPTS = 4;
const BACKOFF_BASE_MS = 2000;
const BACKOFF_MAX_MS = 60000;
const PREFIX = "snapshot:";
const pageKey = (id) => PREFIX + id;

function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export async function enqueue({ html, responses, url, captured_at, tabId }) {
  const entry = { id: newId(), url, captured_at, tabId, attempts: 0 };
  await serial(async () => {
    // The capture first, with its entry's data: a worker stopped before the
    // entry is written leaves a capture the sweep queues again.
    await chrome.storage.local.set({ [pageKey(entry.id)]: { html, responses: responses || [], entry } });
    const queue = await getLocal(KEYS.queue, []);
    queue.push(entry);
    await chrome.storage.local.set({ [KEYS.queue]: queue });
  });
  return entry;
}

/** Take an entry out of the queue (or the parked list) for good. */
function dequeue(id) {
  return serial(async () => {
    // The capture first: a worker stopped before the entry goes leaves an entry
    // without a capture, which the next pass (or the sweep) drops; never a
    // capture that would be sent twice.
    await chrome.storage.local.remove(pageKey(id));
    const { queue = [], parked = [] } = await chrome.storage.local.get([KEYS.queue, KEYS.parked]);
    await chrome.storage.local.set({
      [KEYS.queue]: queue.filter((e) => e.id !== id),
      [KEYS.parked]: parked.filter((e) => e.id !== id),
    });
  });
}

/** One more failed attempt for ``id``: its count, and parked when it reached MAX_ATTEMPTS. */
function failedAttempt(id, detail) {
  return serial(async () => {
    const { queue = [], parked = [] } = await chrome.storage.local.get([KEYS.queue, KEYS.parked]);
    const entry = queue.find((e) => e.id === id);
    if (!entry) return 0;
    entry.attempts = (entry.attempts || 0) + 1;
    entry.lastError = detail;
    if (entry.attempts >= MAX_ATTEMPTS) {
      parked.push(entry);
      await chrome.storage.local.set({ [KEYS.queue]: queue.filter((e) => e !== entry), [KEYS.parked]: parked });
    } else {
      await chrome.storage.local.set({ [KEYS.queue]: queue });
    }
    return entry.attempts;
  });
}

/** A parked page back in the queue (the settings page's 「再送」), all of them without ``id``. */
export async function unpark(id) {
  await serial(async () => {
    const { queue = [], parked = [] } = await chrome.storage.local.get([KEYS.queue, KEYS.parked]);
    const back = parked.filter((e) => id === undefined || e.id === id);
    for (const e of back) {
      e.attempts = 0;
      delete e.lastError;
    }
    await chrome.storage.local.set({
      [KEYS.queue]: [...queue, ...back],
      [KEYS.parked]: parked.filter((e) => !back.includes(e)),
    });
  });
  return flush();
}

/**
 * At the worker's start: captures whose entry was never written (the worker
 * stopped in enqueue) go back in the queue; entries whose capture is gone
 * (stopped in dequeue) leave it.
 */
export function sweep() {
  return serial(async () => {
    const keys = chrome.storage.local.getKeys
      ? await chrome.storage.local.getKeys()
      : Object.keys(await chrome.storage.local.get(null));
    const captures = new Set(keys.filter((k) => k.startsWith(PREFIX)).map((k) => k.slice(PREFIX.length)));
    const { queue = [], parked = [] } = await chrome.storage.local.get([KEYS.queue, KEYS.parked]);
    const known = new Set([...queue, ...parked].map((e) => e.id));
    const keptQueue = queue.filter((e) => captures.has(e.id));
    const keptParked = parked.filter((e) => captures.has(e.id));
    const orphans = [...captures].filter((id) => !known.has(id));
    for (const id of orphans) {
      const kept = await getLocal(pageKey(id), null);
      if (kept && kept.entry && kept.entry.id === id && typeof kept.html === "string") {
        keptQueue.push({ ...kept.entry, attempts: 0 });
      } else {
        await chrome.storage.local.remove(pageKey(id));
      }
    }
    if (orphans.length || keptQueue.length !== queue.length || keptParked.length !== parked.length) {
      await chrome.storage.local.set({ [KEYS.queue]: keptQueue, [KEYS.parked]: keptParked });
    }
    return { requeued: keptQueue.length - queue.filter((e) => captures.has(e.id)).length };
  });
}

let flushing = null;
let again = null;
let retryTimer = null;

/**
 * Send the queue, oldest first.  Resolves to {sent, left, problem}.  Asked
 * while a pass runs, it runs one more pass after it (the page that asked may
 * have come after the running pass looked at the queue): never dropped.
 */
export function flush() {
  if (!flushing) {
    flushing = flushOnce().finally(() => {
      flushing = null;
    });
    return flushing;
  }
  if (!again) {
    const next = () => {
      again = null;
      return flush();
    };
    again = flushing.then(next, next); // one more pass for every page asked for meanwhile
  }
  return again;
}

/** Whether the server answers at all (a 5xx for one page, or for everything). */
async function serverHealthy(settings) {
  try {
    await request("/api/health", { settings, auth: false });
    return true;
  } catch {
    return false;
  }
}

async function flushOnce() {
  const settings = await getSettings();
  if (settings.token && (await getLocal(KEYS.queue, [])).length) {
    await refreshStates(settings); // the answers' badges and titles use the table
  }
  let sent = 0;
  const failed = new Set(); // pages the server failed on in this pass
  let lastFailure = null;
  for (;;) {
    const queue = await getLocal(KEYS.queue, []);
    const entry = queue.find((e) => !failed.has(e.id));
    if (!entry) break;
    const kept = await getLocal(pageKey(entry.id), null);
    if (!kept || typeof kept.html !== "string") {
      await dequeue(entry.id); // its capture is gone (a worker stopped mid-dequeue)
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
      await setTabBadge(entry.tabId, entry.url, await answerBadge(answer));
      await notifyChanges(answer.page === "contract_list" ? answer.contracts || [] : [answer]);
    } catch (err) {
      if (!(err instanceof ServerProblem)) throw err;
      if (err.kind === "rejected") {
        // The server will never take this one (not a page, too large, a URL it
        // does not read): out of the way of the others, and its tab says why.
        await dequeue(entry.id);
        console.warn("ghostwatch: snapshot refused", err.status, err.detail);
        await setTabBadge(entry.tabId, entry.url, { text: "?", color: GREY, title: t("titleRejected", err.detail) });
        continue;
      }
      if ((err.kind === "server_error" || err.kind === "error") && (await serverHealthy(settings))) {
        // The server is there but fails on this page: count it, go on with the others.
        failed.add(entry.id);
        lastFailure = err;
        const attempts = await failedAttempt(entry.id, err.detail);
        const badge = attempts >= MAX_ATTEMPTS
          ? { text: "?", color: GREY, title: t("titleParked", attempts, err.detail) }
          : { ...ERROR_BADGE, title: problemTitle("server_error", attempts, err.detail) };
        await setTabBadge(entry.tabId, entry.url, badge);
        continue;
      }
      const kind = err.kind === "server_error" || err.kind === "error" ? "down" : err.kind;
      await setStatus(kind, err.detail);
      await showProblemOnQueued(kind, err.detail);
      await scheduleRetry();
      return { sent, left: (await getLocal(KEYS.queue, [])).length, problem: kind, detail: err.detail };
    }
  }
  const left = (await getLocal(KEYS.queue, [])).length;
  if (left) {
    await scheduleRetry(); // pages the server failed on: again later
  } else {
    await chrome.storage.local.set({ [KEYS.retry]: { attempt: 0 } });
    clearTimeout(retryTimer);
    await chrome.alarms.clear(FLUSH_ALARM);
  }
  if (sent) await refreshSummary(settings);
  return lastFailure
    ? { sent, left, problem: "server_error", detail: lastFailure.detail }
    : { sent, left, problem: null };
}

async function scheduleRetry() {
  const { attempt = 0 } = await getLocal(KEYS.retry, {});
  const delay = Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_MAX_MS);
  await chrome.storage.local.set({ [KEYS.retry]: { attempt: attempt + 1 } });
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    flush().catch((err) => console.warn("ghostwatch: retry failed", err));
  }, delay);
  // If the worker is stopped before the timer fires, the alarm wakes it.
  await chrome.alarms.create(FLUSH_ALARM, { delayInMinutes: Math.max(delay, 30000) / 60000 });
}

export async function resetRetry() {
  await chrome.storage.local.set({ [KEYS.retry]: { attempt: 0 } });
}

export const queueState = async () => {
  const { queue = [], parked = [] } = await chrome.storage.local.get([KEYS.queue, KEYS.parked]);
  return { queued: queue.length, parked };
};
