// ghostwatch web view: the pairing token, kept in this origin's localStorage.
//
// A visit with ?token=… is redirected to the same page with the token in the
// URL's fragment (#ghostwatch-pair=…), which no server ever receives.  This
// script moves it to localStorage (scoped by scheme, host and port, unlike
// cookies) and drops it from the address bar.  The pairing page (/pair) shows
// it from there, for the extension to read; the server never puts the API token
// in an answer to a cookie.  Logging out forgets it.
(function () {
  var KEY = "ghostwatch-token";
  var match = /^#ghostwatch-pair=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (match) {
    try { window.localStorage.setItem(KEY, match[1]); } catch (e) { /* storage off: paste the token by hand */ }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var token = null;
  try { token = window.localStorage.getItem(KEY); } catch (e) { token = null; }
  var slot = document.getElementById("ghostwatch-token");
  if (slot && token) {
    slot.textContent = token;
    var missing = document.getElementById("token-missing");
    if (missing) missing.hidden = true;
    var found = document.getElementById("token-found");
    if (found) found.hidden = false;
  }
  var forms = document.querySelectorAll("form[data-forget-token]");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function () {
      try { window.localStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    });
  }
})();
