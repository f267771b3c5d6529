"""One of several processes hitting one rate limit in a shared cache.

    python -m headon.antibot.tests.hammer BACKEND LOCATION MODE HITS LIMIT BARRIER_DIR PROCESSES

Configures Django on its own (a cache and nothing else), waits until every
process is ready, makes HITS hits and prints how many were allowed. MODE is
"limit" (headon.antibot.ratelimit.hit), "replay" (every process spends the
same proof-of-work solution: one may win) or "counter", the usual add + incr
recipe, kept as the control that shows this harness catches a leaking limit.
Reads are slowed by a few milliseconds in both modes, so that the processes
really interleave between reading and writing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings

KEY = "203.0.113.7"
SLOW_READ = 0.005
WINDOW = 10**9  # one window for the whole run: no edge to cross mid-test


def configure(backend: str, location: str) -> None:
    caches: dict[str, Any]
    databases: dict[str, Any] = {}
    if backend == "database":
        caches = {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache",
            # Culling at the default 300 entries would drop live slots.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
        databases = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": location,
                # As headon's settings: writers queue instead of failing.
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            }
        }
    else:
        caches = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    settings.configure(
        SECRET_KEY="hammer",
        INSTALLED_APPS=["headon.antibot"],  # the store's tables
        USE_TZ=True,
        DATABASES=databases,
        CACHES={"default": caches},
    )
    django.setup()


def slow_reads(cache: Any) -> None:
    for name in ("get", "get_many"):
        read = getattr(cache, name)

        def slowed(*args: Any, _read: Any = read, **kwargs: Any) -> Any:
            value = _read(*args, **kwargs)
            time.sleep(SLOW_READ)
            return value

        setattr(cache, name, slowed)


def counter_hit(cache: Any, limit: int) -> bool:
    key = f"counter:{KEY}"
    cache.add(key, 0, 60)
    return int(cache.incr(key)) <= limit


def wait_for_all(barrier: Path, processes: int) -> None:
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < processes and time.monotonic() < deadline:
        time.sleep(0.002)


def main(
    backend: str, location: str, mode: str, hits: str, limit: str, barrier: str, n: str
) -> None:
    configure(backend, location)
    from django.core.cache import caches

    from headon.antibot import services
    from headon.antibot.ratelimit import hit

    cache = caches["default"]
    slow_reads(cache)
    wait_for_all(Path(barrier), int(n))
    allowed = 0
    for _ in range(int(hits)):
        if mode == "limit":
            allowed += hit("hammer", KEY, limit=int(limit), window_seconds=WINDOW).allowed
        elif mode == "replay":
            # Every process presents the same solved challenge, again and again.
            allowed += services.first_use("one-challenge", int(time.time()) + 600)
        else:
            allowed += counter_hit(cache, int(limit))
    sys.stdout.write(f"{allowed}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
