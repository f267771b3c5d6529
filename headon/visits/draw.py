"""The draw for a visit program: a fair, publicly verifiable group lottery.

Plain data in, plain data out; no Django import (STYLE.md, "Shape" 2). The
procedure is specified in ``docs/draw.md`` precisely enough to re-implement in
any language, and ``verify_draw.py`` next to this module is the standalone
re-implementation that anyone can run against a published record.

1. The application list is pseudonymised into `Party` rows and serialised by
   :func:`canonical_list`; :func:`list_hash` is its SHA-256 and is published
   when applications close.
2. :func:`derive_seed` mixes the seed source (an organiser secret committed to
   by :func:`commitment_for_secret` before close, or a public beacon value that
   appears after close) with the list hash, so neither the organiser nor an
   applicant can steer the order once the other side is fixed.
3. :func:`draw_order` shuffles the parties (Fisher–Yates) with integers drawn
   from :class:`HashStream`, SHA-256 in counter mode, by rejection sampling.
4. :func:`run_draw` walks the order: each party gets its highest-ranked session
   with room for the whole party ("group random serial dictatorship").
   ``mechanism="group_rsd_fair"`` adds the no-leapfrogging rule (see
   :func:`_assign`) that removes the plain group lottery's bias towards small
   parties, after Arnosti & Bonet, "Lotteries for Shared Experiences" (2022).

Bad input raises `DrawError` (a `ValueError`) with an English message.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

__all__ = [
    "ALGORITHM_VERSION",
    "MECHANISMS",
    "DrawError",
    "DrawResult",
    "HashStream",
    "Party",
    "Seats",
    "canonical_list",
    "commitment_for_secret",
    "derive_seed",
    "draw_order",
    "list_hash",
    "new_secret",
    "run_draw",
    "shuffle",
]

ALGORITHM_VERSION: Final = "headon-draw-v1"
SEED_DOMAIN: Final = b"headon-draw-seed\x00"
GROUP_RSD: Final = "group_rsd"
GROUP_RSD_FAIR: Final = "group_rsd_fair"
MECHANISMS: Final = (GROUP_RSD, GROUP_RSD_FAIR)

# Limits that keep hostile or mistaken input from producing absurd draws.
MAX_PARTIES: Final = 5_000_000
MAX_CHOICES: Final = 20
MAX_NAME_LENGTH: Final = 64
MIN_SECRET_BYTES: Final = 16  # a shorter secret could be found from its commitment

# Refs and session ids are written into a "|"- and ","-separated text format,
# so they are restricted to characters that cannot be mistaken for separators.
_NAME_RE = re.compile(r"[A-Za-z0-9._:\-]+")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


class DrawError(ValueError):
    """Bad draw input; the message is meant for staff, in English."""


@dataclass(frozen=True, slots=True)
class Party:
    """One application: a pseudonymous ``ref``, the number of seats it needs,
    session ids in rank order (best first), and a priority tier (lower first;
    only used when the draw runs with ``tiers=True``)."""

    ref: str
    size: int
    choices: tuple[str, ...]
    tier: int = 0


@dataclass(frozen=True, slots=True)
class Seats:
    """The capacity of one session."""

    session: str
    capacity: int


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise DrawError(
            f"A {what} must be 1-{MAX_NAME_LENGTH} characters from A-Z, a-z, 0-9 and . _ : -,"
            f" not {value!r:.40}."
        )
    if len(value) > MAX_NAME_LENGTH:
        raise DrawError(f"A {what} must be at most {MAX_NAME_LENGTH} characters: {value:.40}...")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_party(party: Party, sessions: Mapping[str, int] | None) -> None:
    """Validate one party; with ``sessions``, its choices must be among them
    (whose names are already checked), which is also the faster path."""
    ref = _check_name(party.ref, "party reference")
    if not _is_int(party.size) or party.size < 1:
        raise DrawError(f"Party {ref} must need at least one seat, not {party.size!r:.40}.")
    if not _is_int(party.tier) or party.tier < 0:
        raise DrawError(f"Party {ref} has tier {party.tier!r:.40}; a tier is a whole number >= 0.")
    choices = party.choices
    if not isinstance(choices, tuple) or not choices:
        raise DrawError(f"Party {ref} must choose at least one session (as a tuple).")
    if len(choices) > MAX_CHOICES:
        raise DrawError(f"Party {ref} ranks {len(choices)} sessions; at most {MAX_CHOICES}.")
    for choice in choices:
        if sessions is None:
            _check_name(choice, "session id")
        elif choice not in sessions:
            raise DrawError(f"Party {ref} chose unknown session {choice!r:.40}.")
    if len(set(choices)) != len(choices):
        raise DrawError(f"Party {ref} ranks the same session twice.")


def _sorted_parties(
    parties: Iterable[Party], sessions: Mapping[str, int] | None = None
) -> list[Party]:
    """Validated parties sorted by ref. Refs are ASCII, so Python's string order
    is the byte order that docs/draw.md specifies."""
    rows = list(parties)
    if not rows:
        raise DrawError("The draw needs at least one party.")
    if len(rows) > MAX_PARTIES:
        raise DrawError(f"The draw takes at most {MAX_PARTIES} parties, not {len(rows)}.")
    for party in rows:
        if not isinstance(party, Party):
            raise DrawError(f"Expected a Party, not {type(party).__name__}.")
        _check_party(party, sessions)
    rows.sort(key=lambda p: p.ref)
    for before, after in pairwise(rows):
        if before.ref == after.ref:
            raise DrawError(f"Party reference {after.ref} appears twice.")
    return rows


def _capacities(seats: Iterable[Seats]) -> dict[str, int]:
    capacities: dict[str, int] = {}
    for row in seats:
        if not isinstance(row, Seats):
            raise DrawError(f"Expected Seats, not {type(row).__name__}.")
        session = _check_name(row.session, "session id")
        if not _is_int(row.capacity) or row.capacity < 0:
            raise DrawError(f"Session {session} has capacity {row.capacity!r:.40}; need >= 0.")
        if session in capacities:
            raise DrawError(f"Session {session} appears twice in the seats.")
        capacities[session] = row.capacity
    if not capacities:
        raise DrawError("The draw needs at least one session.")
    return capacities


# --- The published inputs ----------------------------------------------------


def _canonical(sorted_parties: Sequence[Party]) -> bytes:
    return "".join(
        f"{p.ref}|{p.size}|{','.join(p.choices)}|{p.tier}\n" for p in sorted_parties
    ).encode("utf-8")


def canonical_list(parties: Iterable[Party]) -> bytes:
    """The application list as published bytes: parties sorted by ref, one line
    each, ``ref|size|choice1,choice2,...|tier`` ending in ``\\n``, UTF-8 (all
    fields are ASCII). Sizes and tiers are decimal with no leading zeros."""
    return _canonical(_sorted_parties(parties))


def list_hash(parties: Iterable[Party]) -> str:
    """SHA-256 (lowercase hex) of :func:`canonical_list`."""
    return hashlib.sha256(canonical_list(parties)).hexdigest()


def new_secret() -> bytes:
    """A fresh organiser secret: 32 bytes from the operating system."""
    return os.urandom(32)


def commitment_for_secret(secret: bytes) -> str:
    """What is published before close: SHA-256 (hex) of the organiser secret."""
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise DrawError(f"An organiser secret must be at least {MIN_SECRET_BYTES} bytes.")
    return hashlib.sha256(secret).hexdigest()


def derive_seed(*, source: bytes, list_hash: str, algorithm: str = ALGORITHM_VERSION) -> bytes:
    """The 32-byte seed: SHA-256 of ``b"headon-draw-seed\\x00" + algorithm +
    b"\\x00" + source + b"\\x00" + list_hash`` (algorithm and list hash as
    ASCII). ``source`` is the revealed organiser secret or the beacon value.
    The list hash is fixed-length and last, so a NUL inside the source cannot
    make two different inputs collide."""
    if not isinstance(source, bytes) or not source:
        raise DrawError("The seed source (secret or beacon value) must be non-empty bytes.")
    if not isinstance(list_hash, str) or not _HEX64_RE.fullmatch(list_hash):
        raise DrawError("The list hash must be 64 lowercase hex digits.")
    if not isinstance(algorithm, str) or not _NAME_RE.fullmatch(algorithm):
        raise DrawError(f"Unknown algorithm name {algorithm!r:.40}.")
    material = b"".join(
        [SEED_DOMAIN, algorithm.encode("ascii"), b"\x00", source, b"\x00", list_hash.encode()]
    )
    return hashlib.sha256(material).digest()


# --- The random order ---------------------------------------------------------


class HashStream:
    """Bytes ``SHA256(seed || 0) || SHA256(seed || 1) || ...``, each counter an
    8-byte big-endian integer, read front to back without skipping."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise DrawError("A seed is exactly 32 bytes.")
        self._seed = seed
        self._counter = 0
        self._buffer = b""
        self._pos = 0

    def read(self, n: int) -> bytes:
        while len(self._buffer) - self._pos < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            # Drop what was consumed so the buffer stays a block or two long.
            self._buffer = self._buffer[self._pos :] + block
            self._pos = 0
        out = self._buffer[self._pos : self._pos + n]
        self._pos += n
        return out

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``. With ``b`` the bit length of
        ``n - 1``: read ``ceil(b / 8)`` bytes as a big-endian integer, keep its
        low ``b`` bits, and return it if it is below ``n``; otherwise read
        again (rejection, so no modulo bias; fewer than 2 reads on average).
        ``n == 1`` returns 0 and reads nothing."""
        if n < 1:
            raise DrawError(f"Cannot draw below {n}.")
        bits = (n - 1).bit_length()
        if bits == 0:
            return 0
        width, mask = (bits + 7) // 8, (1 << bits) - 1
        while True:
            value = int.from_bytes(self.read(width), "big") & mask
            if value < n:
                return value


def shuffle(items: Sequence[str], seed: bytes) -> list[str]:
    """Fisher–Yates (Durstenfeld): for i from len-1 down to 1, swap items i and
    ``below(i + 1)``."""
    stream = HashStream(seed)
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = stream.below(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def draw_order(parties: Iterable[Party], seed: bytes, *, tiers: bool = False) -> list[str]:
    """The draw order as refs: shuffle the refs sorted ascending; with tiers,
    then stable-sort by tier (lower first), keeping the random order inside a
    tier."""
    return _order(_sorted_parties(parties), seed, tiers=tiers)


def _order(sorted_parties: Sequence[Party], seed: bytes, *, tiers: bool) -> list[str]:
    order = shuffle([p.ref for p in sorted_parties], seed)
    if tiers:
        tier_of = {p.ref: p.tier for p in sorted_parties}
        order.sort(key=tier_of.__getitem__)
    return order


# --- The mechanism ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    offers: dict[str, str]
    waitlist: list[str]
    seats_left: dict[str, int]
    closed: list[str]


def _assign(order: Sequence[Party], capacities: Mapping[str, int], *, fair: bool) -> _Outcome:
    """Group random serial dictatorship. In order, a party takes its first
    choice with room for the whole party; no room anywhere: waitlist.

    With ``fair``, a session that turns a party away (too few seats left for
    it) is closed to every later party. In the plain version a party of four
    turned away by the last three seats is overtaken by the parties of one and
    two behind it; that "leapfrogging" is the source of the bias against large
    parties that Arnosti & Bonet measure. Closing costs at most (largest party
    - 1) seats per session in the draw; they go to waitlist promotion."""
    left = dict(capacities)
    closed: set[str] = set()
    offers: dict[str, str] = {}
    waitlist: list[str] = []
    for party in order:
        for session in party.choices:
            if session in closed:
                continue
            if left[session] >= party.size:
                left[session] -= party.size
                offers[party.ref] = session
                break
            if fair:
                closed.add(session)
        else:
            waitlist.append(party.ref)
    return _Outcome(offers, waitlist, left, sorted(closed))


@dataclass(frozen=True)
class DrawResult:
    """Everything a draw decided, and the inputs that decided it."""

    algorithm: str
    mechanism: str
    tiers: bool
    list_hash: str
    seed: bytes
    parties: tuple[Party, ...]  # sorted by ref
    capacities: dict[str, int]
    order: list[str]
    offers: dict[str, str]
    waitlist: list[str]
    seats_left: dict[str, int]
    closed: list[str]  # sessions closed by the no-leapfrogging rule
    commitment: str | None = None

    def record(self) -> dict[str, Any]:
        """The published record (JSON-serialisable): enough to re-run the draw.
        The format is described in docs/draw.md."""
        return {
            "format": "headon-draw-record-1",
            "algorithm": self.algorithm,
            "mechanism": self.mechanism,
            "tiers": self.tiers,
            "list_hash": self.list_hash,
            "commitment": self.commitment,
            "seed": self.seed.hex(),
            "capacities": dict(sorted(self.capacities.items())),
            "parties": [
                {"ref": p.ref, "size": p.size, "choices": list(p.choices), "tier": p.tier}
                for p in self.parties
            ],
            "order": list(self.order),
            "outcome": {ref: self.offers.get(ref) for ref in self.order},
            "waitlist": list(self.waitlist),
            "seats_left": dict(sorted(self.seats_left.items())),
        }


def run_draw(
    *,
    parties: Iterable[Party],
    seats: Iterable[Seats],
    seed: bytes,
    mechanism: str,
    tiers: bool = False,
    algorithm_version: str = ALGORITHM_VERSION,
    commitment: str | None = None,
) -> DrawResult:
    """Run the draw. ``tiers`` turns on priority tiers (off by default);
    ``commitment`` (the published SHA-256 of the organiser secret) is copied
    into the record so the verifier can check the revealed secret."""
    if algorithm_version != ALGORITHM_VERSION:
        raise DrawError(f"This code runs {ALGORITHM_VERSION}, not {algorithm_version!r:.40}.")
    if mechanism not in MECHANISMS:
        raise DrawError(f"Unknown mechanism {mechanism!r:.40}; choose one of {MECHANISMS}.")
    if commitment is not None and not _HEX64_RE.fullmatch(str(commitment)):
        raise DrawError("A commitment must be 64 lowercase hex digits.")
    capacities = _capacities(seats)
    rows = _sorted_parties(parties, capacities)
    by_ref = {p.ref: p for p in rows}
    order = _order(rows, seed, tiers=tiers)
    outcome = _assign([by_ref[ref] for ref in order], capacities, fair=mechanism == GROUP_RSD_FAIR)
    return DrawResult(
        algorithm=algorithm_version,
        mechanism=mechanism,
        tiers=tiers,
        list_hash=hashlib.sha256(_canonical(rows)).hexdigest(),
        seed=seed,
        parties=tuple(rows),
        capacities=capacities,
        order=order,
        offers=outcome.offers,
        waitlist=outcome.waitlist,
        seats_left=outcome.seats_left,
        closed=outcome.closed,
        commitment=commitment,
    )
