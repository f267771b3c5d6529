"""Fixed-window rate limits in the shared store (store.py).

A hit adds one to the counter of its key's current window, atomically, and
is allowed while the total is within the limit. The usual recipe, a cache's
`add` then `incr`, leaks on the database cache, where `incr` is a read and a
write that two processes can interleave (tests/test_ratelimit.py shows it);
the store's count is one atomic statement or Redis command instead.

Keys are keyed hashes: a phone number or an address never appears in the
store, and a plain SHA-256 of a phone number is reversed by trying them all.
A fixed window lets a client make up to 2 x limit hits around a window edge;
for flood control that is fine, and it costs no sorted sets.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from headon.antibot import store

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    retry_after: int  # seconds until the window ends; 0 when allowed
    remaining: int = 0  # hits left in this window after this one


def hashed_key(scope: str, key: str) -> str:
    return salted_hmac("headon.antibot.ratelimit", f"{scope}\0{key}").hexdigest()[:32]


def hit(
    scope: str,
    key: str,
    *,
    limit: int,
    window_seconds: int,
) -> RateLimitResult:
    """Count one hit for `key` (a phone number, an address) in `scope` and
    say whether it is within `limit` hits per `window_seconds`."""
    if not 1 <= limit <= MAX_LIMIT or window_seconds < 1:
        raise ValueError("limit must be in [1, 10000] and window_seconds at least 1")
    now = time.time()
    window = int(now // window_seconds)
    window_end = (window + 1) * window_seconds
    # The counter lives to the end of its window (and a second more, for
    # clocks that differ a little between processes); a new window, a new key.
    hits = store.count(f"rl:{scope}:{hashed_key(scope, key)}:{window}", expires=window_end + 1)
    if hits <= limit:
        return RateLimitResult(True, 0, limit - hits)
    return RateLimitResult(False, max(1, math.ceil(window_end - now)), 0)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with HEADON_PROXY_COUNT = n > 0
    reverse proxies in front, the n-th address from the right of
    X-Forwarded-For (each proxy appends the address it saw; anything further
    left was written by the client and can be anything)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(getattr(settings, "HEADON_PROXY_COUNT", 0))
    if proxies > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
            return forwarded[-proxies]
    return remote


def ip_bucket(address: str) -> str:
    """The unit to limit: one IPv4 address, or one IPv6 /64, since a single
    home or phone is handed a whole /64 and can pick any address in it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is one IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def hit_ip(request: HttpRequest, scope: str, *, limit: int, window_seconds: int) -> RateLimitResult:
    """`hit` for the request's client address."""
    key = ip_bucket(client_ip(request))
    return hit(scope, key, limit=limit, window_seconds=window_seconds)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def wait_message(retry_after: int) -> str:
    """A refusal that says how long to wait, in whole minutes."""
    minutes = max(1, math.ceil(retry_after / 60))
    return ngettext(
        "Too many attempts from here. Please try again in %(n)s minute.",
        "Too many attempts from here. Please try again in %(n)s minutes.",
        minutes,
    ) % {"n": minutes}
