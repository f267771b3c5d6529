"""The draw for a visit program: a fair, publicly verifiable group lottery.

Plain data in, plain data out; no Django import (STYLE.md, "Shape" 2). The
procedure is specified in ``docs/draw.md`` precisely enough to re-implement in
any language, and ``verify_draw.py`` next to this module is the standalone
re-implementation that anyone can run against a published record.

1. The application list is pseudonymised into `Party` rows and serialised by
   :func:`canonical_list`. At the seal, :func:`sealed_text` writes it with
   everything else the draw depends on (mechanism, tiers flag, commitment,
   the seal's time, the beacon round, each session's id, capacity and
   status); :func:`sealed_hash` is its SHA-256, published at once.
2. :func:`derive_seed` mixes the seed source (the randomness of a drand
   quicknet round that appears after the seal, see ``beacon.py``, followed
   by the organiser secret committed to by :func:`commitment_for_secret`,
   when one is used) with the sealed hash: nobody knows the round's value
   when the list is sealed, and nothing sealed can change after.
3. :func:`draw_order` shuffles the parties (Fisher–Yates) with integers drawn
   from :class:`HashStream`, SHA-256 in counter mode, by rejection sampling.
4. :func:`run_draw` walks the order: each party gets its highest-ranked session
   with room for the whole party ("group random serial dictatorship").
   ``mechanism="group_rsd_fair"`` adds the no-leapfrogging rule (see
   :func:`_assign`) that removes the plain group lottery's bias towards small
   parties, after Arnosti & Bonet, "Lotteries for Shared Experiences" (2022).
5. :meth:`DrawResult.record` is the published record; :meth:`DrawResult.write_record`
   writes the same JSON text without building it (``record_text.py``), which
   is what makes a million-party draw take seconds (``bench/draw.py``).

Bad input raises `DrawError` (a `ValueError`) with an English message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import os
import re
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice, pairwise
from operator import attrgetter, eq, length_hint
from typing import Any, Final, NamedTuple, TextIO

from headon.visits import beacon, record_text

__all__ = [
    "ALGORITHM_VERSION",
    "MECHANISMS",
    "DrawError",
    "DrawResult",
    "HashStream",
    "Party",
    "Seal",
    "Seats",
    "canonical_list",
    "commitment_for_secret",
    "derive_seed",
    "draw_order",
    "new_secret",
    "run_draw",
    "sealed_hash",
    "sealed_text",
    "seed_source",
    "shuffle",
]

ALGORITHM_VERSION: Final = "headon-draw-v2"
RECORD_FORMAT: Final = "headon-draw-record-2"
SEED_DOMAIN: Final = b"headon-draw-seed\x00"
GROUP_RSD: Final = "group_rsd"
GROUP_RSD_FAIR: Final = "group_rsd_fair"
MECHANISMS: Final = (GROUP_RSD, GROUP_RSD_FAIR)
SCHEDULED: Final = "scheduled"
CANCELLED: Final = "cancelled"
STATUSES: Final = (SCHEDULED, CANCELLED)
BEACON_NETWORK: Final = beacon.NETWORK
RANDOMNESS_BYTES: Final = 32  # a quicknet round's randomness, SHA-256 of its signature
MAX_BEACON_OFFSET: Final = 28_800  # rounds after the seal: at most a day

# Limits that keep hostile or mistaken input from producing absurd draws.
MAX_PARTIES: Final = 5_000_000
MAX_CHOICES: Final = 20
MAX_NAME_LENGTH: Final = 64
MIN_SECRET_BYTES: Final = 16  # a shorter secret could be found from its commitment

# Refs and session ids are written into a "|"- and ","-separated text format,
# so they are restricted to characters that cannot be mistaken for separators.
_NAME_RE = re.compile(r"[A-Za-z0-9._:\-]+")
_NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_REF, _SIZE, _CHOICES, _TIER = (attrgetter(f) for f in ("ref", "size", "choices", "tier"))


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
    """One session: its capacity and status. A cancelled session is sealed
    with the rest but has no seats in the draw."""

    session: str
    capacity: int
    status: str = SCHEDULED


@dataclass(frozen=True, slots=True)
class Seal:
    """What is fixed at the seal besides the parties and sessions: the
    committed mechanism, tiers flag and commitment (``None`` without an
    organiser secret), the seal's time in Unix seconds, and the beacon round:
    the first quicknet round at or after the seal, plus ``beacon_offset``."""

    mechanism: str
    tiers: bool
    commitment: str | None
    sealed_at: int
    beacon_offset: int
    beacon_round: int

    def check(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise DrawError(
                f"Unknown mechanism {self.mechanism!r:.40}; choose one of {MECHANISMS}."
            )
        if not isinstance(self.tiers, bool):
            raise DrawError("The tiers flag is true or false.")
        if self.commitment is not None and not _HEX64_RE.fullmatch(str(self.commitment)):
            raise DrawError("A commitment must be 64 lowercase hex digits.")
        if not _is_int(self.sealed_at) or self.sealed_at < beacon.GENESIS:
            raise DrawError("The seal's time is whole Unix seconds after quicknet's genesis.")
        if not _is_int(self.beacon_offset) or not 1 <= self.beacon_offset <= MAX_BEACON_OFFSET:
            raise DrawError(f"The beacon offset is 1 to {MAX_BEACON_OFFSET} rounds.")
        first = beacon.first_round_at_or_after(dt.datetime.fromtimestamp(self.sealed_at, dt.UTC))
        if self.beacon_round != first + self.beacon_offset:
            raise DrawError(
                f"The beacon round must be {first + self.beacon_offset}: the first quicknet round"
                f" at or after the seal ({first}) plus {self.beacon_offset}."
            )


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


def _names_ok(names: list[Any]) -> bool:
    """Whether every item is a well-formed name, in a few passes at C speed.
    Joined by newlines (which no name may contain: the count catches one that
    does), the names must be ASCII and nothing but name characters."""
    text = "\n".join(names)
    lengths = list(map(len, names))
    return (
        text.count("\n") == len(names) - 1
        and not text.encode("ascii").translate(None, _NAME_BYTES + b"\n")
        and min(lengths) > 0
        and max(lengths) <= MAX_NAME_LENGTH
    )


def _certainly_valid(rows: list[Any], sessions: Mapping[str, int] | None) -> list[str] | None:
    """The refs if `_check_party` would certainly accept every row, checked
    column by column: a million parties take a third of the time of the loop.
    None sends the caller to that loop, which names the first bad party (and
    also accepts what this is too strict for, such as a subclass of int)."""
    try:
        refs = list(map(_REF, rows)) if {*map(type, rows)} == {Party} else None
        if refs is None or not _names_ok(refs):
            return None
        for column, least in ((_SIZE, 1), (_TIER, 0)):
            values = list(map(column, rows))
            if {*map(type, values)} != {int} or min(values) < least:
                return None
        choices = list(map(_CHOICES, rows))
        if {*map(type, choices)} != {tuple}:
            return None
        lengths = list(map(len, choices))
        if min(lengths) < 1 or max(lengths) > MAX_CHOICES:
            return None
        if list(map(len, map(set, choices))) != lengths:  # a session ranked twice
            return None
        named = set(chain.from_iterable(choices))  # a few dozen sessions, not 5 million
        if sessions is not None:
            return refs if all(map(sessions.__contains__, named)) else None
        return refs if _names_ok(list(named)) else None
    except (TypeError, UnicodeError):  # an unhashable choice, a name that is not a str
        return None


class _Sorted(NamedTuple):
    """Validated parties and their order by ref. Refs are ASCII, so Python's
    string order is the byte order that docs/draw.md specifies."""

    given: list[Party]  # in the order given
    positions: list[int]  # positions in `given`, in ref order
    refs: list[str]  # in ref order
    plain: bool  # every field a plain str, int or tuple: see `_certainly_valid`

    def rows(self) -> list[Party]:
        return list(map(self.given.__getitem__, self.positions))

    def canonical(self) -> bytes:
        """The canonical list. Each line is formatted in the order given, which
        is usually the order the parties lie in memory: for a million parties
        three times faster than visiting them in ref order."""
        lines = [f"{p.ref}|{p.size}|{','.join(p.choices)}|{p.tier}\n" for p in self.given]
        return "".join(map(lines.__getitem__, self.positions)).encode("utf-8")


def _sorted(parties: Iterable[Party], sessions: Mapping[str, int] | None = None) -> _Sorted:
    given = list(parties)
    if not given:
        raise DrawError("The draw needs at least one party.")
    if len(given) > MAX_PARTIES:
        raise DrawError(f"The draw takes at most {MAX_PARTIES} parties, not {len(given)}.")
    refs = _certainly_valid(given, sessions)
    plain = refs is not None
    if refs is None:
        for party in given:
            if not isinstance(party, Party):
                raise DrawError(f"Expected a Party, not {type(party).__name__}.")
            _check_party(party, sessions)
        refs = list(map(_REF, given))
    positions = sorted(range(len(given)), key=refs.__getitem__)
    refs = list(map(refs.__getitem__, positions))
    if any(map(eq, refs, islice(refs, 1, None))):
        for before, after in pairwise(refs):
            if before == after:
                raise DrawError(f"Party reference {after} appears twice.")
    return _Sorted(given, positions, refs, plain)


def _sessions(seats: Iterable[Seats]) -> list[Seats]:
    """The sessions, checked, sorted by id."""
    rows: dict[str, Seats] = {}
    for row in seats:
        if not isinstance(row, Seats):
            raise DrawError(f"Expected Seats, not {type(row).__name__}.")
        session = _check_name(row.session, "session id")
        if not _is_int(row.capacity) or row.capacity < 0:
            raise DrawError(f"Session {session} has capacity {row.capacity!r:.40}; need >= 0.")
        if row.status not in STATUSES:
            raise DrawError(
                f"Session {session} has status {row.status!r:.40}; not one of {STATUSES}."
            )
        if session in rows:
            raise DrawError(f"Session {session} appears twice in the seats.")
        rows[session] = row
    if not rows:
        raise DrawError("The draw needs at least one session.")
    return [rows[session] for session in sorted(rows)]


def _capacities(seats: Iterable[Seats]) -> dict[str, int]:
    """Seats each session has in the draw: none for a cancelled one."""
    return {row.session: row.capacity if row.status == SCHEDULED else 0 for row in _sessions(seats)}


# --- The published inputs ----------------------------------------------------


def canonical_list(parties: Iterable[Party]) -> bytes:
    """The application list as published bytes: parties sorted by ref, one line
    each, ``ref|size|choice1,choice2,...|tier`` ending in ``\\n``, UTF-8 (all
    fields are ASCII). Sizes and tiers are decimal with no leading zeros."""
    return _sorted(parties).canonical()


def sealed_text(parties: Iterable[Party], seats: Iterable[Seats], seal: Seal) -> bytes:
    """Everything the draw depends on, as the bytes whose SHA-256 is published
    at the seal (docs/draw.md, section 2)::

        headon-draw-v2
        mechanism|group_rsd_fair
        tiers|on                  (or off)
        commitment|<64 hex>       (or none)
        sealed_at|<Unix seconds>
        beacon|drand-quicknet|<offset>|<round>
        sessions|<count>
        <id>|<capacity>|<status>  (one per session, sorted by id)
        parties|<count>
        <canonical list>          (one line per party, sorted by ref)
    """
    seal.check()
    sessions = _sessions(seats)
    by_ref = _sorted(parties, {row.session: row.capacity for row in sessions})
    return _sealed_bytes(by_ref, sessions, seal) + by_ref.canonical()


def _sealed_bytes(by_ref: _Sorted, sessions: Sequence[Seats], seal: Seal) -> bytes:
    """The sealed text up to the canonical list."""
    head = [
        ALGORITHM_VERSION,
        f"mechanism|{seal.mechanism}",
        f"tiers|{'on' if seal.tiers else 'off'}",
        f"commitment|{seal.commitment or 'none'}",
        f"sealed_at|{seal.sealed_at}",
        f"beacon|{BEACON_NETWORK}|{seal.beacon_offset}|{seal.beacon_round}",
        f"sessions|{len(sessions)}",
        *(f"{row.session}|{row.capacity}|{row.status}" for row in sessions),
        f"parties|{len(by_ref.refs)}",
    ]
    return "".join(line + "\n" for line in head).encode("ascii")


def sealed_hash(parties: Iterable[Party], seats: Iterable[Seats], seal: Seal) -> str:
    """SHA-256 (lowercase hex) of :func:`sealed_text`."""
    return hashlib.sha256(sealed_text(parties, seats, seal)).hexdigest()


def seed_source(randomness: bytes, secret: bytes | None = None) -> bytes:
    """The seed's source: the beacon round's 32 bytes of randomness, then the
    organiser secret if one is used. A secret is never the source alone."""
    if not isinstance(randomness, bytes) or len(randomness) != RANDOMNESS_BYTES:
        raise DrawError("A beacon round's randomness is exactly 32 bytes.")
    if secret is None:
        return randomness
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise DrawError(f"An organiser secret must be at least {MIN_SECRET_BYTES} bytes.")
    return randomness + secret


def new_secret() -> bytes:
    """A fresh organiser secret: 32 bytes from the operating system."""
    return os.urandom(32)


def commitment_for_secret(secret: bytes) -> str:
    """What is published before close: SHA-256 (hex) of the organiser secret."""
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise DrawError(f"An organiser secret must be at least {MIN_SECRET_BYTES} bytes.")
    return hashlib.sha256(secret).hexdigest()


def derive_seed(*, source: bytes, sealed_hash: str, algorithm: str = ALGORITHM_VERSION) -> bytes:
    """The 32-byte seed: SHA-256 of ``b"headon-draw-seed\\x00" + algorithm +
    b"\\x00" + source + b"\\x00" + sealed_hash`` (algorithm and hash as
    ASCII). ``source`` is :func:`seed_source`: the beacon round's randomness,
    then the organiser secret if any. The hash is fixed-length and last, so a
    NUL inside the source cannot make two different inputs collide."""
    if not isinstance(source, bytes) or not source:
        raise DrawError("The seed source must be non-empty bytes.")
    if not isinstance(sealed_hash, str) or not _HEX64_RE.fullmatch(sealed_hash):
        raise DrawError("The sealed hash must be 64 lowercase hex digits.")
    if not isinstance(algorithm, str) or not _NAME_RE.fullmatch(algorithm):
        raise DrawError(f"Unknown algorithm name {algorithm!r:.40}.")
    material = b"".join(
        [SEED_DOMAIN, algorithm.encode("ascii"), b"\x00", source, b"\x00", sealed_hash.encode()]
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


# 4-byte words for unpacking up to 4-byte reads at once: "I" on most platforms.
_WORD = next(code for code in "IL" if array(code).itemsize == 4)


def _words(data: bytes, width: int, bits: int) -> list[int]:
    """``data`` cut into ``width``-byte big-endian integers, each cut to its low
    ``bits`` bits: what successive reads in `HashStream.below` see."""
    top = bytes(b & ((1 << (bits - 8 * (width - 1))) - 1) for b in range(256))
    if width > 4:  # only for more than 2**32 items; kept for completeness
        mask = (1 << bits) - 1
        return [
            int.from_bytes(data[k : k + width], "big") & mask for k in range(0, len(data), width)
        ]
    padded = bytearray(4 * (len(data) // width))
    padded[4 - width :: 4] = data[0::width].translate(top)
    for k in range(1, width):
        padded[4 - width + k :: 4] = data[k::width]
    words = array(_WORD, padded)
    if sys.byteorder == "little":
        words.byteswap()
    return words.tolist()


def _fisher_yates(out: list[Any], seed: bytes) -> None:
    """`shuffle` in place, with the same swaps as the loop over `below` that
    docs/draw.md specifies, a few times faster. For every i with the same bit
    length, `below(i + 1)` reads same-width words one after another from the
    stream, so a whole run of them is unpacked at once and only the
    accept-or-reject walk is left to Python."""
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise DrawError("A seed is exactly 32 bytes.")
    stream, counter, pos = b"", 0, 0
    i = len(out) - 1
    while i > 0:
        bits = i.bit_length()
        width, last = (bits + 7) // 8, 1 << (bits - 1)  # `last`: the smallest i of this run
        # Each i takes fewer than two reads; unpack a little more than that.
        count = min(2 * (i - last + 1) + 16, 1 << 16)
        if len(stream) - pos < count * width:
            blocks = count * width // 32 + 1
            stream = stream[pos:] + b"".join(
                hashlib.sha256(seed + k.to_bytes(8, "big")).digest()
                for k in range(counter, counter + blocks)
            )
            counter, pos = counter + blocks, 0
        words = _words(stream[pos : pos + count * width], width, bits)
        unread = iter(words)
        for value in unread:
            if value <= i:
                out[i], out[value] = out[value], out[i]
                i -= 1
                if i < last:
                    break
        pos += (len(words) - length_hint(unread)) * width


def shuffle(items: Sequence[str], seed: bytes) -> list[str]:
    """Fisher–Yates (Durstenfeld): for i from len-1 down to 1, swap items i and
    ``below(i + 1)`` of a `HashStream` on ``seed``."""
    out = list(items)
    _fisher_yates(out, seed)
    return out


def draw_order(parties: Iterable[Party], seed: bytes, *, tiers: bool = False) -> list[str]:
    """The draw order as refs: shuffle the refs sorted ascending; with tiers,
    then stable-sort by tier (lower first), keeping the random order inside a
    tier."""
    by_ref = _sorted(parties)
    return list(map(by_ref.refs.__getitem__, _order(by_ref.rows(), seed, tiers=tiers)))


def _order(sorted_parties: Sequence[Party], seed: bytes, *, tiers: bool) -> list[int]:
    """The draw order as positions in ``sorted_parties``: shuffling positions
    moves the same items as shuffling refs, and needs no lookup by ref after."""
    order = list(range(len(sorted_parties)))
    _fisher_yates(order, seed)
    if tiers:
        order.sort(key=list(map(_TIER, sorted_parties)).__getitem__)
    return order


# --- The mechanism ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    offers: dict[str, str]
    waitlist: list[str]
    seats_left: dict[str, int]
    closed: list[str]


def _assign(
    order: Sequence[Party],
    capacities: Mapping[str, int],
    *,
    fair: bool,
    refs: Sequence[str] | None = None,
) -> _Outcome:
    """Group random serial dictatorship. In order, a party takes its first
    choice with room for the whole party; no room anywhere: waitlist.

    With ``fair``, a session that turns a party away (too few seats left for
    it) is closed to every later party. In the plain version a party of four
    turned away by the last three seats is overtaken by the parties of one and
    two behind it; that "leapfrogging" is the source of the bias against large
    parties that Arnosti & Bonet measure. Closing costs at most (largest party
    - 1) seats per session in the draw; they go to waitlist promotion.

    ``refs``, the refs of ``order`` if the caller has them, saves looking
    them up again."""
    left = dict(capacities)
    closed: set[str] = set()
    offers: dict[str, str] = {}
    waitlist: list[str] = []
    # Sessions no later party can take: closed, or without a seat. A party
    # that chose only those is waitlisted without walking its choices, and
    # once every session is one, so is the rest of the order at once: in an
    # oversubscribed draw, nearly all of it.
    dead = {session for session, seats in left.items() if seats == 0}
    for k, party in enumerate(order):
        if len(dead) == len(left):
            waitlist.extend(refs[k:] if refs is not None else map(_REF, order[k:]))
            if fair:
                _close_reached(order[k:], closed, dead)
            break
        if dead.issuperset(party.choices):
            if fair:  # each of them turns the party away
                closed.update(party.choices)
            waitlist.append(party.ref)
            continue
        for session in party.choices:
            if session in closed:
                continue
            if left[session] >= party.size:
                left[session] -= party.size
                offers[party.ref] = session
                if not left[session]:
                    dead.add(session)
                break
            if fair:
                closed.add(session)
                dead.add(session)
        else:
            waitlist.append(party.ref)
    return _Outcome(offers, waitlist, left, sorted(closed))


def _close_reached(rest: Sequence[Party], closed: set[str], dead: set[str]) -> None:
    """Close what the loop would have closed while waitlisting ``rest``: each
    session without a seat that one of these parties chose."""
    pending = dead - closed
    for party in rest:
        if not pending:
            break
        if reached := pending.intersection(party.choices):
            closed |= reached
            pending -= reached


@dataclass(frozen=True)
class DrawResult:
    """Everything a draw decided, and the inputs that decided it."""

    algorithm: str
    mechanism: str
    tiers: bool
    seed: bytes
    parties: tuple[Party, ...]  # sorted by ref
    sessions: tuple[Seats, ...]  # sorted by id
    capacities: dict[str, int]  # seats in the draw: none for a cancelled session
    order: list[str]
    offers: dict[str, str]
    waitlist: list[str]
    seats_left: dict[str, int]
    closed: list[str]  # sessions closed by the no-leapfrogging rule
    # Only a sealed draw has a record: what was sealed, its hash, and the
    # seed's sources (the beacon round's signature, the revealed secret).
    seal: Seal | None = None
    sealed_hash: str | None = None
    signature: str | None = None
    secret: bytes | None = None

    def _head(self) -> dict[str, Any]:
        seal = self.seal
        if seal is None:
            raise DrawError("Only a sealed draw has a record.")
        return {
            "format": RECORD_FORMAT,
            "algorithm": self.algorithm,
            "mechanism": self.mechanism,
            "tiers": self.tiers,
            "commitment": seal.commitment,
            "secret": self.secret.hex() if self.secret is not None else None,
            "sealed_at": seal.sealed_at,
            "beacon": {
                "network": BEACON_NETWORK,
                "chain_hash": beacon.CHAIN_HASH,
                "offset": seal.beacon_offset,
                "round": seal.beacon_round,
                "signature": self.signature,
            },
            "sealed_hash": self.sealed_hash,
            "seed": self.seed.hex(),
            "sessions": [
                {"id": row.session, "capacity": row.capacity, "status": row.status}
                for row in self.sessions
            ],
        }

    def record(self) -> dict[str, Any]:
        """The published record (JSON-serialisable): enough to re-run the draw.
        The format is described in docs/draw.md; `write_record` writes it."""
        head = self._head()
        with _gc_paused():
            return {
                **head,
                "parties": [
                    {"ref": p.ref, "size": p.size, "choices": list(p.choices), "tier": p.tier}
                    for p in self.parties
                ],
                "order": list(self.order),
                "outcome": {ref: self.offers.get(ref) for ref in self.order},
                "waitlist": list(self.waitlist),
                "seats_left": dict(sorted(self.seats_left.items())),
            }

    def write_record(self, fh: TextIO) -> None:
        """Write the record to ``fh`` as the text of ``json.dumps(self.record())``,
        character for character, without a dict per party: for a million
        parties about 1 s and little memory instead of about 7 s and 1 GB.

        The parties are the canonical list rewritten: its separators become
        JSON punctuation. That, and writing names between quotes, is only the
        same as `json.dumps` when no name needs escaping and every size and
        tier is a plain int; `run_draw` keeps the list for results where it
        checked that, and other results take the slow path."""
        canonical: bytes | None = getattr(self, "_canonical", None)
        if canonical is None or self.seal is None:
            fh.write(json.dumps(self.record()))
            return
        # Everything goes out in pieces of about a megabyte: small enough to
        # stay in the processor's cache between steps, which halves the time.
        as_json: dict[str | None, str] = {s: f'"{s}"' for s in self.capacities}
        as_json[None] = "null"
        offers = map(as_json.__getitem__, map(self.offers.get, self.order))
        fh.write(json.dumps(self._head())[:-1] + ', "parties": [')
        record_text.write_joined(
            fh, map(record_text.canonical_as_json, record_text.lines(canonical.decode("ascii")))
        )
        fh.write('], "order": [')
        record_text.write_joined(fh, map(record_text.quoted, record_text.pieces(self.order)))
        fh.write('], "outcome": {')
        record_text.write_joined(
            fh,
            (
                record_text.pairs(refs, list(islice(offers, len(refs))))
                for refs in record_text.pieces(self.order)
            ),
        )
        fh.write('}, "waitlist": [')
        record_text.write_joined(fh, map(record_text.quoted, record_text.pieces(self.waitlist)))
        fh.write(f'], "seats_left": {json.dumps(dict(sorted(self.seats_left.items())))}}}')


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. Building a million small dicts or
    lists would otherwise make it walk every live object again and again:
    three quarters of the time `record()` took. None of them is in a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_draw(
    *,
    parties: Iterable[Party],
    seats: Iterable[Seats],
    mechanism: str,
    tiers: bool = False,
    seed: bytes | None = None,
    algorithm_version: str = ALGORITHM_VERSION,
    seal: Seal | None = None,
    signature: str | None = None,
    secret: bytes | None = None,
) -> DrawResult:
    """Run the draw. ``tiers`` turns on priority tiers (off by default).

    A real draw passes its ``seal`` and the beacon round's ``signature`` (and
    the organiser ``secret`` when the commitment names one): the signature is
    checked against quicknet's public key, the seed is derived from them and
    the sealed hash, and the result has a record. A bare ``seed`` runs the
    mechanism alone (the simulation, the benchmarks)."""
    if algorithm_version != ALGORITHM_VERSION:
        raise DrawError(f"This code runs {ALGORITHM_VERSION}, not {algorithm_version!r:.40}.")
    if mechanism not in MECHANISMS:
        raise DrawError(f"Unknown mechanism {mechanism!r:.40}; choose one of {MECHANISMS}.")
    sessions = _sessions(seats)
    capacities = _capacities(sessions)
    by_ref = _sorted(parties, capacities)
    canonical = by_ref.canonical()
    digest = None
    if seal is not None:
        seal.check()
        if (seal.mechanism, seal.tiers) != (mechanism, tiers):
            raise DrawError("The draw must run with the mechanism and tiers flag it sealed.")
        if (secret is None) != (seal.commitment is None):
            raise DrawError("An organiser secret goes with a commitment, and only with one.")
        if secret is not None and commitment_for_secret(secret) != seal.commitment:
            raise DrawError("This secret is not the one committed to.")
        try:
            randomness = beacon.verify_round(beacon.Round(seal.beacon_round, signature or ""))
        except beacon.BeaconError as exc:
            raise DrawError(str(exc)) from None
        digest = hashlib.sha256(_sealed_bytes(by_ref, sessions, seal) + canonical).hexdigest()
        derived = derive_seed(source=seed_source(randomness, secret), sealed_hash=digest)
        if seed is not None and seed != derived:
            raise DrawError("This seed does not derive from the beacon round and the seal.")
        seed = derived
    elif seed is None:
        raise DrawError("A draw needs its seal and beacon round, or a seed.")
    rows = by_ref.rows()
    order = _order(rows, seed, tiers=tiers)
    ordered = list(map(rows.__getitem__, order))
    refs = list(map(by_ref.refs.__getitem__, order))
    outcome = _assign(ordered, capacities, fair=mechanism == GROUP_RSD_FAIR, refs=refs)
    result = DrawResult(
        algorithm=algorithm_version,
        mechanism=mechanism,
        tiers=tiers,
        seed=seed,
        parties=tuple(rows),
        sessions=tuple(sessions),
        capacities=capacities,
        order=refs,
        offers=outcome.offers,
        waitlist=outcome.waitlist,
        seats_left=outcome.seats_left,
        closed=outcome.closed,
        seal=seal,
        sealed_hash=digest,
        signature=signature if seal is not None else None,
        secret=secret,
    )
    if by_ref.plain:  # names need no escaping, sizes and tiers are ints: see write_record
        object.__setattr__(result, "_canonical", canonical)
    return result
