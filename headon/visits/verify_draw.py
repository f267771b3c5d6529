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
import hashlib
import json
import re
import sys
from typing import Any

ALGORITHM = "headon-draw-v1"
MECHANISMS = ("group_rsd", "group_rsd_fair")
# Refs and session ids cannot contain the list's separators, so two different
# lists can never serialise to the same bytes.
NAME = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def canonical_list(parties: list[dict[str, Any]]) -> bytes:
    rows = sorted(parties, key=lambda p: p["ref"])
    lines = [f"{p['ref']}|{p['size']}|{','.join(p['choices'])}|{p['tier']}\n" for p in rows]
    return "".join(lines).encode("utf-8")


def derive_seed(source: bytes, list_hash: str, algorithm: str) -> bytes:
    material = b"headon-draw-seed\x00" + algorithm.encode() + b"\x00" + source + b"\x00"
    return hashlib.sha256(material + list_hash.encode()).digest()


class HashStream:
    """SHA256(seed || counter as 8-byte big-endian), counter 0, 1, 2, ..."""

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


def draw_order(parties: list[dict[str, Any]], seed: bytes, tiers: bool) -> list[str]:
    order = sorted(p["ref"] for p in parties)
    stream = HashStream(seed)
    for i in range(len(order) - 1, 0, -1):  # Fisher-Yates
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    if tiers:
        tier_of = {p["ref"]: p["tier"] for p in parties}
        order.sort(key=lambda ref: tier_of[ref])  # stable: random order within a tier
    return order


def assign(
    order: list[str], parties: list[dict[str, Any]], capacities: dict[str, int], fair: bool
) -> tuple[dict[str, str | None], list[str], dict[str, int]]:
    by_ref = {p["ref"]: p for p in parties}
    left, closed = dict(capacities), set[str]()
    outcome: dict[str, str | None] = {}
    waitlist: list[str] = []
    for ref in order:
        party, outcome[ref] = by_ref[ref], None
        for session in party["choices"]:
            if session in closed:
                continue
            if left[session] >= party["size"]:
                left[session] -= party["size"]
                outcome[ref] = session
                break
            if fair:  # no leapfrogging: a session that turns a party away closes
                closed.add(session)
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
    sizes = all(type(p["size"]) is int and p["size"] >= 1 for p in parties)
    checks.append(("every party needs at least one seat", sizes))
    names = [p["ref"] for p in parties] + [c for p in parties for c in p["choices"]]
    checks.append(("names are well formed", all(NAME.fullmatch(n) for n in names)))
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
    try:
        source = bytes.fromhex(source_hex) if source_hex is not None else None
        with open(args.record, encoding="utf-8") as f:
            checks = verify(json.load(f), source)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"FAIL: cannot check this record ({type(exc).__name__}: {exc})")  # noqa: T201
        return 1
    for description, passed in checks:
        print(f"{'ok  ' if passed else 'FAIL'} {description}")  # noqa: T201
    if source is None:
        print("note: seed not checked against its source (give --secret or --beacon)")  # noqa: T201
    matched = all(passed for _, passed in checks)
    print("MATCH" if matched else "MISMATCH")  # noqa: T201
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
