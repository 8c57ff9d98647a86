// ghostwatch web view: 「この拡張機能を接続」 (/pair/extension).  Approves the
// extension's pairing request with the API token this origin keeps in its
// localStorage (static/session.js put it there): a cookie alone cannot approve.
(function () {
  "use strict";
  var section = document.getElementById("pair-request");
  var button = document.getElementById("pair-approve");
  var result = document.getElementById("pair-result");
  if (!section || !button) return;
  function say(text, ok) {
    result.textContent = text;
    result.className = ok ? "ok" : "error";
    result.dataset.ok = String(ok);
  }
  button.addEventListener("click", function () {
    var token = null;
    try { token = window.localStorage.getItem("ghostwatch-token"); } catch (e) { token = null; }
    if (!token) {
      say("このブラウザにはトークンが保存されていません。ghostwatch serve が表示した URL（?token=… 付き）を" +
          "このブラウザでもう一度開いてから、拡張機能の設定画面で「サーバーと接続」を押し直してください。", false);
      return;
    }
    button.disabled = true;
    fetch("/api/pairing/approve", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({ request: section.dataset.request }),
      credentials: "same-origin",
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (answer) {
        if (res.ok) {
          say("接続しました。拡張機能がトークンを受け取ります。このタブは閉じてかまいません。", true);
        } else {
          button.disabled = false;
          say(answer.message || ("接続できませんでした（HTTP " + res.status + "）。"), false);
        }
      });
    }, function () {
      button.disabled = false;
      say("サーバーに接続できませんでした。ghostwatch serve が動いているか確かめてください。", false);
    });
  });
})();
