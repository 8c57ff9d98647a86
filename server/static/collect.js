// ghostwatch 「更新と自動収集」: shows a run's progress without a reload, by polling
// /collect/status while a run is going.  Plain JS; the server's texts are set as text only.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  var url = box.dataset.statusUrl;

  function item(part) {
    var li = document.createElement("li");
    li.dataset.platform = part.platform;
    li.dataset.state = part.state;
    if (part.exit_code !== null && part.exit_code !== 0) li.className = "failed";
    var name = document.createElement("strong");
    name.textContent = part.label;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = part.text;
    li.append(name, ": ", text);
    if (part.error) {
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = "（詳細: " + part.error + "）";
      li.append(" ", detail);
    }
    return li;
  }

  function render(status) {
    var run = status.run;
    var summary = document.getElementById("run-summary");
    var list = document.getElementById("run-platforms");
    if (run) {
      summary.textContent = run.kind_text + "（" + run.started_text + " に開始）: " +
        (run.done ? "終わりました。" : "実行中です…");
      list.replaceChildren.apply(list, run.platforms.map(item));
    }
    document.getElementById("run-done").hidden = !(run && run.done);
    var button = document.getElementById("collect-now");
    if (button) button.disabled = status.busy;
    var schedule = document.getElementById("schedule-text");
    if (schedule) schedule.textContent = status.schedule.text;
    box.dataset.busy = status.busy ? "1" : "0";
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (status) {
        render(status);
        setTimeout(poll, status.busy ? 1000 : 15000);  // a scheduled run shows up too
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  setTimeout(poll, box.dataset.busy === "1" ? 500 : 15000);
})();
