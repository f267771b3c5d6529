from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory, override_settings

from headon.antibot import store
from headon.antibot.models import Counter
from headon.antibot.ratelimit import client_ip, hashed_key, hit, ip_bucket

# The start of a minute, so that a 60-second window starts here too.
NOW = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)
PHONE = "+8613800138000"


@pytest.fixture(autouse=True)
def _empty_store(db):  # the store lives in the database
    store.clear()
    yield
    store.clear()


@time_machine.travel(NOW, tick=False)
def test_it_allows_the_limit_and_refuses_the_next_hit():
    results = [hit("otp", PHONE, limit=3, window_seconds=60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results[:3]] == [2, 1, 0]
    assert results[3].retry_after == 60


def test_it_allows_again_when_the_window_has_passed():
    with time_machine.travel(NOW, tick=False) as traveller:
        for _ in range(3):
            assert hit("otp", PHONE, limit=3, window_seconds=60).allowed
        traveller.shift(timedelta(seconds=45))
        refused = hit("otp", PHONE, limit=3, window_seconds=60)
        assert not refused.allowed
        assert refused.retry_after == 15
        traveller.shift(timedelta(seconds=15))
        assert hit("otp", PHONE, limit=3, window_seconds=60).allowed


@time_machine.travel(NOW, tick=False)
def test_scopes_and_keys_are_counted_apart():
    assert hit("otp", PHONE, limit=1, window_seconds=60).allowed
    assert not hit("otp", PHONE, limit=1, window_seconds=60).allowed
    assert hit("apply", PHONE, limit=1, window_seconds=60).allowed
    assert hit("otp", "+8613900139000", limit=1, window_seconds=60).allowed


@time_machine.travel(NOW, tick=False)
def test_the_counter_names_hold_no_phone_number():
    hit("otp", PHONE, limit=2, window_seconds=60)
    keys = list(Counter.objects.values_list("name", flat=True))
    assert keys
    assert not any(PHONE in key or "13800138000" in key for key in keys)
    assert any(hashed_key("otp", PHONE) in key for key in keys)


def test_the_key_hash_depends_on_the_secret_key():
    # A plain hash of a phone number is undone by hashing all phone numbers.
    with override_settings(SECRET_KEY="another secret key, long enough to be a real one"):
        other = hashed_key("otp", PHONE)
    assert other != hashed_key("otp", PHONE)


def test_it_refuses_nonsense_limits():
    with pytest.raises(ValueError, match="limit"):
        hit("otp", PHONE, limit=0, window_seconds=60)
    with pytest.raises(ValueError, match="limit"):
        hit("otp", PHONE, limit=5, window_seconds=0)


def _request(remote: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, headers=headers)


def test_client_ip_ignores_x_forwarded_for_without_proxies():
    assert client_ip(_request("198.51.100.1", "203.0.113.9")) == "198.51.100.1"


@override_settings(HEADON_PROXY_COUNT=1)
def test_client_ip_takes_the_address_the_proxy_saw():
    # The client wrote "1.2.3.4" itself; the proxy appended what it saw.
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"


@override_settings(HEADON_PROXY_COUNT=2)
def test_client_ip_falls_back_to_remote_addr_on_a_short_or_bad_header():
    assert client_ip(_request("10.0.0.2", "203.0.113.9")) == "10.0.0.2"
    assert client_ip(_request("10.0.0.2", "not an address, 10.0.0.1")) == "10.0.0.2"


def test_ip_bucket_is_one_ipv4_address_or_one_ipv6_slash_64():
    assert ip_bucket("203.0.113.9") == "203.0.113.9"
    assert ip_bucket("2001:db8:1:2:aaaa::1") == ip_bucket("2001:db8:1:2:bbbb::7")
    assert ip_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("::ffff:203.0.113.9") == "203.0.113.9"


# Several processes, one shared cache -----------------------------------------

PROCESSES = 4
HITS = 15
LIMIT = 10
REDIS_URL = os.environ.get("HEADON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _hammer(tmp_path: Path, backend: str, mode: str) -> int:
    """Run PROCESSES processes of HITS hits each at once; the total allowed."""
    if backend == "database":
        location = str(tmp_path / "cache.sqlite3")
        _create_tables(location)
    else:
        location = REDIS_URL
        _flush_redis()
    barrier = tmp_path / f"barrier-{mode}"
    barrier.mkdir()
    args = [backend, location, mode, str(HITS), str(LIMIT), str(barrier), str(PROCESSES)]
    command = [sys.executable, "-m", "headon.antibot.tests.hammer", *args]
    path = [str(settings.PROJECT_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # hammer configures Django itself
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(PROCESSES)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    return sum(int(output) for output in outputs)


def _create_tables(location: str) -> None:
    # The cache table (for the control) and the store's counter table, as
    # their migrations make them, without a second Django configuration here.
    import sqlite3

    with sqlite3.connect(location) as db:
        db.execute(
            "CREATE TABLE cache (cache_key varchar(255) NOT NULL PRIMARY KEY,"
            " value text NOT NULL, expires datetime NOT NULL)"
        )
        db.execute(
            "CREATE TABLE antibot_counter (name varchar(120) NOT NULL PRIMARY KEY,"
            " hits integer unsigned NOT NULL, expires real NOT NULL)"
        )
        db.execute(
            "CREATE TABLE antibot_claim (name varchar(120) NOT NULL PRIMARY KEY,"
            " owner varchar(120) NOT NULL, expires real NOT NULL)"
        )


def _flush_redis() -> None:
    redis = importlib.import_module("redis")  # optional: see BACKENDS
    redis.Redis.from_url(REDIS_URL).flushdb()


BACKENDS = [
    "database",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            find_spec("redis") is None, reason="NO REDIS CLIENT: the redis package is missing"
        ),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_harness_catches_a_counter_that_leaks_across_processes(tmp_path, backend):
    """The control: add + incr is a get and a set on the database cache, and
    the processes overwrite each other's counts. (Redis INCR is atomic, so
    there the counter holds too and the control has nothing to show.)"""
    allowed = _hammer(tmp_path, backend, "counter")
    if backend == "database":
        assert allowed > LIMIT
    else:
        assert allowed == LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_limit_holds_across_processes_sharing_a_cache(tmp_path, backend):
    assert _hammer(tmp_path, backend, "limit") == LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_solved_challenge_is_spent_once_across_processes(tmp_path, backend):
    assert _hammer(tmp_path, backend, "replay") == 1
