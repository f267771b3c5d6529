"""Visit tickets: a signed code per visitor that the gate can check offline.

Plain data in, plain data out; no Django import (STYLE.md, "Shape" 2). A
ticket is a short binary payload signed with Ed25519, so anyone holding the
published public key (PEM) can check a ticket with no network and no
database; ``verify_ticket.py`` next to this module does it with the standard
library and ``cryptography`` only.

Format, version 1 (all integers big-endian, 90 bytes in all)::

    payload   = version        1 byte, 1
                key id         4 bytes, the first 4 bytes of SHA-256(raw public key)
                program id     4 bytes, unsigned
                session id     4 bytes, unsigned
                ticket id      4 bytes, unsigned
                visitor        1 byte, 0 the lead applicant, 1.. the companions
                valid from     4 bytes, minutes since 1970-01-01T00:00Z
                valid until    4 bytes, minutes since 1970-01-01T00:00Z
    signature = Ed25519(private key, b"headon-ticket-v1\\x00" + payload), 64 bytes
    code      = Crockford base32 of payload + signature, 144 characters

The domain prefix keeps a ticket signature from ever being valid as any other
message the same key might sign. The key id lets keys rotate: old tickets stay
valid while their key is still in the verifier's set.

Why Crockford base32 and not base45 (RFC 9285, which EU vaccine passes use
because it fills QR alphanumeric mode exactly): measured with segno over
payloads of 18 to 28 bytes plus the signature, base45 saves 9 characters but
gives the same QR version at every error level that matters: version 5 at L,
version 6 (41 x 41 modules) at M. Base32's alphabet is also safe to type:
no space or ``$%*+-./:``, so spaces and hyphens can be ignored, case does not
matter, and O/0 and I/L/1 can be read as one. Raw bytes in QR byte mode would
save no version at M either, and a camera decoder hands back text. So the QR
holds the 144-character code at error level M (version 6; 15 % of it can be
damaged or glared), and people see it grouped as ``XXXX-XXXX-...``.

A short code, for people to type when a QR code will not scan
(:func:`short_code`): the ticket id in the same base32, then
``SHORT_CHECK`` characters of an HMAC-SHA-256 over the ticket and session
ids, keyed by a key derived from the signing key (:func:`short_code_key`).
A ticket 1234 reads ``16J-XXXX-XXXX-XX``: 13 characters instead of 144.
It cannot be checked with the public key, only by who holds the signing
key (the server, or a gate laptop given the derived key); 50 check bits
mean a script that types guesses at the gate's rate limit would need
millions of years to hit one of a session's tickets.

Bad input to :func:`verify_ticket` raises a `TicketError` subclass whose
``code`` (``malformed``, ``wrong_version``, ``unknown_key``,
``bad_signature``) is stable, for the gate page to translate; whether the
ticket is valid *now* is :meth:`TicketClaims.valid_at`, for the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import struct
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "CODE_LENGTH",
    "VERSION",
    "BadSignatureError",
    "MalformedTicketError",
    "TicketClaims",
    "TicketError",
    "UnknownKeyError",
    "WrongVersionError",
    "format_code",
    "format_short_code",
    "generate_key",
    "key_id_for",
    "normalise_typed_code",
    "parse_short_code",
    "private_key_from_bytes",
    "private_key_to_bytes",
    "public_key_from_pem",
    "public_key_pem",
    "public_keys_by_id",
    "qr_png",
    "qr_svg",
    "short_code",
    "short_code_key",
    "short_code_matches",
    "sign_ticket",
    "verify_ticket",
]

VERSION: Final = 1
DOMAIN: Final = b"headon-ticket-v1\x00"
_PAYLOAD: Final = struct.Struct(">BIIIIBII")
SIGNATURE_BYTES: Final = 64
TICKET_BYTES: Final = _PAYLOAD.size + SIGNATURE_BYTES
CODE_LENGTH: Final = (TICKET_BYTES * 8 + 4) // 5
GROUP: Final = 4
# A typed code with a hyphen after each group and some stray spaces stays far
# below this; the cap bounds the work done on hostile input before decoding.
MAX_TYPED_LENGTH: Final = 1000
# Shorter than a signature and a minimal payload cannot be a ticket of any
# version, so it is reported as malformed (part of the code is missing), not
# as a version this server does not read.
_MIN_ANY_VERSION: Final = SIGNATURE_BYTES + 8
QR_ERROR: Final = "m"
QR_BORDER: Final = 4  # the quiet zone the QR standard asks for, in modules

_UINT32: Final = 2**32
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE: Final = timedelta(minutes=1)

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Upper case only: normalise_typed_code folds case and reads O as 0, I and L as 1.
_DECODE: Final = {c: i for i, c in enumerate(_ALPHABET)}
# What a person may type between characters, or an IME may turn a hyphen into.
_IGNORED: Final = frozenset(" -_\t\r\n\u00a0\u2010\u2011\u2012\u2013\u2014\u2212\u3000")


class TicketError(ValueError):
    """A code that is not a valid ticket. ``code`` is stable and short, for
    the gate page to map to a translated message; the text is English."""

    code: ClassVar[str] = "invalid"


class MalformedTicketError(TicketError):
    code = "malformed"


class WrongVersionError(TicketError):
    code = "wrong_version"


class UnknownKeyError(TicketError):
    code = "unknown_key"


class BadSignatureError(TicketError):
    code = "bad_signature"


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a ticket says. Ids fit in 32 bits; ``visitor`` is 0 for the lead
    applicant and 1-255 for the companions; the validity window is aware
    datetimes on whole minutes (the code stores minutes), ``valid_from`` not
    after ``valid_until``. Breaking a rule raises `ValueError` at once, so a
    ticket that could not round-trip is never signed."""

    program_id: int
    session_id: int
    ticket_id: int
    visitor: int
    valid_from: datetime
    valid_until: datetime

    def __post_init__(self) -> None:
        for name in ("program_id", "session_id", "ticket_id"):
            _check_int(name, getattr(self, name), _UINT32)
        _check_int("visitor", self.visitor, 256)
        start = _to_minutes("valid_from", self.valid_from)
        if _to_minutes("valid_until", self.valid_until) < start:
            raise ValueError("valid_until is before valid_from.")

    def valid_at(self, moment: datetime) -> bool:
        """True when ``moment`` (aware) is inside the window, both ends included."""
        if moment.tzinfo is None:
            raise ValueError("valid_at needs an aware datetime.")
        return self.valid_from <= moment <= self.valid_until


def _check_int(name: str, value: object, limit: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise ValueError(f"{name} must be an integer in [0, {limit}), not {value!r:.40}.")


def _to_minutes(name: str, moment: object) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime, not {moment!r:.60}.")
    minutes, rest = divmod(moment - _EPOCH, _MINUTE)
    if rest:
        raise ValueError(f"{name} must be on a whole minute: {moment.isoformat()}.")
    if not 0 <= minutes < _UINT32:
        raise ValueError(f"{name} is outside 1970-01-01..10136: {moment.isoformat()}.")
    return int(minutes)


def _from_minutes(minutes: int) -> datetime:
    return _EPOCH + minutes * _MINUTE


# --- Keys ----------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    """A fresh signing key from the operating system's random source."""
    return Ed25519PrivateKey.generate()


def private_key_to_bytes(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of a signing key, for storing it (encrypted) at rest."""
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def private_key_from_bytes(data: bytes) -> Ed25519PrivateKey:
    if not isinstance(data, bytes) or len(data) != 32:
        raise ValueError("An Ed25519 private key is 32 raw bytes.")
    return Ed25519PrivateKey.from_private_bytes(data)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(key: Ed25519PublicKey) -> int:
    """The first 4 bytes of SHA-256 of the 32 raw public key bytes, as an int."""
    return int.from_bytes(hashlib.sha256(_raw_public(key)).digest()[:4], "big")


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The published form of a verification key: SubjectPublicKeyInfo PEM,
    which OpenSSL, ``cryptography`` and WebCrypto importers all read."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_from_pem(text: str | bytes) -> Ed25519PublicKey:
    data = text.encode("ascii") if isinstance(text, str) else text
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ValueError("Not a PEM public key.") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"Expected an Ed25519 public key, not {type(key).__name__}.")
    return key


def public_keys_by_id(keys: Iterable[Ed25519PublicKey]) -> dict[int, Ed25519PublicKey]:
    """The mapping :func:`verify_ticket` takes, from the current and retired keys."""
    return {key_id_for(key): key for key in keys}


# --- Base32 --------------------------------------------------------------------


def _b32encode(data: bytes) -> str:
    bits = len(data) * 8
    length = (bits + 4) // 5
    number = int.from_bytes(data, "big") << (length * 5 - bits)
    chars = [_ALPHABET[(number >> shift) & 31] for shift in range(length * 5 - 5, -1, -5)]
    return "".join(chars)


def _b32decode(text: str) -> bytes:
    """Decode canonical Crockford base32: the padding bits after the last byte
    must be zero, so every distinct code is a distinct ticket (otherwise
    flipping a padding bit would give a second, equally valid code)."""
    number = 0
    for char in text:
        value = _DECODE.get(char)
        if value is None:
            raise MalformedTicketError(f"A ticket code has no {char!r}.")
        number = (number << 5) | value
    size, padding = divmod(len(text) * 5, 8)
    if padding >= 5 or number & ((1 << padding) - 1):
        raise MalformedTicketError("A ticket code cannot end like that.")
    return (number >> padding).to_bytes(size, "big")


def normalise_typed_code(text: str) -> str:
    """A code as typed or scanned, made canonical: full-width forms folded to
    ASCII (NFKC, for Chinese input methods), spaces and hyphens dropped,
    upper case, O as 0, I and L as 1. Characters outside the alphabet are
    kept, so decoding reports them; this function never raises on a string."""
    folded = unicodedata.normalize("NFKC", text[:MAX_TYPED_LENGTH]).upper()
    kept = (c for c in folded if c not in _IGNORED)
    return "".join(c if c not in "OIL" else "0" if c == "O" else "1" for c in kept)


def format_code(code: str) -> str:
    """The code for people: upper case, in hyphenated groups of four."""
    plain = normalise_typed_code(code)
    return "-".join(plain[i : i + GROUP] for i in range(0, len(plain), GROUP))


# --- Signing and verifying -----------------------------------------------------


def sign_ticket(claims: TicketClaims, private_key: Ed25519PrivateKey) -> str:
    """The canonical code (upper case, no hyphens) for ``claims``. Signing
    the same claims twice gives the same code: Ed25519 is deterministic."""
    payload = _PAYLOAD.pack(
        VERSION,
        key_id_for(private_key.public_key()),
        claims.program_id,
        claims.session_id,
        claims.ticket_id,
        claims.visitor,
        _to_minutes("valid_from", claims.valid_from),
        _to_minutes("valid_until", claims.valid_until),
    )
    return _b32encode(payload + private_key.sign(DOMAIN + payload))


def verify_ticket(code: str, public_keys: Mapping[int, Ed25519PublicKey]) -> TicketClaims:
    """The claims of a typed or scanned ``code`` if one of ``public_keys`` (by
    key id, see :func:`public_keys_by_id`) signed it; otherwise a
    `TicketError`. Checks run cheapest first: the signature is checked last."""
    if not isinstance(code, str) or len(code) > MAX_TYPED_LENGTH:
        raise MalformedTicketError("A ticket code is a short string.")
    data = _b32decode(normalise_typed_code(code))
    if len(data) < _MIN_ANY_VERSION:
        raise MalformedTicketError("The ticket code is too short; part of it is missing.")
    if data[0] != VERSION:
        raise WrongVersionError(f"Ticket format {data[0]} is not one this server reads.")
    if len(data) != TICKET_BYTES:
        raise MalformedTicketError(f"A ticket code has {CODE_LENGTH} characters.")
    payload, signature = data[: _PAYLOAD.size], data[_PAYLOAD.size :]
    _, key_id, program, session, ticket, visitor, start, end = _PAYLOAD.unpack(payload)
    key = public_keys.get(key_id)
    if key is None:
        raise UnknownKeyError(f"No key {key_id:08x} among the ticket keys.")
    try:
        key.verify(signature, DOMAIN + payload)
    except InvalidSignature:
        raise BadSignatureError("The ticket's signature does not match.") from None
    try:
        return TicketClaims(
            program, session, ticket, visitor, _from_minutes(start), _from_minutes(end)
        )
    except (ValueError, OverflowError) as exc:  # signed, yet out of range: a signer bug
        raise MalformedTicketError(str(exc)) from None


# --- Short codes ---------------------------------------------------------------

SHORT_DOMAIN: Final = b"headon-ticket-short-v1\x00"
SHORT_CHECK: Final = 10  # base32 characters: 50 bits of the HMAC
# The longest a typed short code can be: a 32-bit ticket id is 7 characters.
SHORT_MAX: Final = 7 + SHORT_CHECK


def short_code_key(private_key: Ed25519PrivateKey) -> bytes:
    """The HMAC key of short codes, derived from the ticket signing key so
    that one secret is kept and rotated, and the derived key can be handed
    to a gate laptop without the power to sign long tickets."""
    return hashlib.sha256(
        b"headon-ticket-short-key\x00" + private_key_to_bytes(private_key)
    ).digest()


def _short_check(ticket_id: int, session_id: int, key: bytes) -> str:
    mac = hmac.new(key, SHORT_DOMAIN + struct.pack(">II", session_id, ticket_id), "sha256")
    number = int.from_bytes(mac.digest()[:8], "big") >> (64 - 5 * SHORT_CHECK)
    return "".join(_ALPHABET[(number >> s) & 31] for s in range(5 * SHORT_CHECK - 5, -1, -5))


def short_code(*, ticket_id: int, session_id: int, key: bytes) -> str:
    """The canonical short code of a ticket (upper case, no hyphens)."""
    _check_int("ticket_id", ticket_id, _UINT32)
    _check_int("session_id", session_id, _UINT32)
    digits = []
    number = ticket_id
    while True:
        number, rest = divmod(number, 32)
        digits.append(_ALPHABET[rest])
        if not number:
            break
    return "".join(reversed(digits)) + _short_check(ticket_id, session_id, key)


def format_short_code(code: str) -> str:
    """``16J-XXXX-XXXX-XX``: the ticket id, then the check in fours."""
    plain = normalise_typed_code(code)
    head, check = plain[:-SHORT_CHECK], plain[-SHORT_CHECK:]
    return "-".join([head] + [check[i : i + GROUP] for i in range(0, len(check), GROUP)])


def parse_short_code(text: str) -> tuple[int, str] | None:
    """(ticket id, check characters) of a typed short code, or None when
    it cannot be one (too long or short, or a character outside the alphabet)."""
    plain = normalise_typed_code(text)
    if not SHORT_CHECK < len(plain) <= SHORT_MAX or any(c not in _DECODE for c in plain):
        return None
    number = 0
    for char in plain[:-SHORT_CHECK]:
        number = (number << 5) | _DECODE[char]
    if number >= _UINT32:
        return None
    return number, plain[-SHORT_CHECK:]


def short_code_matches(code: str, *, session_id: int, key: bytes) -> int | None:
    """The ticket id if ``code`` is that ticket's short code for
    ``session_id`` under ``key``; None otherwise. Constant-time compare."""
    parsed = parse_short_code(code)
    if parsed is None:
        return None
    ticket_id, check = parsed
    expected = _short_check(ticket_id, session_id, key)
    return ticket_id if hmac.compare_digest(check, expected) else None


# --- QR codes ------------------------------------------------------------------


def _qr(code: str) -> segno.QRCode:
    # boost_error stays off so every ticket is the same version at level M
    # and the gate's scanner sees one predictable symbol size.
    return segno.make_qr(normalise_typed_code(code), error=QR_ERROR, boost_error=False)


def qr_svg(code: str, *, scale: int = 4, label: str = "Ticket QR code") -> str:
    """An SVG document for inline HTML: the QR of ``code`` with a white quiet
    zone, black modules as filled squares, no ``style`` attribute or element
    and no script (the site's CSP forbids inline style). It has a ``viewBox``
    so CSS can scale it, and ``width``/``height`` of ``scale`` pixels per
    module for when it cannot. ``label`` (translated by the caller) is the
    accessible name.

    Built from segno's module matrix rather than its SVG writer, which draws
    rows as half-pixel strokes (hairline seams when a phone scales it) and
    cannot write both a viewBox and a size, or a role and an accessible name.
    """
    matrix = _qr(code).matrix
    size = len(matrix) + 2 * QR_BORDER
    runs = []
    for y, row in enumerate(matrix, start=QR_BORDER):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append(f"M{start + QR_BORDER} {y}h{x - start}v1h-{x - start}z")
    pixels = size * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' width="{pixels}" height="{pixels}" class="ticket-qr" role="img"'
        f' aria-label="{html.escape(label, quote=True)}" shape-rendering="crispEdges">'
        f'<path fill="#fff" d="M0 0h{size}v{size}h-{size}z"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def qr_png(code: str, *, scale: int = 6) -> bytes:
    """The QR of ``code`` as a PNG (black on white, with the quiet zone), for
    e-mail clients that do not show inline SVG."""
    out = io.BytesIO()
    _qr(code).save(out, kind="png", scale=scale, border=QR_BORDER, dark="#000", light="#fff")
    return out.getvalue()
