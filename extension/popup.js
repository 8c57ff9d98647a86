// The popup: 「このページをいま記録」 at the top, then what needs action.  It
// asks the service worker for everything (the worker makes the server calls).
import { plain, platformLabel, stateEntry, stateLabel, t, verdictBadge, webViewUrl } from "./common.js";
import { localise } from "./i18n.js";
import { $, problemText } from "./ui.js";

function daysText(v) {
  if (v.silent_days === null || v.silent_days === undefined) return t("popupDaysUnknown");
  return v.silence_is_lower_bound ? t("popupDaysLowerBound", v.silent_days) : t("popupDays", v.silent_days);
}

/** The next step in one line (the server's next_action.line: today apart from later). */
function nextLine(v) {
  const action = v.next_action || {};
  return action.line || action.text || v.unreadable_reason || "";
}

function renderContracts(serverUrl, verdicts, table) {
  const list = $("contracts");
  list.replaceChildren();
  const template = $("contract-template");
  for (const v of verdicts) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.platform = v.platform;
    item.dataset.contractId = v.contract_id;
    item.dataset.state = v.state;
    const badge = verdictBadge(v, table);
    const days = item.querySelector(".days");
    days.textContent = badge.text;
    days.style.color = badge.color;
    const chip = item.querySelector(".chip");
    chip.textContent = stateLabel(table, v.state);
    const entry = stateEntry(table, v.state);
    if (entry) {
      chip.style.background = entry.color;
      chip.style.color = entry.text_color;
      chip.title = entry.help;
    }
    item.querySelector(".platform").textContent = `${platformLabel(table, v.platform)} · ${daysText(v)}`;
    // Text from the pages, its invisible controls shown (as the web view does).
    item.querySelector(".title").textContent = plain(table, v.title || v.contract_id);
    item.querySelector(".client").textContent = plain(table, v.client || "");
    item.querySelector(".next").textContent = plain(table, nextLine(v));
    const contract = item.querySelector(".open-contract");
    if (v.url) {
      contract.href = v.url;
      contract.textContent = t("popupOpenContract");
    } else {
      contract.remove();
    }
    const web = item.querySelector(".open-web");
    web.href = webViewUrl(serverUrl, v);
    web.textContent = t("popupOpenWeb");
    list.append(item);
  }
}

async function load() {
  const data = await chrome.runtime.sendMessage({ type: "popup-data" });
  const status = $("status");
  $("dashboard").href = `${data.serverUrl}/`;
  const kind = !data.paired ? "no_token" : data.fresh ? "ok" : (data.status && data.status.kind) || "down";
  status.textContent = kind === "ok" ? t("statusConnected", data.serverUrl)
    : problemText(kind, data.status && data.status.detail);
  status.className = kind === "ok" ? "status ok" : "status problem";
  status.dataset.kind = kind;
  const queued = $("queued");
  const waiting = data.queued + data.parked.length;
  queued.hidden = !waiting;
  queued.textContent = !waiting ? "" : data.parked.length ? t("popupQueuedParked", data.queued, data.parked.length)
    : t("popupQueued", data.queued);
  // Not paired: nothing is known, so nothing is said about what needs action.
  const verdicts = (data.paired && data.summary && data.summary.needing_action) || [];
  renderContracts(data.serverUrl, verdicts, data.states);
  $("needs-heading").hidden = !data.paired;
  // 「いま対応が必要な契約はありません」 only from a summary the server just gave.
  $("nothing").hidden = !(data.paired && data.fresh && verdicts.length === 0);
}

async function capture() {
  const button = $("capture");
  const out = $("capture-result");
  button.disabled = true;
  try {
    const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
    const result = await chrome.runtime.sendMessage({ type: "capture-tab", tabId: tab && tab.id });
    if (result.ok) out.textContent = result.queued ? t("popupCaptureQueued") : t("popupCaptureSent");
    else if (result.reason === "not_watched") out.textContent = t("popupCaptureNotHere");
    else out.textContent = t("popupCaptureFailed", result.detail || result.problem || "");
    await load();
  } catch (err) {
    out.textContent = t("popupCaptureFailed", String((err && err.message) || err));
  } finally {
    button.disabled = false;
  }
}

localise();
$("capture").addEventListener("click", () => {
  capture(); // catches what it starts
});
load().catch((err) => {
  $("status").textContent = t("statusError", String((err && err.message) || err));
  $("status").className = "status problem";
});
