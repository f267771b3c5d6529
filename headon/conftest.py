"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("HEADON_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# HEADON_REQUIRE_BROWSER=1 (as in CI) turns a missing browser into a failure.
REQUIRED = os.environ.get("HEADON_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = f"NO BROWSER: {CHROMIUM} is missing (apt-get install chromium)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django then
    # refuses ORM calls from it unless told that the thread is not async.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
