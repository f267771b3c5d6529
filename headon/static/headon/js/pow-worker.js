// Solves one proof-of-work challenge off the main thread (see pow.js).
// Message in: the challenge JSON. Message out: {number} or {number: null}.
"use strict";

function hexToBytes(hex) {
  var bytes = new Uint8Array(hex.length / 2);
  for (var i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  }
  return bytes;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (var i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

// Try every number in [0, maxnumber] until SHA-256(salt + number) is the
// challenge. Comparing bytes spares a hex string per try.
async function solve(challenge) {
  var encoder = new TextEncoder();
  var target = hexToBytes(challenge.challenge);
  for (var number = 0; number <= challenge.maxnumber; number++) {
    var digest = await crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + number));
    if (equal(new Uint8Array(digest), target)) return number;
  }
  return null;
}

self.onmessage = function (event) {
  solve(event.data).then(
    function (number) { self.postMessage({ number: number }); },
    function () { self.postMessage({ number: null }); }
  );
};
