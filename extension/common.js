// Shared by the service worker, the popup and the options page.

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8765";

// chrome.storage.local keys.  serverUrl and token are named by the server's
// contract (docs/extension.md); the others are the extension's own state.
export const KEYS = {
  serverUrl: "serverUrl",
  token: "token",
  queue: "queue", // snapshots not yet accepted by the server, oldest first
  status: "status", // {kind: ok|down|no_token|bad_token|error, detail, at}
  summary: "summary", // the last GET /api/summary answer
  notified: "notified", // {key: time} of notifications already shown
  retry: "retry", // {attempt} of the backoff
};

// The badge shown when the server cannot be used (down, no token, wrong token):
// a colour no contract state uses.
export const ERROR_BADGE = { text: "!", color: "#6a1b9a" };

export const STATES = [
  "overdue", "eligible", "unconfirmed", "unreadable", "requested", "not_eligible", "nudge", "ok", "unknown", "closed",
];

// Badges the extension draws itself (the server's answer carries the others).
export const PENDING_BADGE = { text: "…", color: "#9e9e9e" }; // a page being captured: no days yet
export const INQUIRY_BADGE = { text: "—", color: "#607d8b" }; // a Lancers board that is no contract
export const UNCONFIRMED_COLOR = "#ef6c00"; // 要確認: silent 7+ days, the facts that decide unknown
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

// The pages ghostwatch reads (collector/lancers.py and collector/crowdworks.py
// match_url); content.js holds the same list.
const PAGES = [
  { host: "www.lancers.jp", path: /^\/mypage\/message\/?$/, query: /(?:^|&)boardId=\d+(?:&|$)/ },
  { host: "www.lancers.jp", path: /^\/mypage\/proposals\/all\/working(?:\/page:\d+)?\/?$/ },
  { host: "crowdworks.jp", path: /^\/contracts\/\d+\/?$/ },
  { host: "crowdworks.jp", path: /^\/e\/contracts\/?$/ },
];

/** Whether ``url`` is a page ghostwatch reads. */
export function isWatchedPage(url) {
  let parts;
  try {
    parts = new URL(url);
  } catch {
    return false;
  }
  if (parts.protocol !== "https:") return false;
  const query = parts.search.replace(/^\?/, "");
  return PAGES.some((p) => p.host === parts.hostname && p.path.test(parts.pathname) &&
    (!p.query || p.query.test(query)));
}

export function t(key, ...subs) {
  return chrome.i18n.getMessage(key, subs.map(String)) || key;
}

export function stateLabel(state) {
  return STATES.includes(state) ? t(`state_${state}`) : String(state);
}

export function platformLabel(platform) {
  return platform === "lancers" || platform === "crowdworks" ? t(`platform_${platform}`) : String(platform);
}

/**
 * The badge for the server's answer to a snapshot (or a verdict in a list):
 * {text, color}.  The server's badge, except for what the extension shows in
 * its own way: an inquiry (no contract, so no days) and 要確認 (the days, marked
 * as needing a look, in a colour of its own).
 */
export function verdictBadge(answer) {
  if (!answer) return { text: "?", color: GREY };
  if (answer.page === "inquiry") return { ...INQUIRY_BADGE };
  if (answer.state === "unconfirmed") {
    const days = answer.silent_days;
    const text = days === null || days === undefined ? "?" : `${days}${answer.silence_is_lower_bound ? "+" : ""}?`;
    return { text, color: UNCONFIRMED_COLOR };
  }
  const badge = answer.badge || { text: "?", color: GREY };
  return { text: String(badge.text), color: badge.color };
}

/** The web view's page of one contract. */
export function webViewUrl(serverUrl, verdict) {
  if (!verdict || !verdict.platform || !verdict.contract_id) return `${serverUrl}/`;
  return `${serverUrl}/contracts/${encodeURIComponent(verdict.platform)}/${encodeURIComponent(verdict.contract_id)}`;
}
