// Shared by the service worker, the popup and the options page.

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8765";

// chrome.storage.local keys.  serverUrl and token are named by the server's
// contract (docs/extension.md); the others are the extension's own state.
export const KEYS = {
  serverUrl: "serverUrl",
  token: "token",
  queue: "queue", // snapshots not yet accepted by the server, oldest first
  parked: "parked", // snapshots the server failed on again and again: sent again only when asked
  status: "status", // {kind: ok|down|server_error|no_token|bad_token|error, detail, at}
  summary: "summary", // the last GET /api/summary answer
  states: "states", // the last GET /api/states answer: the table of states, colours, badges
  notified: "notified", // {key: time} of notifications already shown
  retry: "retry", // {attempt} of the queue's backoff
  summaryRetry: "summaryRetry", // {attempt} of the summary's backoff while the server is down
  dailyTime: "dailyTime", // "HH:MM" of the daily notification, "" for none
  pairing: "pairing", // {state: waiting|paired|failed, code, problem, at}
  lastDaily: "lastDaily", // {title, message, at} of the last daily notification
};

// Badges only the extension draws (no server answer to take them from).
export const ERROR_BADGE = { text: "!", color: "#6a1b9a" }; // the server cannot be used
export const PENDING_BADGE = { text: "…", color: "#9e9e9e" }; // a page being captured: no days yet
export const GREY = "#757575";

/** A server URL the extension may talk to: http://127.0.0.1[:port], no path. */
export function normaliseServerUrl(value) {
  let url;
  try {
    url = new URL(String(value || "").trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" || url.hostname !== "127.0.0.1") return null;
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "")) return null;
  if (url.search || url.hash) return null;
  return url.origin;
}

export async function getLocal(key, fallback) {
  const got = await chrome.storage.local.get(key);
  return got[key] === undefined ? fallback : got[key];
}

export async function getSettings() {
  const got = await chrome.storage.local.get([KEYS.serverUrl, KEYS.token]);
  return {
    serverUrl: normaliseServerUrl(got.serverUrl) || DEFAULT_SERVER_URL,
    token: typeof got.token === "string" ? got.token.trim() : "",
  };
}

/** ISO 8601 with the local offset, e.g. 2026-11-23T17:01:51.123+09:00. */
export function isoWithOffset(date = new Date()) {
  const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

export function t(key, ...subs) {
  return chrome.i18n.getMessage(key, subs.map(String)) || key;
}

// --- the server's table of states (GET /api/states, kept in storage) ----------------

/** The table's entry for ``state``, or null. */
export function stateEntry(table, state) {
  return ((table && table.states) || []).find((s) => s.state === state) || null;
}

export function stateLabel(table, state) {
  const entry = stateEntry(table, state);
  return entry ? entry.label : String(state);
}

export function platformLabel(table, platform) {
  return (table && table.platforms && table.platforms[platform]) || String(platform);
}

/**
 * Text from a page with its bidirectional controls and zero-width characters
 * shown as <U+202E> (a joiner inside an emoji kept), as the server shows them
 * (server.neutral.plain: its pattern comes with the table; without the table,
 * every format character).
 */
export function plain(table, value) {
  if (typeof value !== "string") return value;
  const pattern = new RegExp((table && table.invisible) || "\\p{Cf}", "gu");
  return value.replace(pattern, (ch, at) => {
    const low = /[\udc00-\udfff]/.test(value[at - 1] || "");
    const before = low ? value.slice(at - 2, at) : value[at - 1] || "";
    const after = at + 1 < value.length ? String.fromCodePoint(value.codePointAt(at + 1)) : "";
    const inEmoji = ch === "\u200d" && /\p{So}/u.test(after) && (/\p{So}|\p{Sk}/u.test(before) || before === "\ufe0f");
    return inEmoji ? ch : `<U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}>`;
  });
}

/**
 * The badge for the server's answer to a snapshot (or a verdict in a list):
 * {text, color}.  The server's badge; an inquiry's and a state's own badge
 * colour (要確認) from the table.
 */
export function verdictBadge(answer, table) {
  const badges = (table && table.badges) || {};
  if (!answer) return { text: "?", color: GREY };
  if (answer.page === "inquiry" && badges.inquiry) return { ...badges.inquiry };
  const badge = answer.badge || { text: "?", color: GREY };
  const entry = stateEntry(table, answer.state);
  return { text: String(badge.text), color: (entry && entry.badge_color) || badge.color };
}

/** The web view's page of one contract. */
export function webViewUrl(serverUrl, verdict) {
  if (!verdict || !verdict.platform || !verdict.contract_id) return `${serverUrl}/`;
  return `${serverUrl}/contracts/${encodeURIComponent(verdict.platform)}/${encodeURIComponent(verdict.contract_id)}`;
}
