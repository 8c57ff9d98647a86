// Pairing with the server: the token comes only after the user confirms this
// extension in the web view (server/pairing.py).
//
// 1. POST {server}/pair/extension/requests (with the browser's web view session;
//    the server answers only this extension's origin): a request id and a code;
// 2. open the web view's confirmation page, where the user checks the code and
//    presses 「この拡張機能を接続」;
// 3. ask POST /pair/extension/claim until the server hands over the token
//    (once), check it against /api/summary, keep it.
// The state is kept under KEYS.pairing for the settings page to show.
import { ServerProblem, request } from "./api.js";
import { KEYS, getSettings, isoWithOffset, normaliseServerUrl } from "./common.js";
import { resetRetry } from "./queue.js";
import { tick } from "./schedule.js";

const CLAIM_EVERY_MS = 1000;

const setPairing = (state) => chrome.storage.local.set({ [KEYS.pairing]: { ...state, at: isoWithOffset() } });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let current = null; // the request being claimed: a new pairing replaces it

export async function testConnection(serverUrlInput, tokenInput) {
  const saved = await getSettings();
  const serverUrl = normaliseServerUrl(serverUrlInput) || saved.serverUrl;
  const token = typeof tokenInput === "string" ? tokenInput.trim() : saved.token;
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

/**
 * Start pairing with the server at ``serverUrlInput``: {ok: true, code} once the
 * web view's confirmation page is open (the result comes later, in
 * KEYS.pairing), or {ok: false, problem}.
 */
export async function pair(serverUrlInput) {
  const serverUrl = normaliseServerUrl(serverUrlInput);
  if (!serverUrl) return { ok: false, problem: "bad_url" };
  const settings = { serverUrl, token: "" };
  let started;
  try {
    await request("/api/health", { settings, auth: false });
    started = await request("/pair/extension/requests", { method: "POST", settings, auth: false, cookies: true });
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    // 401: this browser has no web view session (the ?token= address never opened here).
    const problem = err.kind === "bad_token" ? "no_session" : err.kind;
    await setPairing({ state: "failed", problem, detail: err.detail, serverUrl });
    return { ok: false, problem, detail: err.detail };
  }
  const tab = await chrome.tabs.create({ url: serverUrl + started.confirm_url, active: true });
  await setPairing({ state: "waiting", code: started.code, serverUrl });
  const mine = { id: started.request };
  current = mine;
  claim(mine, settings, started, tab.id).catch(async (err) => {
    await setPairing({ state: "failed", problem: "error", detail: String((err && err.message) || err), serverUrl });
  });
  return { ok: true, code: started.code };
}

async function claim(mine, settings, started, tabId) {
  const deadline = Date.now() + started.expires_in * 1000;
  while (current === mine && Date.now() < deadline) {
    await sleep(CLAIM_EVERY_MS);
    await chrome.storage.session.set({ pairingClaimedAt: Date.now() }); // an extension call: the worker stays
    let answer;
    try {
      answer = await request("/pair/extension/claim", {
        method: "POST", settings, auth: false, cookies: true, body: { request: mine.id },
      });
    } catch (err) {
      if (!(err instanceof ServerProblem)) throw err;
      if (err.kind === "down") continue; // the server restarting: ask again
      break; // unknown or expired
    }
    if (!answer || !answer.token) continue; // 202: waiting for the user
    const result = await testConnection(settings.serverUrl, answer.token);
    if (!result.ok) {
      await setPairing({ state: "failed", problem: result.problem, detail: result.detail, serverUrl: settings.serverUrl });
      return;
    }
    await chrome.storage.local.set({ [KEYS.serverUrl]: settings.serverUrl, [KEYS.token]: answer.token });
    await resetRetry();
    await setPairing({ state: "paired", version: result.version, serverUrl: settings.serverUrl });
    chrome.tabs.remove(tabId).catch(() => {});
    await tick();
    return;
  }
  if (current === mine) await setPairing({ state: "failed", problem: "expired", serverUrl: settings.serverUrl });
}
