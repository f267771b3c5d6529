"""Check a published headon draw record: python verify_draw.py record.json [--secret HEX | --beacon HEX]

Standalone on purpose: Python 3.9+ standard library only, so anyone can read it
and run it without installing headon. It re-computes the list hash from the
record's parties, re-derives the seed when given the seed source (and checks
the revealed secret against the published commitment), re-runs the shuffle and
the allocation, and compares every published field. Exit code 0: the record is
consistent; 1: it is not (or cannot be read). The procedure is in docs/draw.md.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import re
import sys
from array import array
from itertools import chain
from operator import itemgetter, length_hint
from typing import Any

ALGORITHM = "headon-draw-v1"
MECHANISMS = ("group_rsd", "group_rsd_fair")
# Refs and session ids cannot contain the list's separators, so two different
# lists can never serialise to the same bytes.
NAME = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
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


def derive_seed(source: bytes, list_hash: str, algorithm: str) -> bytes:
    material = b"headon-draw-seed\x00" + algorithm.encode() + b"\x00" + source + b"\x00"
    return hashlib.sha256(material + list_hash.encode()).digest()


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


def verify(record: dict[str, Any], source: bytes | None) -> list[tuple[str, bool]]:
    """Each check as (description, passed)."""
    checks: list[tuple[str, bool]] = []
    parties, seed_hex = record["parties"], record["seed"]
    checks.append(("algorithm is " + ALGORITHM, record["algorithm"] == ALGORITHM))
    checks.append(("mechanism is known", record["mechanism"] in MECHANISMS))
    refs = [p["ref"] for p in parties]
    checks.append(("party references are unique", len(set(refs)) == len(refs)))
    try:
        sizes = [p["size"] for p in parties]
        whole = {type(size) for size in sizes} <= {int} and (not sizes or min(sizes) >= 1)
    except KeyError:  # a party with no size: let the check below stop where it would
        whole = all(type(p["size"]) is int and p["size"] >= 1 for p in parties)
    checks.append(("every party needs at least one seat", whole))
    # Checking each distinct choice once, and all refs in one pass, gives the
    # same answer as name by name; on anything unusual, check name by name.
    try:
        choices = set(chain.from_iterable(p["choices"] for p in parties))
        well_formed = plain_names(refs) and plain_names(list(choices))
    except TypeError:
        choices, well_formed = None, False
    if not well_formed:
        names = refs + [c for p in parties for c in p["choices"]]
        well_formed = all(NAME.fullmatch(n) for n in names)
    checks.append(("names are well formed", bool(well_formed)))
    if choices is not None:
        known = all(c in record["capacities"] for c in choices)
    else:
        known = all(c in record["capacities"] for p in parties for c in p["choices"])
    checks.append(("every choice names a session", known))
    computed_hash = hashlib.sha256(canonical_list(parties)).hexdigest()
    checks.append(("list hash matches the parties", computed_hash == record["list_hash"]))
    if source is not None:
        if record.get("commitment") is not None:
            commitment = hashlib.sha256(source).hexdigest()
            checks.append(("secret matches the commitment", commitment == record["commitment"]))
        seed = derive_seed(source, record["list_hash"], record["algorithm"])
        checks.append(("seed derives from the source", seed.hex() == seed_hex))
    if not all(passed for _, passed in checks):
        return checks  # re-running on inconsistent inputs would prove nothing
    order = draw_order(parties, bytes.fromhex(seed_hex), bool(record["tiers"]))
    checks.append(("order matches", order == record["order"]))
    fair = record["mechanism"] == "group_rsd_fair"
    outcome, waitlist, left = assign(order, parties, record["capacities"], fair)
    checks.append(("outcome matches", outcome == record["outcome"]))
    checks.append(("waitlist matches", waitlist == record["waitlist"]))
    checks.append(("seats left match", left == record["seats_left"]))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a headon draw record.")
    parser.add_argument("record", help="the published record, a JSON file")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--secret", help="the revealed organiser secret, hex")
    group.add_argument("--beacon", help="the public beacon value, hex")
    args = parser.parse_args(argv)
    source_hex = args.secret or args.beacon
    # A million parties are two million dicts and lists, none in a cycle; with
    # the collector on, it would walk them all again and again while they load.
    collecting = gc.isenabled()
    gc.disable()
    try:
        source = bytes.fromhex(source_hex) if source_hex is not None else None
        with open(args.record, encoding="utf-8") as f:
            checks = verify(json.load(f), source)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"FAIL: cannot check this record ({type(exc).__name__}: {exc})")  # noqa: T201
        return 1
    finally:
        if collecting:
            gc.enable()
    for description, passed in checks:
        print(f"{'ok  ' if passed else 'FAIL'} {description}")  # noqa: T201
    if source is None:
        print("note: seed not checked against its source (give --secret or --beacon)")  # noqa: T201
    matched = all(passed for _, passed in checks)
    print("MATCH" if matched else "MISMATCH")  # noqa: T201
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
