// The options page: pairing in one step, the server URL and token by hand,
// a connection test, and the queue of unsent pages.
import { DEFAULT_SERVER_URL, KEYS, getSettings, normaliseServerUrl, t } from "./common.js";
import { localise } from "./i18n.js";

const $ = (id) => document.getElementById(id);

function problemText(result) {
  if (result.problem === "down") return t("statusServerDown");
  if (result.problem === "no_token") return t("statusNoToken");
  if (result.problem === "bad_token") return t("statusBadToken");
  if (result.problem === "no_pair_token") return t("optionsPairNoToken");
  return t("statusError", result.detail || result.problem || "");
}

function show(id, text, ok) {
  const el = $(id);
  el.textContent = text;
  el.className = ok === undefined ? "" : ok ? "status ok" : "status problem";
  el.dataset.ok = ok === undefined ? "" : String(ok);
}

async function refresh() {
  const settings = await getSettings();
  $("serverUrl").value = settings.serverUrl;
  $("token").value = settings.token;
  const got = await chrome.storage.local.get([KEYS.queue, KEYS.status]);
  const queued = (got[KEYS.queue] || []).length;
  $("queue").textContent = t("optionsQueue", queued);
  $("send-now").disabled = queued === 0;
  const status = got[KEYS.status];
  if (!settings.token) show("status", t("statusNoToken"), false);
  else if (status && status.kind === "ok") show("status", t("statusConnected", settings.serverUrl), true);
  else if (status) show("status", problemText({ problem: status.kind, detail: status.detail }), false);
  else show("status", "");
}

function readForm() {
  const serverUrl = normaliseServerUrl($("serverUrl").value || DEFAULT_SERVER_URL);
  return { serverUrl, token: $("token").value.trim() };
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { serverUrl, token } = readForm();
  if (!serverUrl) return show("settings-result", t("optionsBadUrl"), false);
  await chrome.storage.local.set({ [KEYS.serverUrl]: serverUrl, [KEYS.token]: token });
  show("settings-result", t("optionsSaved"), true);
  await chrome.runtime.sendMessage({ type: "settings-changed" });
  await refresh();
});

$("test").addEventListener("click", async () => {
  const { serverUrl, token } = readForm();
  if (!serverUrl) return show("settings-result", t("optionsBadUrl"), false);
  const result = await chrome.runtime.sendMessage({ type: "test-connection", serverUrl, token });
  show("settings-result", result.ok ? t("optionsTestOk", result.version, result.needing) : problemText(result), result.ok);
});

$("pair").addEventListener("click", async () => {
  const { serverUrl } = readForm();
  if (!serverUrl) return show("pair-result", t("optionsBadUrl"), false);
  $("pair").disabled = true;
  show("pair-result", t("optionsPairing"));
  try {
    const result = await chrome.runtime.sendMessage({ type: "pair", serverUrl });
    show("pair-result", result.ok ? t("optionsPaired", result.version) : problemText(result), result.ok);
  } finally {
    $("pair").disabled = false;
    await refresh();
  }
});

$("send-now").addEventListener("click", async () => {
  await chrome.runtime.sendMessage({ type: "flush" });
  await refresh();
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && (changes[KEYS.queue] || changes[KEYS.status])) {
    // Keep what the user is typing: only the queue and status lines change.
    getSettings().then(async (settings) => {
      const got = await chrome.storage.local.get([KEYS.queue, KEYS.status]);
      const queued = (got[KEYS.queue] || []).length;
      $("queue").textContent = t("optionsQueue", queued);
      $("send-now").disabled = queued === 0;
      const status = got[KEYS.status];
      if (settings.token && status) {
        show("status", status.kind === "ok" ? t("statusConnected", settings.serverUrl)
          : problemText({ problem: status.kind, detail: status.detail }), status.kind === "ok");
      }
    });
  }
});

localise();
refresh();
