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
})();
