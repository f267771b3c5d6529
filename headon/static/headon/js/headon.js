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
})();
