"""Check a published headon draw record: python verify_draw.py record.json [--secret HEX]

Standalone on purpose: Python 3.9+ standard library only, so anyone can read it
and run it without installing headon. It checks every rule of docs/draw.md
(names, sizes, tiers, choices, sorted parties and sessions), that the beacon
round is the one the seal named (the first drand quicknet round at or after
the seal, plus the committed offset), the revealed secret against its
commitment, the sealed hash, the seed, and re-runs the shuffle and the
allocation. The round's BLS signature needs pairing arithmetic the standard
library lacks: it is checked when `py_arkworks_bls12381` or `py_ecc` is
installed, and otherwise the output says it was not and how to check it
(--require-signature makes that a failure). Exit code 0: the record is
consistent; 1: it is not (or cannot be read). The procedure is in docs/draw.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import re
import sys
from array import array
from collections.abc import Callable
from itertools import chain, pairwise
from operator import itemgetter, length_hint
from typing import Any

FORMAT = "headon-draw-record-2"
ALGORITHM = "headon-draw-v2"
MECHANISMS = ("group_rsd", "group_rsd_fair")
STATUSES = ("scheduled", "cancelled")
MAX_CHOICES = 20
MIN_SECRET_BYTES = 16
MAX_OFFSET = 28_800
# drand quicknet, https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/info
NETWORK = "drand-quicknet"
CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
PUBLIC_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
GENESIS, PERIOD = 1692803367, 3
DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# Refs and session ids cannot contain the list's separators, so two different
# lists can never serialise to the same bytes.
NAME = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX = re.compile(r"(?:[0-9a-f]{2})+")
SIGNATURE = re.compile(r"[0-9a-f]{96}")
WORD = next(code for code in "IL" if array(code).itemsize == 4)


def plain_names(names: list[Any]) -> bool:
    """all(NAME.fullmatch(n) for n in names) for str names, at C speed: joined
    by newlines (the count catches a name containing one), nothing but name
    characters, 1-64 of them. Raises TypeError for a name that is not a str."""
    text = "\n".join(names)
    return (
        text.count("\n") == len(names) - 1
        and text.isascii()
        and not text.encode("ascii").translate(None, NAME_BYTES + b"\n")
        and (not names or (min(map(len, names)) >= 1 and max(map(len, names)) <= 64))
    )


def canonical_list(parties: list[dict[str, Any]]) -> bytes:
    rows = sorted(parties, key=itemgetter("ref"))
    lines = [f"{p['ref']}|{p['size']}|{','.join(p['choices'])}|{p['tier']}\n" for p in rows]
    return "".join(lines).encode("utf-8")


def derive_seed(source: bytes, sealed_hash: str, algorithm: str) -> bytes:
    material = b"headon-draw-seed\x00" + algorithm.encode() + b"\x00" + source + b"\x00"
    return hashlib.sha256(material + sealed_hash.encode()).digest()


class HashStream:
    """SHA256(seed || counter as 8-byte big-endian), counter 0, 1, 2, ...

    The stream as docs/draw.md reads it, one below() at a time; draw_order
    reads the same bytes in batches (the tests hold it to this)."""

    def __init__(self, seed: bytes) -> None:
        self.seed, self.counter, self.buffer = seed, 0, b""

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def below(self, n: int) -> int:
        """Uniform in [0, n) by rejection: low bits of ceil(bits/8) bytes."""
        bits = (n - 1).bit_length()
        if bits == 0:
            return 0
        while True:
            value = int.from_bytes(self.read((bits + 7) // 8), "big") & ((1 << bits) - 1)
            if value < n:
                return value


def words(data: bytes, width: int, bits: int) -> list[int]:
    """`data` cut into `width`-byte big-endian integers, each cut to its low `bits` bits."""
    if width > 4:
        mask = (1 << bits) - 1
        return [
            int.from_bytes(data[k : k + width], "big") & mask for k in range(0, len(data), width)
        ]
    top = bytes(b & ((1 << (bits - 8 * (width - 1))) - 1) for b in range(256))
    padded = bytearray(4 * (len(data) // width))  # each read as a 4-byte word
    padded[4 - width :: 4] = data[0::width].translate(top)
    for k in range(1, width):
        padded[4 - width + k :: 4] = data[k::width]
    out = array(WORD, padded)
    if sys.byteorder == "little":
        out.byteswap()
    return out.tolist()


def draw_order(parties: list[dict[str, Any]], seed: bytes, tiers: bool) -> list[str]:
    """Fisher-Yates with HashStream.below, in batches: for all i of one bit
    length, below(i + 1) reads same-width words one after another, so they are
    unpacked together and only the accept-or-reject walk runs in Python."""
    order = sorted(p["ref"] for p in parties)
    stream, counter, pos = b"", 0, 0
    i = len(order) - 1
    while i > 0:
        bits = i.bit_length()
        width, last = (bits + 7) // 8, 1 << (bits - 1)
        count = min(2 * (i - last + 1) + 16, 1 << 16)
        if len(stream) - pos < count * width:
            blocks = count * width // 32 + 1
            stream = stream[pos:] + b"".join(
                hashlib.sha256(seed + k.to_bytes(8, "big")).digest()
                for k in range(counter, counter + blocks)
            )
            counter, pos = counter + blocks, 0
        batch = words(stream[pos : pos + count * width], width, bits)
        unread = iter(batch)
        for value in unread:
            if value <= i:  # below(i + 1) accepts it: swap, go on to i - 1
                order[i], order[value] = order[value], order[i]
                i -= 1
                if i < last:
                    break
        pos += (len(batch) - length_hint(unread)) * width
    if tiers:
        tier_of = {p["ref"]: p["tier"] for p in parties}
        order.sort(key=lambda ref: tier_of[ref])  # stable: random order within a tier
    return order


def assign(
    order: list[str], parties: list[dict[str, Any]], capacities: dict[str, int], fair: bool
) -> tuple[dict[str, str | None], list[str], dict[str, int]]:
    by_ref = {p["ref"]: p for p in parties}
    left, closed = dict(capacities), set[str]()
    outcome: dict[str, str | None] = dict.fromkeys(order)
    waitlist: list[str] = []
    # Sessions no later party can take (closed, or no seat left): a party that
    # chose only those is waitlisted at once, and when all are, the rest is.
    dead = {session for session, seats in left.items() if seats == 0}
    for k, ref in enumerate(order):
        if len(dead) == len(left):
            waitlist.extend(order[k:])
            break
        party = by_ref[ref]
        if dead.issuperset(party["choices"]):
            waitlist.append(ref)
            continue
        for session in party["choices"]:
            if session in closed:
                continue
            if left[session] >= party["size"]:
                left[session] -= party["size"]
                outcome[ref] = session
                if left[session] == 0:
                    dead.add(session)
                break
            if fair:  # no leapfrogging: a session that turns a party away closes
                closed.add(session)
                dead.add(session)
        if outcome[ref] is None:
            waitlist.append(ref)
    return outcome, waitlist, left


def is_int(value: Any, least: int) -> bool:
    return type(value) is int and value >= least


def first_round_at_or_after(seconds: int) -> int:
    """The first quicknet round whose time is at or after `seconds` (Unix)."""
    return 1 if seconds <= GENESIS else -(-(seconds - GENESIS) // PERIOD) + 1


def sealed_text(record: dict[str, Any]) -> bytes:
    beacon = record["beacon"]
    lines = [
        ALGORITHM,
        f"mechanism|{record['mechanism']}",
        f"tiers|{'on' if record['tiers'] else 'off'}",
        f"commitment|{record['commitment'] or 'none'}",
        f"sealed_at|{record['sealed_at']}",
        f"beacon|{NETWORK}|{beacon['offset']}|{beacon['round']}",
        f"sessions|{len(record['sessions'])}",
        *(f"{s['id']}|{s['capacity']}|{s['status']}" for s in record["sessions"]),
        f"parties|{len(record['parties'])}",
    ]
    head = "".join(line + "\n" for line in lines).encode("ascii")
    return head + canonical_list(record["parties"])


def check_parties(parties: list[dict[str, Any]], sessions: set[str]) -> list[tuple[str, bool]]:
    """The doc's rules for parties, each as one check."""
    refs = [p["ref"] for p in parties]
    try:
        choices = set(chain.from_iterable(p["choices"] for p in parties))
        well_formed = plain_names(refs) and plain_names(list(choices))
    except TypeError:  # a name that is not a str, an unhashable choice
        choices, well_formed = set(), False
    if not well_formed:
        names = refs + [c for p in parties for c in p["choices"]]
        well_formed = all(isinstance(n, str) and NAME.fullmatch(n) for n in names)
    lists = [p["choices"] for p in parties]
    return [
        ("there is at least one party", bool(parties)),
        ("refs and session ids are 1-64 of A-Z a-z 0-9 . _ : -", bool(well_formed)),
        (
            "parties are sorted by ref, each ref once",
            bool(well_formed) and all(a < b for a, b in pairwise(refs)),
        ),
        ("every size is a whole number >= 1", all(is_int(p["size"], 1) for p in parties)),
        ("every tier is a whole number >= 0", all(is_int(p["tier"], 0) for p in parties)),
        (
            f"every party ranks 1-{MAX_CHOICES} sessions, none twice",
            all(
                type(c) is list and 1 <= len(c) <= MAX_CHOICES and len(set(c)) == len(c)
                for c in lists
            ),
        ),
        ("every choice names a session", bool(well_formed) and choices <= sessions),
    ]


def check_sessions(sessions: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    ids = [s["id"] for s in sessions]
    named = all(isinstance(i, str) and NAME.fullmatch(i) for i in ids)
    return [
        ("there is at least one session", bool(sessions)),
        (
            "sessions are sorted by id, each id once",
            named and all(a < b for a, b in pairwise(ids)),
        ),
        ("every capacity is a whole number >= 0", all(is_int(s["capacity"], 0) for s in sessions)),
        ("every status is scheduled or cancelled", all(s["status"] in STATUSES for s in sessions)),
    ]


def check_seal(record: dict[str, Any], given_secret: bytes | None) -> list[tuple[str, bool]]:
    """The commitment, the secret and the beacon round the seal named."""
    checks: list[tuple[str, bool]] = []
    commitment, secret_hex, beacon = record["commitment"], record["secret"], record["beacon"]
    checks.append(
        (
            "commitment is null or 64 hex digits",
            commitment is None or bool(isinstance(commitment, str) and HEX64.fullmatch(commitment)),
        )
    )
    if commitment is None:
        checks.append(("no secret without a commitment", secret_hex is None))
        if given_secret is not None:
            checks.append(("a secret was given, but this draw committed to none", False))
    else:
        secret = (
            bytes.fromhex(secret_hex)
            if isinstance(secret_hex, str) and HEX.fullmatch(secret_hex)
            else b""
        )
        checks.append(
            (
                f"the secret is at least {MIN_SECRET_BYTES} bytes of hex",
                len(secret) >= MIN_SECRET_BYTES,
            )
        )
        checks.append(
            (
                "SHA-256 of the secret is the commitment",
                hashlib.sha256(secret).hexdigest() == commitment,
            )
        )
        if given_secret is not None:
            checks.append(("the secret given is the record's", given_secret == secret))
    sealed_at, offset, number = record["sealed_at"], beacon["offset"], beacon["round"]
    checks.append(
        ("the seal's time is whole seconds after quicknet's genesis", is_int(sealed_at, GENESIS))
    )
    checks.append(
        (
            "the beacon is drand quicknet",
            beacon["network"] == NETWORK and beacon["chain_hash"] == CHAIN_HASH,
        )
    )
    checks.append(
        (f"the offset is 1-{MAX_OFFSET} rounds", is_int(offset, 1) and offset <= MAX_OFFSET)
    )
    if is_int(sealed_at, GENESIS) and is_int(offset, 1) and is_int(number, 1):
        expected = first_round_at_or_after(sealed_at) + offset
        when = dt.datetime.fromtimestamp(GENESIS + (number - 1) * PERIOD, dt.UTC)
        checks.append(
            (
                f"round {number} ({when:%Y-%m-%d %H:%M:%S} UTC) is the first at or after the seal plus {offset}",
                number == expected,
            )
        )
        checks.append(
            ("the round's time is after the seal", GENESIS + (number - 1) * PERIOD > sealed_at)
        )
    else:
        checks.append(("the round is a whole number >= 1", False))
    signature = beacon["signature"]
    checks.append(
        (
            "the signature is 96 hex digits",
            isinstance(signature, str) and bool(SIGNATURE.fullmatch(signature)),
        )
    )
    return checks


def bls_checker() -> tuple[str, Callable[[int, bytes], bool]] | None:
    """A BLS12-381 check of a quicknet round's signature, if a library that
    can do one is installed: (its name, check(round, signature))."""
    try:
        from py_arkworks_bls12381 import GT, G1Point, G2Point

        def arkworks(number: int, signature: bytes) -> bool:
            message = hashlib.sha256(number.to_bytes(8, "big")).digest()
            try:
                point = G1Point.from_compressed_bytes(signature)
            except Exception:
                return False
            key = G2Point.from_compressed_bytes(bytes.fromhex(PUBLIC_KEY))
            hashed = G1Point.hash_to_curve(message, DST)
            return bool(GT.pairing_check([point, -hashed], [G2Point(), key]))

        return "py_arkworks_bls12381", arkworks
    except ImportError:
        pass
    try:
        from py_ecc.bls.hash_to_curve import hash_to_G1  # type: ignore[import-not-found]
        from py_ecc.bls.point_compression import decompress_G1, decompress_G2  # type: ignore[import-not-found]
        from py_ecc.optimized_bls12_381 import FQ12, G2, final_exponentiate, neg  # type: ignore[import-not-found]
        from py_ecc.optimized_bls12_381.optimized_pairing import miller_loop  # type: ignore[import-not-found]

        def pure(number: int, signature: bytes) -> bool:
            key = bytes.fromhex(PUBLIC_KEY)
            q = decompress_G2((int.from_bytes(key[:48], "big"), int.from_bytes(key[48:], "big")))
            try:
                point = decompress_G1(int.from_bytes(signature, "big"))
            except Exception:
                return False
            hashed = hash_to_G1(
                hashlib.sha256(number.to_bytes(8, "big")).digest(), DST, hashlib.sha256
            )
            product = miller_loop(G2, point) * miller_loop(neg(q), hashed)
            return bool(final_exponentiate(product) == FQ12.one())

        return "py_ecc", pure
    except ImportError:
        return None


def verify(
    record: dict[str, Any], secret: bytes | None, *, bls: bool = True
) -> tuple[list[tuple[str, bool]], list[str]]:
    """Each check as (description, passed), and notes on what was not checked."""
    checks: list[tuple[str, bool]] = [
        ("format is " + FORMAT, record["format"] == FORMAT),
        ("algorithm is " + ALGORITHM, record["algorithm"] == ALGORITHM),
        ("mechanism is group_rsd or group_rsd_fair", record["mechanism"] in MECHANISMS),
        ("tiers is true or false", type(record["tiers"]) is bool),
    ]
    notes: list[str] = []
    sessions, parties = record["sessions"], record["parties"]
    checks += check_sessions(sessions)
    checks += check_parties(parties, {s["id"] for s in sessions if isinstance(s["id"], str)})
    checks += check_seal(record, secret)
    if not all(passed for _, passed in checks):
        return checks, notes  # hashing or re-running malformed inputs would prove nothing
    beacon = record["beacon"]
    computed = hashlib.sha256(sealed_text(record)).hexdigest()
    checks.append(
        (
            "sealed hash matches (compare it with the one published at the seal)",
            computed == record["sealed_hash"],
        )
    )
    signature = bytes.fromhex(beacon["signature"])
    source = hashlib.sha256(signature).digest()  # the round's randomness
    if record["secret"] is not None:
        source += bytes.fromhex(record["secret"])
    seed = derive_seed(source, computed, record["algorithm"]).hex()
    checks.append(
        ("seed derives from the round, the secret and the sealed hash", seed == record["seed"])
    )
    checker = bls_checker() if bls else None
    if checker is None:
        notes.append(
            f"round {beacon['round']}'s BLS signature not checked: pip install py_arkworks_bls12381"
            " (or py_ecc) and run again, or compare the signature with"
            f" https://api.drand.sh/{CHAIN_HASH}/public/{beacon['round']}"
        )
    else:
        name, check = checker
        checks.append(
            (
                f"round {beacon['round']}'s signature is quicknet's ({name})",
                check(beacon["round"], signature),
            )
        )
    if not all(passed for _, passed in checks):
        return checks, notes
    capacities = {s["id"]: s["capacity"] if s["status"] == "scheduled" else 0 for s in sessions}
    order = draw_order(parties, bytes.fromhex(seed), record["tiers"])
    checks.append(("order matches", order == record["order"]))
    fair = record["mechanism"] == "group_rsd_fair"
    outcome, waitlist, left = assign(order, parties, capacities, fair)
    checks.append(("outcome matches", outcome == record["outcome"]))
    checks.append(("waitlist matches", waitlist == record["waitlist"]))
    checks.append(("seats left match", left == record["seats_left"]))
    return checks, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a headon draw record.")
    parser.add_argument("record", help="the published record, a JSON file")
    parser.add_argument(
        "--secret", help="the revealed organiser secret, hex (must be the record's)"
    )
    parser.add_argument(
        "--require-signature",
        action="store_true",
        help="fail unless the round's BLS signature was checked (needs py_arkworks_bls12381 or py_ecc)",
    )
    args = parser.parse_args(argv)
    # A million parties are two million dicts and lists, none in a cycle; with
    # the collector on, it would walk them all again and again while they load.
    collecting = gc.isenabled()
    gc.disable()
    try:
        secret = bytes.fromhex(args.secret) if args.secret is not None else None
        with open(args.record, encoding="utf-8") as f:
            checks, notes = verify(json.load(f), secret)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"FAIL: cannot check this record ({type(exc).__name__}: {exc})")  # noqa: T201
        print("MISMATCH")  # noqa: T201
        return 1
    finally:
        if collecting:
            gc.enable()
    for description, passed in checks:
        print(f"{'ok  ' if passed else 'FAIL'} {description}")  # noqa: T201
    for note in notes:
        print(f"note: {note}")  # noqa: T201
    matched = all(passed for _, passed in checks) and not (notes and args.require_signature)
    print("MATCH" if matched else "MISMATCH")  # noqa: T201
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
