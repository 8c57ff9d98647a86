// The popup: what needs action, and "capture this page now".  It asks the
// service worker for everything (the worker makes the server calls).
import { platformLabel, stateLabel, t, verdictBadge, webViewUrl } from "./common.js";
import { localise } from "./i18n.js";

const $ = (id) => document.getElementById(id);

function daysText(v) {
  if (v.silent_days === null || v.silent_days === undefined) return t("popupDaysUnknown");
  return v.silence_is_lower_bound ? t("popupDaysLowerBound", v.silent_days) : t("popupDays", v.silent_days);
}

function problemText(kind, detail) {
  if (kind === "down") return t("statusServerDown");
  if (kind === "no_token") return t("statusNoToken");
  if (kind === "bad_token") return t("statusBadToken");
  return t("statusError", detail || kind);
}

function renderContracts(serverUrl, verdicts) {
  const list = $("contracts");
  list.replaceChildren();
  const template = $("contract-template");
  for (const v of verdicts) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.platform = v.platform;
    item.dataset.contractId = v.contract_id;
    item.dataset.state = v.state;
    const badge = verdictBadge(v);
    const days = item.querySelector(".days");
    days.textContent = badge.text;
    days.style.color = badge.color;
    const chip = item.querySelector(".chip");
    chip.textContent = stateLabel(v.state);
    chip.classList.add(v.state);
    item.querySelector(".platform").textContent = `${platformLabel(v.platform)} · ${daysText(v)}`;
    item.querySelector(".title").textContent = v.title || v.contract_id;
    item.querySelector(".client").textContent = v.client || "";
    const next = v.next_action && v.next_action.text;
    item.querySelector(".next").textContent =
      next || v.unreadable_reason || (v.state === "unconfirmed" ? t("popupUnconfirmedNext") : "");
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
  $("nothing").hidden = verdicts.length > 0;
}

async function load() {
  const data = await chrome.runtime.sendMessage({ type: "popup-data" });
  const status = $("status");
  $("dashboard").href = `${data.serverUrl}/`;
  const kind = data.status && data.status.kind;
  if (data.fresh) {
    status.textContent = t("statusConnected", data.serverUrl);
    status.className = "status ok";
  } else {
    status.textContent = problemText(kind || "down", data.status && data.status.detail);
    status.className = "status problem";
  }
  status.dataset.kind = data.fresh ? "ok" : kind || "";
  const queued = $("queued");
  queued.hidden = !data.queued;
  queued.textContent = data.queued ? t("popupQueued", data.queued) : "";
  // The server's needing_action: 要確認 (unconfirmed) included, most urgent first.
  const verdicts = (data.summary && data.summary.needing_action) || [];
  renderContracts(data.serverUrl, verdicts);
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
    out.textContent = t("popupCaptureFailed", String(err && err.message || err));
  } finally {
    button.disabled = false;
  }
}

localise();
$("capture").addEventListener("click", capture);
load().catch((err) => {
  $("status").textContent = t("statusError", String(err && err.message || err));
  $("status").className = "status problem";
});
