// Every request to the local server goes through request(): the parsed JSON
// answer, or a ServerProblem saying what went wrong.
import { getSettings } from "./common.js";

const REQUEST_TIMEOUT_MS = 30000;

export class ServerProblem extends Error {
  // kind: down (no answer: not running, network) | server_error (5xx) |
  // no_token | bad_token (401) | rejected (400/413/422: never taken) | error (anything else)
  constructor(kind, detail = "", status = 0) {
    super(`${kind}: ${detail}`);
    this.kind = kind;
    this.detail = detail;
    this.status = status;
  }
}

/** The server cannot be used at all (every request would fail the same way). */
export const serverUnusable = (kind) => ["down", "no_token", "bad_token"].includes(kind);

export async function request(path, { method = "GET", body, settings, auth = true, cookies = false } = {}) {
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
      // Only pairing sends the web view's session cookie (the server's pages need it).
      credentials: cookies ? "include" : "omit",
      cache: "no-store",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ServerProblem("down", String((err && err.message) || err));
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
  if (res.status >= 500) throw new ServerProblem("server_error", detail, res.status);
  if ([400, 413, 422].includes(res.status)) throw new ServerProblem("rejected", detail, res.status);
  throw new ServerProblem("error", detail, res.status);
}

/** ``fn()``'s value, or ``fallback`` for a ServerProblem (other errors go on). */
export async function orProblem(fn, onProblem) {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ServerProblem)) throw err;
    return onProblem(err);
  }
}
