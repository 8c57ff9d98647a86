// Fills every element marked data-i18n="key" (its text) or
// data-i18n-placeholder / data-i18n-title (attributes) from _locales.
export function localise(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = chrome.i18n.getMessage(el.dataset.i18n) || el.textContent;
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = chrome.i18n.getMessage(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.title = chrome.i18n.getMessage(el.dataset.i18nTitle);
  }
  // The messages are English for an English UI, Japanese otherwise (default_locale).
  document.documentElement.lang = chrome.i18n.getMessage("@@ui_locale").startsWith("en") ? "en" : "ja";
}
