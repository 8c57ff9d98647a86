// ghostwatch web view: copy buttons, confirmations, print. Plain JS, no data from the server is evaluated.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.copyTarget) {
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "コピーしました";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(source); done(); });
    } else {
      fallbackCopy(source);
      done();
    }
  } else if (button.dataset.confirm) {
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  } else if (button.classList.contains("print")) {
    window.print();
  }
});

function fallbackCopy(source) {
  if (source.select) {
    source.select();
  } else {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  try { document.execCommand("copy"); } catch (e) { /* the text stays selected for the user to copy */ }
}

// The checklist's checkboxes save themselves (without JS, the form's 「保存」 button does).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.classList || !box.classList.contains("step-check")) return;
  if (!box.checked) {
    if (box.hasAttribute("data-shown-by-pages")) { box.checked = true; return; }  // the pages show it: nothing to undo
    if (box.dataset.confirmUncheck && !window.confirm(box.dataset.confirmUncheck)) { box.checked = true; return; }
  }
  if (box.form.requestSubmit) box.form.requestSubmit(); else box.form.submit();
});
