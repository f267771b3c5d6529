"""The public randomness the draw's seed always includes: a drand quicknet round.

Plain data in, plain data out; no Django import (STYLE.md, "Shape" 2).
quicknet is run by the League of Entropy: every 3 seconds since its genesis
a threshold of independent organisations signs the round number, and the
signature is the round's value. Nobody knows a round's signature before its
time, and nobody can forge one afterwards, so a round named before it
appears is randomness that nobody, the organiser included, could choose.

Its parameters are public constants (https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/info).
Round ``r`` appears at ``GENESIS + (r - 1) * PERIOD`` (Unix seconds); its
signature is the BLS signature (on G1 of BLS12-381, RFC 9380 hash-to-curve)
of ``SHA-256(r as 8 bytes big-endian)``; its randomness is
``SHA-256(signature)``. The signature is checked offline with
`py_arkworks_bls12381` (about 2 ms).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final

from py_arkworks_bls12381 import GT, G1Point, G2Point

__all__ = [
    "CHAIN_HASH",
    "GENESIS",
    "PERIOD",
    "PUBLIC_KEY",
    "BeaconError",
    "Round",
    "first_round_at_or_after",
    "parse_round",
    "round_time",
    "verify_round",
]

NETWORK: Final = "drand-quicknet"
CHAIN_HASH: Final = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
PUBLIC_KEY: Final = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
GENESIS: Final = 1692803367  # round 1, Unix seconds (2023-08-23T15:09:27Z)
PERIOD: Final = 3  # seconds between rounds
DST: Final = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
URL: Final = f"https://api.drand.sh/{CHAIN_HASH}/public/"

_SIGNATURE = re.compile(r"[0-9a-f]{96}")

# Published quicknet rounds, copied from public sources (never made up): the
# demo's past draw, the tests and the benchmark use them. Round 657413 is
# the example of the drand-verify package on PyPI; round 9683710 the test
# response of the IDN randomness-beacon pallet (ideal-lab5/idn-sdk).
RECORDED: Final = {
    657413: "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b",
    9683710: "b0a8b04e009cf72534321aca0f50048da596a3feec1172a0244d9a4a623a3123d0402da79854d4c705e94bc73224c342",
}


class BeaconError(ValueError):
    """A beacon value that is not what it claims to be (English message)."""


@dataclass(frozen=True, slots=True)
class Round:
    """One quicknet round: its number and its signature (96 hex digits)."""

    number: int
    signature: str

    @property
    def randomness(self) -> bytes:
        """The round's value, as drand defines it: SHA-256 of the signature."""
        return hashlib.sha256(bytes.fromhex(self.signature)).digest()


def round_time(number: int) -> dt.datetime:
    """When round ``number`` appears (UTC)."""
    if number < 1:
        raise BeaconError("quicknet rounds start at 1.")
    return dt.datetime.fromtimestamp(GENESIS + (number - 1) * PERIOD, tz=dt.UTC)


def first_round_at_or_after(moment: dt.datetime) -> int:
    """The first round whose time is at or after ``moment`` (aware), in
    whole seconds rounded up: ``ceil((t - GENESIS) / PERIOD) + 1``."""
    if moment.tzinfo is None:
        raise BeaconError("A moment must carry its time zone.")
    seconds = int(moment.timestamp())
    if moment.timestamp() > seconds:  # a fraction of a second: the next second
        seconds += 1
    if seconds <= GENESIS:
        return 1
    return -(-(seconds - GENESIS) // PERIOD) + 1


def parse_round(text: str, *, expected: int) -> Round:
    """The round from what a person pasted: the signature in hex, or drand's
    JSON for the round (``{"round": ..., "signature": ...}``, as served at
    ``URL + str(round)``), which must name the ``expected`` round."""
    text = text.strip()
    number = expected
    if text.startswith("{"):
        try:
            data = json.loads(text[:2000])
            number, text = data["round"], data["signature"]
        except (ValueError, KeyError, TypeError):
            raise BeaconError("This is not drand's JSON for a round.") from None
        if not isinstance(number, int) or number != expected:
            raise BeaconError(f"This is round {number!r:.20}, not round {expected}.")
        if not isinstance(text, str):
            raise BeaconError("This is not drand's JSON for a round.")
    signature = text.strip().lower()
    if not _SIGNATURE.fullmatch(signature):
        raise BeaconError("A quicknet signature is 96 hex digits.")
    return Round(number, signature)


def verify_round(beacon_round: Round) -> bytes:
    """The round's randomness if its signature is quicknet's signature of
    that round number; `BeaconError` otherwise."""
    if beacon_round.number < 1 or not _SIGNATURE.fullmatch(beacon_round.signature):
        raise BeaconError("Not a quicknet round.")
    message = hashlib.sha256(beacon_round.number.to_bytes(8, "big")).digest()
    try:
        signature = G1Point.from_compressed_bytes(bytes.fromhex(beacon_round.signature))
    except Exception:  # the library raises a bare exception for bytes off the curve
        raise BeaconError("This signature is not a point of the curve.") from None
    key = G2Point.from_compressed_bytes(bytes.fromhex(PUBLIC_KEY))
    hashed = G1Point.hash_to_curve(message, DST)
    # e(signature, g2) == e(H(m), key), checked as one product of pairings.
    if not GT.pairing_check([signature, -hashed], [G2Point(), key]):
        raise BeaconError(f"This is not the signature of quicknet round {beacon_round.number}.")
    return beacon_round.randomness
