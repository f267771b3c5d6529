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

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
