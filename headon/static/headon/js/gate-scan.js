// Ticket scanning at the gate with the phone's rear camera:
//   <div data-gate-scan data-msg-denied="..." data-msg-unavailable="...">
//     <video muted playsinline></video> <canvas hidden></canvas>
//     <p data-gate-scan-status role="status" hidden></p>
//     <form ...><input name="code"> <button>Check</button></form>
//   </div>
// Load jsQR (static/headon/vendor/jsqr-*/jsQR.js) before this file, both
// with <script src defer>: no inline scripts, the CSP forbids them. About
// eight frames a second are decoded; a code that is read goes into the input
// and the form is submitted (htmx sees an ordinary submit event). Where the
// browser has a native BarcodeDetector (Chrome on Android) it is used, as it
// is faster and reads glare and small codes better; elsewhere jsQR reads a
// frame drawn onto the hidden canvas. The camera stops when the page is
// hidden and starts again when it is shown. The container's
// data-gate-scan-state says starting, scanning, denied, unavailable or
// stopped, for the style sheet; the server supplies the translated messages.
"use strict";
(function () {
  var FRAME_MS = 125; // about 8 frames a second: fast enough at a queue, easy on the battery
  var PAUSE_MS = 1500; // after a read, so the form's answer is seen before the next code
  var REPEAT_MS = 3000; // the same code again within this is the same ticket still in view
  var MAX_SIDE = 640; // jsQR's time grows with pixels; a ticket fills much of the frame

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    }, function () { return null; });
  }

  function submit(form) {
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  }

  function setUp(container) {
    var video = container.querySelector("video");
    var canvas = container.querySelector("canvas");
    var input = container.querySelector("input[name=code]");
    var status = container.querySelector("[data-gate-scan-status]");
    var form = input && input.form;
    if (!video || !input || !form) return;
    var stream = null, timer = null, detector = null, starting = false;
    var pausedUntil = 0, lastCode = "", lastAt = 0;
    var context = canvas && canvas.getContext("2d", { willReadFrequently: true });

    function show(state, message) {
      container.dataset.gateScanState = state;
      video.hidden = state === "denied" || state === "unavailable";
      if (!status) return;
      status.textContent = message || "";
      status.hidden = !message;
    }

    function stop(state) {
      clearTimeout(timer);
      timer = null;
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.srcObject = null;
      if (state) show(state);
    }

    function read(code) {
      var now = Date.now();
      if (code === lastCode && now - lastAt < REPEAT_MS) {
        lastAt = now; // still in front of the camera: keep ignoring it
        return;
      }
      lastCode = code;
      lastAt = now;
      pausedUntil = now + PAUSE_MS;
      input.value = code;
      submit(form);
    }

    function decodeFrame() {
      if (detector) {
        return detector.detect(video).then(function (codes) {
          return codes.length ? codes[0].rawValue : null;
        });
      }
      if (!context || typeof window.jsQR !== "function") return Promise.resolve(null);
      var scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      var width = Math.round(video.videoWidth * scale), height = Math.round(video.videoHeight * scale);
      if (canvas.width !== width) canvas.width = width;
      if (canvas.height !== height) canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      var found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, {
        inversionAttempts: "dontInvert", // tickets are dark on light; halves the work per frame
      });
      return Promise.resolve(found ? found.data : null);
    }

    // Each frame is scheduled after the previous one is decoded, so a slow
    // phone drops frames instead of queueing them.
    function tick() {
      timer = null;
      if (!stream) return;
      var ready = video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0;
      var work;
      try {
        work = ready && Date.now() >= pausedUntil ? decodeFrame() : Promise.resolve(null);
      } catch (error) {
        work = Promise.resolve(null); // a frame that cannot be read; try the next one
      }
      work.catch(function () { return null; }).then(function (code) {
        if (!stream) return;
        if (code) read(code);
        timer = setTimeout(tick, FRAME_MS);
      });
    }

    function start() {
      if (stream || starting) return;
      var media = navigator.mediaDevices;
      if (!media || typeof media.getUserMedia !== "function") {
        // Also what an http:// page sees: cameras need a secure context.
        show("unavailable", container.dataset.msgUnavailable);
        return;
      }
      starting = true;
      show("starting");
      media.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      }).then(function (opened) {
        starting = false;
        if (document.hidden) { // hidden while the permission prompt was open
          opened.getTracks().forEach(function (track) { track.stop(); });
          return;
        }
        stream = opened;
        video.muted = true;
        video.setAttribute("playsinline", ""); // iOS would otherwise open the video full screen
        video.srcObject = stream;
        return video.play().catch(function () {}).then(function () {
          show("scanning");
          tick();
        });
      }, function (error) {
        starting = false;
        var denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
        show(denied ? "denied" : "unavailable",
          denied ? container.dataset.msgDenied : container.dataset.msgUnavailable);
      });
    }

    nativeDetector().then(function (found) {
      detector = found;
      document.addEventListener("visibilitychange", function () {
        if (document.hidden) stop("stopped");
        else start();
      });
      window.addEventListener("pagehide", function () { stop("stopped"); });
      window.addEventListener("pageshow", function (event) { if (event.persisted) start(); });
      if (!document.hidden) start();
    });
  }

  document.querySelectorAll("[data-gate-scan]").forEach(setUp);
})();
