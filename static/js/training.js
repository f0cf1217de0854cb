// Training (step 7): answer with the workbench's keys. y/n/u (or a label's hotkey) answers,
// Enter goes on to the next item, g opens or closes the guideline. Without this file every
// control is an ordinary button or link.
(function () {
  "use strict";

  function trainer() { return document.getElementById("trainer"); }

  function typing(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName.toLowerCase();
    return tag === "textarea" || tag === "select" ||
      (tag === "input" && target.type !== "checkbox" && target.type !== "radio");
  }

  function focusFirst() {
    var box = trainer();
    var first = box && box.querySelector("[data-autofocus]");
    if (first) first.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var box = trainer();
    if (!box) return;
    var key = event.key;
    if (key === "g") {
      var panel = document.getElementById("guideline-panel");
      if (panel) { panel.open = !panel.open; event.preventDefault(); }
      return;
    }
    if (key === "Enter") {
      // A focused button or link already acts on Enter by itself.
      var tag = event.target.tagName ? event.target.tagName.toLowerCase() : "";
      if (tag === "button" || tag === "a") return;
      var go = box.querySelector("[data-next], [data-submit]");
      if (go) { event.preventDefault(); go.click(); }
      return;
    }
    if (key.length !== 1) return;
    var control = box.querySelector('[data-hotkey="' + CSS.escape(key.toLowerCase()) + '"]');
    if (!control) return;
    event.preventDefault();
    if (control.type === "checkbox") {
      control.checked = !control.checked;
      control.focus();
    } else {
      control.click();
    }
  });

  // After htmx swaps in feedback or the next item, keep the keyboard where the work is.
  document.addEventListener("htmx:afterSettle", focusFirst);
  document.addEventListener("DOMContentLoaded", focusFirst);
})();
