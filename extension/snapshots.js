// Captures coming in: from the content script (its tab's page) or from the
// popup's 「このページをいま記録」 (capture.js run in the tab by the worker).
import { isoWithOffset } from "./common.js";
import { isWatchedPage } from "./pages.js";
import { enqueue, flush } from "./queue.js";

/**
 * The responses of a capture that may go to the server: same-origin as the
 * page, each {url, status, content_type, body} with the right types.
 */
function cleanResponses(responses, pageUrl) {
  if (!Array.isArray(responses)) return [];
  let origin;
  try {
    origin = new URL(pageUrl).origin;
  } catch {
    return [];
  }
  const kept = [];
  for (const r of responses) {
    if (!r || typeof r !== "object" || typeof r.url !== "string" || typeof r.body !== "string") continue;
    if (!Number.isInteger(r.status)) continue;
    let where;
    try {
      where = new URL(r.url);
    } catch {
      continue;
    }
    if (where.origin !== origin) continue;
    kept.push({ url: r.url, status: r.status, content_type: String(r.content_type || ""), body: r.body });
  }
  return kept;
}

export async function acceptSnapshot({ url, html, captured_at, responses }, tabId) {
  await enqueue({ url, html, captured_at, responses: cleanResponses(responses, url), tabId });
  return flush();
}

/**
 * Capture the page in ``tabId`` now (popup button) with the same routine as the
 * content script (capture.js); works without the content script too.
 */
export async function captureTab(tabId) {
  const tab = await chrome.tabs.get(tabId);
  if (!isWatchedPage(tab.url)) return { ok: false, reason: "not_watched" };
  const target = { tabId };
  let result = null;
  try {
    await chrome.scripting.executeScript({ target, files: ["capture.js"] });
    [{ result }] = await chrome.scripting.executeScript({
      target,
      func: async () => {
        const got = await globalThis.ghostwatchCapture({ reason: "popup" });
        return { url: location.href, captured_at: got.captured_at, html: got.html, responses: got.responses };
      },
    });
  } catch (err) {
    console.warn("ghostwatch: capture.js failed, sending the page alone", err);
  }
  if (!result || typeof result.html !== "string") {
    [{ result }] = await chrome.scripting.executeScript({
      target,
      func: () => ({ url: location.href, html: document.documentElement.outerHTML }),
    });
  }
  if (!result || !isWatchedPage(result.url) || typeof result.html !== "string") {
    return { ok: false, reason: "not_watched" };
  }
  const outcome = await acceptSnapshot({
    url: result.url,
    html: result.html,
    captured_at: typeof result.captured_at === "string" ? result.captured_at : isoWithOffset(),
    responses: result.responses,
  }, tabId);
  return { ok: true, queued: Boolean(outcome.problem), problem: outcome.problem || null };
}
