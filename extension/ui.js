// Helpers shared by the popup and the settings page.
import { t } from "./common.js";

export const $ = (id) => document.getElementById(id);

/** What to tell the user about a problem kind (a ServerProblem's, or pairing's). */
export function problemText(kind, detail) {
  switch (kind) {
    case "down":
      return t("statusServerDown");
    case "server_error":
      return t("statusServerError", detail || "");
    case "no_token":
      return t("statusNoToken");
    case "bad_token":
      return t("statusBadToken");
    case "no_session":
      return t("optionsPairNoSession");
    case "expired":
      return t("optionsPairExpired");
    case "bad_url":
      return t("optionsBadUrl");
    default:
      return t("statusError", detail || kind || "");
  }
}

/** Show ``text`` in the element ``id``: ok (true/false) colours it, undefined leaves it plain. */
export function show(id, text, ok) {
  const el = $(id);
  el.textContent = text;
  el.className = ok === undefined ? "" : ok ? "status ok" : "status problem";
  el.dataset.ok = ok === undefined ? "" : String(ok);
}
