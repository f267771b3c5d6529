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


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the default language. A request in Chinese
    leaves its thread in Chinese (the locale middleware activates a
    language and nothing deactivates it), so a later test's refusals read
    in Chinese and whether it passes depends on the order tests run in."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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


@pytest.fixture
def contexts(browser: Any) -> Iterator[Any]:
    """Open phone-sized browser pages, each in its own context (one person
    each); at the end, any console error or CSP violation fails the test."""
    opened: list[Any] = []
    problems: list[str] = []

    def new(locale: str = "en-GB") -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
        opened.append(context)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        # A "this cannot be undone" question is answered yes, as a person
        # who meant the click would; page.asked says what was asked.
        page.asked = []

        def answer(dialog: Any) -> None:
            page.asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", answer)
        return page

    yield new
    for context in opened:
        context.close()
    assert problems == []  # a test fixture: the assert is the check  # nosec B101


def sign_in(page: Any, base: str, username: str) -> None:
    """Sign a staff member in through the login page (headon.testing.PASSWORD)."""
    from headon.testing import PASSWORD

    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")


def fill_draft(page: Any, selector: str, text: str) -> None:
    """Fill a body field of the answer form and wait for the live check it
    starts (htmx posts the draft 700 ms after the last input). A check
    still in flight when the page moves on, or when the other body's check
    replaces it, is aborted, and htmx logs that as a console error: on a
    busy machine a save clicked right after filling met one."""
    with page.expect_response(lambda response: "/answers/check/" in response.url):
        page.fill(selector, text)
    # Answered; htmx has swapped the warnings in when the field has lost
    # its in-flight class.
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
