// Proof of work for forms: a form with
//   <input type="hidden" name="pow" data-pow-url="/antibot/challenge/apply">
// fetches a challenge, solves it in a Web Worker (pow-worker.js) and puts
// the base64 solution in that input. Until then its submit buttons are
// disabled and read the form's data-pow-checking text; if solving fails
// they read data-pow-failed and are enabled again, and the server explains.
// No inline scripts: the CSP forbids them.
"use strict";
(function () {
  // Only true while this file runs, so read it now.
  var script = document.currentScript;
  var workerUrl = script && script.src ? script.src.replace(/pow\.js(\?.*)?$/, "pow-worker.js$1") : null;
  var RETRIES = 3;

  function buttonsOf(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return (el instanceof HTMLButtonElement && el.type === "submit") ||
        (el instanceof HTMLInputElement && (el.type === "submit" || el.type === "image"));
    });
  }

  function label(button, text) {
    if (!("powLabel" in button.dataset)) {
      button.dataset.powLabel = button instanceof HTMLInputElement ? button.value : button.textContent;
    }
    if (button instanceof HTMLInputElement) button.value = text;
    else button.textContent = text;
  }

  function restore(button) {
    if (!("powLabel" in button.dataset)) return;
    if (button instanceof HTMLInputElement) button.value = button.dataset.powLabel;
    else button.textContent = button.dataset.powLabel;
    delete button.dataset.powLabel;
  }

  function setState(form, state) {
    form.dataset.powState = state;
    var checking = state === "checking";
    buttonsOf(form).forEach(function (button) {
      button.disabled = checking;
      if (checking && form.dataset.powChecking) label(button, form.dataset.powChecking);
      else if (state === "failed" && form.dataset.powFailed) label(button, form.dataset.powFailed);
      else restore(button);
    });
    form.setAttribute("aria-busy", checking ? "true" : "false");
  }

  // The same loop as pow-worker.js, on this thread, for when no worker can
  // be started. Each digest is awaited, so the page keeps responding.
  async function solveHere(challenge) {
    var encoder = new TextEncoder();
    for (var number = 0; number <= challenge.maxnumber; number++) {
      var digest = await crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + number));
      var hex = Array.prototype.map.call(new Uint8Array(digest), function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      }).join("");
      if (hex === challenge.challenge) return number;
    }
    return null;
  }

  function solve(challenge) {
    var worker;
    try {
      worker = new Worker(workerUrl);
    } catch (error) {
      return solveHere(challenge);
    }
    return new Promise(function (resolve) {
      worker.onmessage = function (event) {
        worker.terminate();
        resolve(event.data.number);
      };
      worker.onerror = function (event) {
        event.preventDefault();
        worker.terminate();
        resolve(solveHere(challenge));
      };
      worker.postMessage(challenge);
    });
  }

  function encode(challenge, number) {
    return btoa(JSON.stringify({
      algorithm: challenge.algorithm,
      challenge: challenge.challenge,
      number: number,
      salt: challenge.salt,
      signature: challenge.signature,
    }));
  }

  // Solve again a minute before the challenge expires, for slow form fillers.
  function refreshDelay(challenge) {
    var match = /[?&]expires=(\d+)/.exec(challenge.salt);
    if (!match) return null;
    var ms = Number(match[1]) * 1000 - Date.now() - 60000;
    return Math.min(Math.max(ms, 30000), 2147483647);
  }

  async function run(input, attempt) {
    var form = input.form;
    var round = (Number(input.dataset.powRound) || 0) + 1;
    input.dataset.powRound = String(round);
    input.value = "";
    setState(form, "checking");
    try {
      var response = await fetch(input.dataset.powUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error("challenge: HTTP " + response.status);
      var challenge = await response.json();
      var number = await solve(challenge);
      if (number === null) throw new Error("challenge: no solution");
      if (input.dataset.powRound !== String(round)) return; // a newer round took over
      input.value = encode(challenge, number);
      setState(form, "solved");
      var delay = refreshDelay(challenge);
      if (delay !== null) {
        window.setTimeout(function () {
          if (input.dataset.powRound === String(round)) run(input, 0);
        }, delay);
      }
    } catch (error) {
      if (input.dataset.powRound !== String(round)) return;
      if (attempt < RETRIES) {
        window.setTimeout(function () { run(input, attempt + 1); }, 1000 * Math.pow(2, attempt));
      } else {
        setState(form, "failed");
      }
    }
  }

  function start() {
    document.querySelectorAll("input[data-pow-url]").forEach(function (input) {
      if (!input.form) return;
      input.form.addEventListener("submit", function (event) {
        // Enter in a text field submits even with the button disabled.
        if (input.form.dataset.powState === "checking") event.preventDefault();
      });
      run(input, 0);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  // A page restored from the back-forward cache holds a solution that was
  // already spent: solve a fresh one.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("input[data-pow-url]").forEach(function (input) {
      if (input.form) run(input, 0);
    });
  });
})();
