"""pow.js in Debian's chromium, driven by Playwright, against the stand-in
ask form in tests/urls.py. Skipped where no chromium is installed, unless
HEADON_REQUIRE_BROWSER=1, as in headon/tests/test_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from headon.antibot import store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("headon.antibot.tests.urls"),
]


def _page(browser: Any, problems: list[str], **options: Any) -> Any:
    context = browser.new_context(locale="en-GB", **options)
    page = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page


@pytest.fixture(autouse=True)
def _empty_store(transactional_db: None) -> Iterator[None]:
    store.clear()
    yield
    store.clear()


def test_the_form_is_held_until_the_browser_has_solved_the_challenge(browser, live_server):
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(live_server.url + "/ask")
    page.wait_for_selector("form[data-pow-state=solved]", timeout=30_000)
    assert page.locator("button").is_enabled()
    assert page.locator("button").inner_text() == "Send"
    assert page.locator("input[name=pow]").input_value() != ""
    page.fill("input[name=question]", "When does the factory open?")
    with page.expect_navigation():
        page.click("button")
    assert page.locator("#result").inner_text() == "sent"
    # A CSP violation or a script error shows up as a console error.
    assert problems == []


def test_the_button_says_checking_while_the_browser_works(browser, live_server):
    problems: list[str] = []
    page = _page(browser, problems)
    # Hold the challenge back, so that the waiting state can be seen.
    page.route("**/antibot/challenge/*", lambda route: None)
    page.goto(live_server.url + "/ask")
    page.wait_for_selector("form[data-pow-state=checking]")
    assert page.locator("button").is_disabled()
    assert page.locator("button").inner_text() == "Checking your browser…"
    page.fill("input[name=question]", "Enter must not submit")
    page.press("input[name=question]", "Enter")
    assert page.locator("#result").inner_text() == ""
    assert problems == []


def test_without_javascript_the_server_says_why_it_refuses(browser, live_server):
    problems: list[str] = []
    page = _page(browser, problems, java_script_enabled=False)
    page.goto(live_server.url + "/ask")
    page.fill("input[name=question]", "No scripts here")
    with page.expect_navigation():
        page.click("button")
    assert page.locator("#result").inner_text() == ""
    assert "needs JavaScript" in page.content()
