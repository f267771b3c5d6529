// The review queue from the keyboard (desk/review.html lists the keys):
// j and k move between asks, a accepts and r refuses the ask in focus,
// Shift+A and Shift+R decide every ask suggested for its question. Each
// decision is an ordinary form post; the page comes back with the next ask
// in focus (its id after the #), so the keys go on where they left off.
"use strict";
(function () {
  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-review-item]"));
  }
  function show(item) {
    if (item) {
      item.focus();
      item.scrollIntoView({ block: "nearest" });
    }
  }
  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("[data-review-item]") : null;
  }
  var start = window.location.hash && document.getElementById(window.location.hash.slice(1));
  show(start && start.hasAttribute("data-review-item") ? start : items()[0]);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
      return;
    }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    var list = items();
    var item = current();
    var index = item ? list.indexOf(item) : -1;
    var key = (event.key || "").toLowerCase();
    if (key === "j" || key === "k") {
      event.preventDefault();
      show(list[key === "j" ? Math.min(index + 1, list.length - 1) : Math.max(index - 1, 0)]);
      return;
    }
    if ((key !== "a" && key !== "r") || !item) {
      return;
    }
    var scope = event.shiftKey ? item.closest("[data-review-group]") : item;
    var selector = 'button[data-key="' + key + '"]' + (event.shiftKey ? "[data-all]" : ":not([data-all])");
    var button = scope && scope.querySelector(selector);
    if (button) {
      event.preventDefault();
      button.form.requestSubmit(button);
    }
  });
})();
