// The settings page: pairing with the server, the token by hand, the daily
// notification's time, and the pages waiting to be sent (parked ones with 「再送」).
import { DEFAULT_SERVER_URL, KEYS, getLocal, getSettings, normaliseServerUrl, t } from "./common.js";
import { localise } from "./i18n.js";
import { DEFAULT_DAILY_TIME } from "./notifications.js";
import { $, problemText, show } from "./ui.js";

const send = (message) => chrome.runtime.sendMessage(message);

/** A failure of the page itself (the worker did not answer): said, never unhandled. */
function failed(err) {
  show("status", t("statusError", String((err && err.message) || err)), false);
}

/** ``handler`` for ``type`` events on ``el``, its failure said. */
function on(el, type, handler) {
  el.addEventListener(type, (event) => handler(event).catch(failed));
}

/** The status line, the pairing state and the queue (never the fields the user types in). */
async function refresh() {
  const settings = await getSettings();
  const got = await chrome.storage.local.get([KEYS.queue, KEYS.parked, KEYS.status, KEYS.pairing]);
  const status = got[KEYS.status];
  if (!settings.token) show("status", t("statusNoToken"), false);
  else if (status && status.kind === "ok") show("status", t("statusConnected", settings.serverUrl), true);
  else if (status) show("status", problemText(status.kind, status.detail), false);
  else show("status", "");
  showPairing(got[KEYS.pairing]);
  showQueue(got[KEYS.queue] || [], got[KEYS.parked] || []);
}

const PAIRING_MINUTES = 5; // a pairing request's life on the server (server/pairing.py)

function showPairing(pairing) {
  if (pairing && pairing.state === "waiting" && Date.now() - Date.parse(pairing.at) > PAIRING_MINUTES * 60000) {
    pairing = { ...pairing, state: "failed", problem: "expired" }; // the worker stopped waiting
  }
  const codeLine = $("pair-code-line");
  codeLine.hidden = !(pairing && pairing.state === "waiting");
  if (!pairing) return;
  if (pairing.state === "waiting") {
    $("pair-code").textContent = pairing.code;
    show("pair-result", t("optionsPairWaiting", pairing.code));
  } else if (pairing.state === "paired") {
    show("pair-result", t("optionsPaired", pairing.version || ""), true);
  } else if (pairing.state === "failed") {
    show("pair-result", problemText(pairing.problem, pairing.detail), false);
  }
}

function showQueue(queue, parked) {
  $("queue").textContent = t("optionsQueue", queue.length);
  $("send-now").disabled = queue.length === 0;
  $("parked-section").hidden = parked.length === 0;
  const list = $("parked");
  list.replaceChildren();
  for (const entry of parked) {
    const item = $("parked-template").content.firstElementChild.cloneNode(true);
    localise(item);
    item.dataset.id = entry.id;
    item.querySelector(".url").textContent = entry.url;
    item.querySelector(".when").textContent = t("optionsParkedWhen", entry.captured_at, entry.attempts);
    item.querySelector(".error").textContent = entry.lastError || "";
    on(item.querySelector(".retry"), "click", async (event) => {
      event.target.disabled = true;
      await send({ type: "retry-parked", id: entry.id });
      await refresh();
    });
    list.append(item);
  }
}

/** The fields, from what is saved: once at the start and after saving (what the user types stays). */
async function fillFields() {
  const settings = await getSettings();
  $("serverUrl").value = settings.serverUrl;
  $("token").value = settings.token;
  const daily = await getLocal(KEYS.dailyTime, DEFAULT_DAILY_TIME);
  $("dailyTime").value = daily;
}

const typedServerUrl = () => normaliseServerUrl($("serverUrl").value || DEFAULT_SERVER_URL);

on($("settings"), "submit", async (event) => {
  event.preventDefault();
  const serverUrl = typedServerUrl();
  if (!serverUrl) return show("settings-result", t("optionsBadUrl"), false);
  await chrome.storage.local.set({ [KEYS.serverUrl]: serverUrl, [KEYS.token]: $("token").value.trim() });
  show("settings-result", t("optionsSaved"), true);
  await send({ type: "settings-changed" });
  await refresh();
});

on($("test"), "click", async () => {
  const serverUrl = typedServerUrl();
  if (!serverUrl) return show("settings-result", t("optionsBadUrl"), false);
  const result = await send({ type: "test-connection", serverUrl, token: $("token").value.trim() });
  show("settings-result", result.ok ? t("optionsTestOk", result.version, result.needing)
    : problemText(result.problem, result.detail), result.ok);
});

on($("pair"), "click", async () => {
  const serverUrl = typedServerUrl();
  if (!serverUrl) return show("pair-result", t("optionsBadUrl"), false);
  $("pair").disabled = true;
  show("pair-result", t("optionsPairing"));
  try {
    const result = await send({ type: "pair", serverUrl });
    if (!result.ok) show("pair-result", problemText(result.problem, result.detail), false);
    // Waiting: the confirmation page is open; the result comes through storage.
  } finally {
    $("pair").disabled = false;
  }
});

on($("daily"), "submit", async (event) => {
  event.preventDefault();
  const result = await send({ type: "daily-time", time: $("dailyTime").value });
  if (!result.ok) return show("daily-result", t("optionsDailyBad"), false);
  show("daily-result", result.time ? t("optionsDailySaved", result.time) : t("optionsDailyOff"), true);
});

on($("send-now"), "click", async () => {
  await send({ type: "flush" });
  await refresh();
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== "local") return;
  if ([KEYS.queue, KEYS.parked, KEYS.status, KEYS.pairing, KEYS.token].some((k) => changes[k])) refresh().catch(failed);
  if (changes[KEYS.token] && changes[KEYS.token].newValue) $("token").value = changes[KEYS.token].newValue;
});

localise();
fillFields().then(refresh).catch(failed);
