// ghostwatch web view: copy buttons, confirmations, print. Plain JS, no data from the server is evaluated.
document.addEventListener("click", function (event) {
  // 「コピーしてスレッドを開く」: a link to the thread that copies the text first.  The copy is
  // synchronous (the new tab takes the focus an asynchronous clipboard write needs);
  // the link then opens as any link does (and without JS it just opens).
  var link = event.target.closest("a[data-copy-target]");
  if (link) {
    var text = document.getElementById(link.dataset.copyTarget);
    if (text) { copyNow(text); link.textContent = link.textContent.replace(/^(コピーしました · )?/, "コピーしました · "); }
    return;
  }
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

function copyNow(source) {
  var start = source.selectionStart, end = source.selectionEnd;
  fallbackCopy(source);
  if (source.setSelectionRange && start !== undefined) source.setSelectionRange(start, end);
}

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

// On a narrow screen the timeline scrolls inside its frame: show its latest end (now) first.
(function () {
  var figures = document.querySelectorAll("figure.timeline-picture");
  for (var i = 0; i < figures.length; i++) figures[i].scrollLeft = figures[i].scrollWidth;
})();
