"""The store that rate limits and proof-of-work replays share between every
web process: a hit counter per window and a one-use claim.

Each operation is one atomic round trip. On Redis (HEADON_REDIS_URL) a count
is INCR with EXPIREAT in one pipeline and a claim is SET NX. Otherwise the
database does it in one statement: an upsert that adds 1 and returns the
new count, or an INSERT ... ON CONFLICT DO NOTHING whose row count says who
claimed first. Both SQLite (3.35 and later) and PostgreSQL run these as
written, and two processes cannot both read 3 and write 4.

This replaced Django's database cache, which spent six statements on each
`add` (one of them a COUNT(*) over the whole table, to decide on culling);
during the opening rush that was a third of the server's time (bench/rush.py).
Rows outlive their window by a second and the worker's clock purges them.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from headon.antibot.models import Claim, Counter


def _redis() -> Any | None:
    """The Redis client behind the default cache, or None for the database."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)
    return None


def count(name: str, *, expires: float) -> int:
    """Add one hit to the counter `name` and return its total; the counter
    may be dropped after `expires` (unix time), so `name` names one window."""
    redis = _redis()
    if redis is not None:
        pipe = redis.pipeline()
        pipe.incr(name)
        pipe.expireat(name, math.ceil(expires))
        hits, _ = pipe.execute()
        return int(hits)
    table = connection.ops.quote_name(Counter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, hits, expires) VALUES (%s, 1, %s) "  # noqa: S608  # nosec B608
            f"ON CONFLICT (name) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [name, expires],
        )
        return int(cursor.fetchone()[0])


def claim(name: str, *, owner: str, expires: float) -> str | None:
    """Claim `name` for `owner` until `expires` (unix time). None if this call
    claimed it, otherwise the owner that holds it."""
    redis = _redis()
    if redis is not None:
        if redis.set(name, owner, nx=True, exat=math.ceil(expires)):
            return None
        held = redis.get(name)
        return held.decode() if held is not None else ""
    table = connection.ops.quote_name(Claim._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, owner, expires) VALUES (%s, %s, %s) "  # noqa: S608  # nosec B608
            "ON CONFLICT (name) DO NOTHING",
            [name, owner, expires],
        )
        if cursor.rowcount == 1:
            return None
    held = Claim.objects.filter(name=name).values_list("owner", flat=True).first()
    return held if held is not None else ""


def purge(now: float | None = None) -> int:
    """Delete the database's expired counters and claims (Redis expires its own)."""
    if _redis() is not None:
        return 0
    now = time.time() if now is None else now
    gone, _ = Counter.objects.filter(expires__lt=now).delete()
    more, _ = Claim.objects.filter(expires__lt=now).delete()
    return gone + more


def clear() -> None:
    """Forget every counter and claim (for tests)."""
    redis = _redis()
    if redis is not None:
        caches["default"].clear()
        return
    Counter.objects.all().delete()
    Claim.objects.all().delete()
