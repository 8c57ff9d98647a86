// Which pages ghostwatch reads, for the service worker: capture.js's kind(),
// the one place the extension knows its URL patterns (content.js uses it too).
import "./capture.js";

/** "lancers_thread" | "lancers_list" | "crowdworks_contract" | "crowdworks_list" | null */
export function pageKind(url) {
  try {
    return globalThis.ghostwatchCapture.kind(new URL(url));
  } catch {
    return null;
  }
}

/** Whether ``url`` is a page ghostwatch reads. */
export const isWatchedPage = (url) => pageKind(url) !== null;
