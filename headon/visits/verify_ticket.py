"""Check a headon ticket offline: python verify_ticket.py --key tickets.pem CODE

Standalone on purpose: Python 3.9+ standard library and the ``cryptography``
package only, so a gate laptop, an auditor or another program can check a
ticket against the published key without headon and without a network.
Give ``--key`` once per published key (current and retired). The code may be
typed in any case, with spaces or hyphens, O for 0 and I or L for 1.
Exit code 0: signed by one of the keys, its claims printed as JSON (with
whether it is valid now); 1: not a valid ticket, the reason printed.
A short code (``16J-XXXX-XXXX-XX``) is checked with the secret short-code key
instead (``headon ticket_short_key FILE`` writes it) and the session's id:
python verify_ticket.py --short-key short.key --session 12 16J-XXXX-XXXX-XX
The format is described in headon/visits/tickets.py.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import struct
import sys
import unicodedata
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DOMAIN = b"headon-ticket-v1\x00"
PAYLOAD = struct.Struct(
    ">BIIIIBII"
)  # version, key id, program, session, ticket, visitor, from, until
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
DECODE = {c: i for i, c in enumerate(ALPHABET)}
DECODE.update({"O": 0, "I": 1, "L": 1})
UTC = timezone.utc  # noqa: UP017 (datetime.UTC is Python 3.11+; this file runs on 3.9)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidTicketError(Exception):
    pass


def load_key(path: str) -> tuple[int, Ed25519PublicKey]:
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise SystemExit(f"{path} is not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return int.from_bytes(hashlib.sha256(raw).digest()[:4], "big"), key


def decode(code: str) -> bytes:
    text = unicodedata.normalize("NFKC", code[:1000]).upper()
    number, count = 0, 0
    for char in text:
        if char in " -_\t\r\n":
            continue
        if char not in DECODE:
            raise InvalidTicketError("malformed")
        number, count = (number << 5) | DECODE[char], count + 1
    size, padding = divmod(count * 5, 8)
    if padding >= 5 or number & ((1 << padding) - 1):  # padding bits must be zero
        raise InvalidTicketError("malformed")
    return (number >> padding).to_bytes(size, "big")


def verify(code: str, keys: dict[int, Ed25519PublicKey]) -> dict[str, object]:
    data = decode(code)
    if len(data) < 72:
        raise InvalidTicketError("malformed")
    if data[0] != 1:
        raise InvalidTicketError("wrong_version")
    if len(data) != PAYLOAD.size + 64:
        raise InvalidTicketError("malformed")
    payload, signature = data[: PAYLOAD.size], data[PAYLOAD.size :]
    _, key_id, program, session, ticket, visitor, start, end = PAYLOAD.unpack(payload)
    if key_id not in keys:
        raise InvalidTicketError("unknown_key")
    try:
        keys[key_id].verify(signature, DOMAIN + payload)
    except InvalidSignature:
        raise InvalidTicketError("bad_signature") from None
    try:
        valid_from = EPOCH + timedelta(minutes=start)
        valid_until = EPOCH + timedelta(minutes=end)
    except OverflowError:  # after the year 9999: signed, but not by headon
        raise InvalidTicketError("malformed") from None
    now = datetime.now(UTC)
    return {
        "key_id": f"{key_id:08x}",
        "program_id": program,
        "session_id": session,
        "ticket_id": ticket,
        "visitor": visitor,
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
        "valid_now": valid_from <= now <= valid_until,
    }


SHORT_DOMAIN = b"headon-ticket-short-v1\x00"
SHORT_CHECK = 10


def verify_short(code: str, key: bytes, session: int) -> dict[str, object]:
    """A short code: the ticket id in base32, then 10 characters of the
    HMAC-SHA-256 over the session and ticket ids (headon/visits/tickets.py)."""
    text = "".join(c for c in unicodedata.normalize("NFKC", code[:100]).upper() if c not in " -_")
    if not SHORT_CHECK < len(text) <= SHORT_CHECK + 7 or any(c not in DECODE for c in text):
        raise InvalidTicketError("malformed")
    ticket = 0
    for char in text[:-SHORT_CHECK]:
        ticket = (ticket << 5) | DECODE[char]
    if ticket >= 2**32:
        raise InvalidTicketError("malformed")
    mac = hmac.new(key, SHORT_DOMAIN + struct.pack(">II", session, ticket), "sha256").digest()
    number = int.from_bytes(mac[:8], "big") >> (64 - 5 * SHORT_CHECK)
    expected = "".join(ALPHABET[(number >> s) & 31] for s in range(5 * SHORT_CHECK - 5, -1, -5))
    given = "".join(ALPHABET[DECODE[c]] for c in text[-SHORT_CHECK:])
    if not hmac.compare_digest(given, expected):
        raise InvalidTicketError("bad_check")
    return {"session_id": session, "ticket_id": ticket}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", action="append", default=[], help="a published PEM key")
    parser.add_argument("--short-key", help="the short-code key file (a secret), for a short code")
    parser.add_argument("--session", type=int, help="the session a short code is for")
    parser.add_argument("code", nargs="+", help="the ticket code (spaces are fine)")
    args = parser.parse_args(argv)
    if args.short_key:
        if args.session is None:
            parser.error("--short-key needs --session")
        with open(args.short_key, encoding="ascii") as f:
            secret = bytes.fromhex(f.read().strip())
    elif not args.key:
        parser.error("give --key (a published PEM key), or --short-key and --session")
    keys = dict(load_key(path) for path in args.key)
    try:
        if args.short_key:
            claims = verify_short(" ".join(args.code), secret, args.session)
        else:
            claims = verify(" ".join(args.code), keys)
    except InvalidTicketError as exc:
        print(f"not a valid ticket: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(claims, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
