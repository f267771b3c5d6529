// headon's own behaviour. No inline scripts anywhere: the CSP forbids them.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
      target.form.submit();
    }
  });
  // A button that cannot be taken back asks first (data-confirm). Without
  // JavaScript the form simply goes through, as before.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // A table wider than the screen scrolls sideways; keyboard users can
  // scroll it only if it can take focus (WCAG 2.1.1, axe's
  // scrollable-region-focusable). Checked on load, after every htmx swap
  // and when the window changes size.
  function focusableWhenScrolling() {
    document.querySelectorAll(".table").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth) {
        table.setAttribute("tabindex", "0");
      } else if (table.getAttribute("tabindex") === "0") {
        table.removeAttribute("tabindex");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", focusableWhenScrolling);
  document.addEventListener("htmx:afterSettle", focusableWhenScrolling);
  window.addEventListener("resize", focusableWhenScrolling);
})();
