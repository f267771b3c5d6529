"""Loaded by pytest (`-p headon.pytest_plugin` in pyproject.toml) before
Django's settings are read, so that every test run gets its own data
directory: tests never touch ./data (the demo) and two runs never share a
test database file."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("HEADON_DATA_DIR", tempfile.mkdtemp(prefix="headon-test-"))
# One-time codes land in headon.sms.outbox, where tests read them.
os.environ.setdefault("HEADON_SMS_BACKEND", "headon.sms.MemoryBackend")
# Easy proof-of-work, so tests (and the browser tests' pow.js) solve fast.
os.environ.setdefault("HEADON_POW_MAX_NUMBER", "2000")


def pytest_configure(config: pytest.Config) -> None:
    """Hash passwords with MD5 first, in the tests only: PBKDF2 costs about
    0.25 s of CPU a password by design, and the suite makes and checks
    thousands of them (every persona of every test case). Real hashes still
    verify: the production hashers stay in the list, after it."""
    from django.conf import settings
    from hypothesis import settings as hypothesis_settings

    # No timing assertions in unit tests: Hypothesis's default 200 ms per
    # example failed test_tickets.py's round trip at 317 ms while four test
    # processes shared two cores (0.7 ms when rerun). Speed is measured in
    # bench/, never asserted here.
    hypothesis_settings.register_profile("headon", deadline=None)
    hypothesis_settings.load_profile("headon")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
