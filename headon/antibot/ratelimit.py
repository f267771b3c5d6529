"""Fixed-window rate limits in Django's shared cache.

A window of `limit` hits is `limit` slots; a hit takes the first free slot
with `cache.add`, which is atomic on every backend that can be shared
between processes: Redis (SET NX), Memcached (add), the database cache (the
primary key; a second INSERT fails) and, within one process, local memory.
`cache.add` + `cache.incr` is the usual recipe, but `incr` is a plain get
then set on the database and file caches, so two processes can both read 3
and both write 4, and the limit leaks (tests/test_ratelimit.py shows it).
One `get_many` finds the free slots first, so an allowed hit costs two
round trips and a refused one costs one, whatever the limit.

Keys are keyed hashes: a phone number or an address never appears in the
cache, and a plain SHA-256 of a phone number is reversed by trying them all.
A fixed window lets a client make up to 2 x limit hits around a window edge;
for flood control that is fine, and it costs no sorted sets.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

MAX_LIMIT = 500  # one get_many of this many keys per hit is still cheap


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
    cache: BaseCache | None = None,
) -> RateLimitResult:
    """Count one hit for `key` (a phone number, an address) in `scope` and
    say whether it is within `limit` hits per `window_seconds`."""
    if not 1 <= limit <= MAX_LIMIT or window_seconds < 1:
        raise ValueError("limit must be in [1, 500] and window_seconds at least 1")
    cache = cache if cache is not None else caches["default"]
    now = time.time()
    window = int(now // window_seconds)
    window_end = (window + 1) * window_seconds
    # The slots live to the end of their window (and a second more, for
    # clocks that differ a little between processes); a new window has new keys.
    timeout = math.ceil(window_end - now) + 1
    prefix = f"rl:{scope}:{hashed_key(scope, key)}:{window}:"
    slots = [f"{prefix}{i}" for i in range(limit)]
    taken = cache.get_many(slots)
    free = [slot for slot in slots if slot not in taken]
    for position, slot in enumerate(free):
        if cache.add(slot, 1, timeout):
            return RateLimitResult(True, 0, len(free) - position - 1)
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
