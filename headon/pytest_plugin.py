"""Loaded by pytest (`-p headon.pytest_plugin` in pyproject.toml) before
Django's settings are read, so that every test run gets its own data
directory: tests never touch ./data (the demo) and two runs never share a
test database file."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HEADON_DATA_DIR", tempfile.mkdtemp(prefix="headon-test-"))
# One-time codes land in headon.sms.outbox, where tests read them.
os.environ.setdefault("HEADON_SMS_BACKEND", "headon.sms.MemoryBackend")
# Easy proof-of-work, so tests (and the browser tests' pow.js) solve fast.
os.environ.setdefault("HEADON_POW_MAX_NUMBER", "2000")
