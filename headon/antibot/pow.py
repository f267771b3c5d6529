"""A self-hosted proof-of-work challenge in the ALTCHA format. No Django here.

The server issues a challenge: `challenge = sha256_hex(salt + str(number))`
for a secret `number` in [0, maxnumber], signed with
`signature = hmac_sha256_hex(key, challenge)`. The browser tries numbers until
the hash matches and sends back base64(JSON{algorithm, challenge, number,
salt, signature}). The server keeps no state for issued challenges: the
signature proves it issued the challenge, and the hash proves the work.

The salt carries its own terms, `<random hex>?expires=<unix ts>&scope=<scope>&`,
and is bound to the signature through the hash, so a client cannot extend the
expiry or move a solution from one form to another. The trailing `&` matters:
without it the digits of `number` could be shifted into the salt
(`...expires=17` + `001` == `...expires=1700` + `1`) to forge a later expiry:
the "challenge splicing" flaw of ALTCHA's advisory of December 2025
(https://altcha.org/security-advisory/).

Difficulty: the work is maxnumber / 2 hashes on average. A browser pays one
awaited `crypto.subtle.digest` per number, measured at about 8 µs in
desktop Chromium's Web Worker (100,000 numbers: 0.8 s worst, 0.4 s mean),
and a phone is some 2-4 times slower. DEFAULT_MAX_NUMBER = 50,000 (ALTCHA's
range is 50,000-100,000) thus costs a phone about 0.3-1 s on average. CPython
does the same search in 15 ms on average (0.5 µs a hash;
`python -m headon.antibot.pow` prints a table), native code faster still:
the work is a toll on floods, not a wall, which is why rate limits come too.

Replays are refused by a `first_use` callback, not here: the pure core has no
storage. See `headon.antibot.services.first_use` for the one that uses the shared store.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

ALGORITHM = "SHA-256"
DEFAULT_MAX_NUMBER = 50_000
DEFAULT_TTL = 20 * 60  # seconds: long enough to fill in an application form
# A real payload is about 300 bytes; anything far larger is refused before
# base64 or JSON decoding so that hostile input costs us nothing.
MAX_PAYLOAD_LENGTH = 1024
MAX_NUMBER_LIMIT = 10**9

SCOPE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}\Z")
_SALT_RE = re.compile(
    r"(?P<random>[0-9a-f]{8,64})\?expires=(?P<expires>[1-9][0-9]{0,11})&scope=(?P<scope>[a-z0-9_-]{0,32})&\Z"
)
_HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")


class Refusal(enum.StrEnum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    WRONG_SCOPE = "wrong_scope"
    WRONG_SOLUTION = "wrong_solution"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Verdict:
    refusal: Refusal | None = None
    challenge: str = ""  # the challenge id, once the payload was well-formed
    expires: int = 0

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Challenge:
    algorithm: str
    challenge: str
    maxnumber: int
    salt: str
    signature: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON the browser gets, in ALTCHA's field names."""
        return {
            "algorithm": self.algorithm,
            "challenge": self.challenge,
            "maxnumber": self.maxnumber,
            "salt": self.salt,
            "signature": self.signature,
        }


class FirstUse(Protocol):
    """Records that a challenge was spent; True only the first time.

    `expires` (unix seconds) says how long the record must be kept: after
    that the challenge is refused as expired anyway.
    """

    def __call__(self, challenge: str, expires: int) -> bool: ...


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sign(key: bytes, challenge: str) -> str:
    return hmac.new(key, challenge.encode(), hashlib.sha256).hexdigest()


def create_challenge(
    *,
    key: bytes,
    now: float,
    scope: str = "",
    max_number: int = DEFAULT_MAX_NUMBER,
    ttl: int = DEFAULT_TTL,
) -> Challenge:
    """A fresh signed challenge for `scope` that expires `ttl` seconds after `now`."""
    if scope and not SCOPE_RE.match(scope):
        raise ValueError(f"scope must match {SCOPE_RE.pattern}: {scope!r}")
    if not 1 <= max_number <= MAX_NUMBER_LIMIT:
        raise ValueError(f"max_number must be in [1, {MAX_NUMBER_LIMIT}]")
    salt = f"{secrets.token_hex(12)}?expires={int(now) + ttl}&scope={scope}&"
    number = secrets.randbelow(max_number + 1)
    challenge = _sha256_hex(salt + str(number))
    return Challenge(ALGORITHM, challenge, max_number, salt, _sign(key, challenge))


def solve(challenge: Mapping[str, Any]) -> int | None:
    """Brute-force a challenge dict as a browser would; for tests and the bench."""
    salt, target = challenge["salt"], challenge["challenge"]
    for number in range(int(challenge["maxnumber"]) + 1):
        if _sha256_hex(salt + str(number)) == target:
            return number
    return None


def encode_payload(challenge: Mapping[str, Any], number: int) -> str:
    """The base64 JSON a browser posts back, as pow.js builds it."""
    fields = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    data = json.dumps({**fields, "number": number}, separators=(",", ":"))
    return base64.b64encode(data.encode()).decode("ascii")


def _decode(payload: object) -> dict[str, Any] | None:
    """The payload's fields if they have the right types, else None."""
    if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD_LENGTH:
        return None
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON and integers too long to parse.
        return None
    if not isinstance(data, dict):
        return None
    number = data.get("number")
    if type(number) is not int or not 0 <= number <= MAX_NUMBER_LIMIT:  # bool is not a number
        return None
    strings = ("algorithm", "challenge", "salt", "signature")
    if not all(isinstance(data.get(name), str) for name in strings):
        return None
    return data


def verify(
    payload: object,
    *,
    key: bytes,
    now: float,
    scope: str = "",
    first_use: FirstUse | None = None,
) -> Verdict:
    """Check a posted solution. Never raises on any input; says why it refuses.

    The cheap checks come first and the replay record last, so that garbage
    and forgeries never reach the store behind `first_use`.
    """
    data = _decode(payload)
    if data is None or data["algorithm"] != ALGORITHM:
        return Verdict(Refusal.MALFORMED)
    challenge, salt = data["challenge"], data["salt"]
    terms = _SALT_RE.match(salt)
    if terms is None or not _HEX64_RE.match(challenge):
        return Verdict(Refusal.MALFORMED)
    if not hmac.compare_digest(_sign(key, challenge), data["signature"]):
        return Verdict(Refusal.BAD_SIGNATURE)
    expires = int(terms["expires"])
    if now > expires:
        return Verdict(Refusal.EXPIRED, challenge, expires)
    if terms["scope"] != scope:
        return Verdict(Refusal.WRONG_SCOPE, challenge, expires)
    if not hmac.compare_digest(_sha256_hex(salt + str(data["number"])), challenge):
        return Verdict(Refusal.WRONG_SOLUTION, challenge, expires)
    if first_use is not None and not first_use(challenge, expires):
        return Verdict(Refusal.REPLAYED, challenge, expires)
    return Verdict(None, challenge, expires)


def bench(max_numbers: tuple[int, ...] = (10_000, 50_000, 100_000, 250_000)) -> str:
    """A table of brute-force times in this Python, worst case and mean."""
    rows = ["maxnumber   worst (ms)   mean (ms)"]
    for max_number in max_numbers:
        salt = f"{secrets.token_hex(12)}?expires=1&scope=&"
        target = {"salt": salt, "maxnumber": max_number, "challenge": ""}
        started = time.perf_counter()
        solve(target)  # no match: every number is tried, the worst case
        worst = (time.perf_counter() - started) * 1000
        rows.append(f"{max_number:>9}   {worst:>10.1f}   {worst / 2:>9.1f}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(bench() + "\n")
