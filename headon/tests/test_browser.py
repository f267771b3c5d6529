"""The real-browser smoke test: Debian's chromium, driven by Playwright.

Skipped with a loud reason where no chromium is installed, unless
HEADON_REQUIRE_BROWSER=1 (as in CI), where a missing browser fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from headon.testing import PASSWORD, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    # A CSP violation or a script error shows up as a console error.
    assert problems == []


def test_the_home_page_switches_to_chinese_and_back(page: Any, live_server: Any) -> None:
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Every question asked today, answered tonight."
    assert page.locator(".js-hidden").is_hidden()  # headon.js ran
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    assert page.locator("h1").inner_text() == "今天的每一个问题，今晚都有回答。"
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert page.locator("h1").inner_text() == "Every question asked today, answered tonight."


def test_a_staff_member_signs_in_and_sees_the_desk(page: Any, live_server: Any) -> None:
    make_staff("bob", "triager")
    page.goto(live_server.url + "/")
    page.click("text=Staff sign-in")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(live_server.url + "/staff/")
    assert "Hello, bob" in page.locator("h1").inner_text()
    page.click("text=Open the desk")
    assert page.locator("h1").inner_text() == "Answer desk"
    page.click("text=Sign out")
    page.wait_for_url(live_server.url + "/")
    assert page.locator("text=Staff sign-in").is_visible()


def _apply(page: Any, live_server: Any, phone: str, companion_id: str) -> str:
    """Run the whole application flow on a phone; return the receipt text."""
    import re

    from headon import sms
    from headon.visits.tests.factories import make_program

    program = make_program(slug=f"open-days-{phone[-4:]}")
    page.goto(f"{live_server.url}/visits/{program.slug}/")
    page.click("a.button[href$='/apply/']")
    page.fill("#id_destination", phone)
    page.click("main button[type=submit]")
    page.wait_for_selector("#id_code")
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
    page.fill("#id_code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("#id_lead_name")
    page.fill("#id_lead_name", "李雷 Li Lei")
    page.fill("#id_companion_1_name", "韩梅梅")
    page.fill("#id_companion_1_phone", "137 0000 " + phone[-4:])
    page.fill("#id_companion_1_id_number", companion_id)
    page.select_option("#id_choice_1", index=2)
    page.select_option("#id_choice_2", index=1)
    page.check("#id_consent")
    page.click("main button[type=submit]")
    page.wait_for_selector(".reference")
    return str(page.locator("main").inner_text())


def test_an_applicant_applies_on_a_phone_in_english(page: Any, live_server: Any) -> None:
    from headon.visits.tests.factories import id_number

    receipt = _apply(page, live_server, "138 1234 5678", id_number())
    assert "Your application" in receipt
    assert "110***********" in receipt
    assert id_number() not in page.content()


def test_an_applicant_applies_on_a_phone_in_chinese(browser: Any, live_server: Any) -> None:
    from headon.visits.tests.factories import id_number

    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    receipt = _apply(page, live_server, "139 8765 4321", id_number(sequence=456))
    assert "您的报名" in receipt
    assert "报名编号" in receipt
    context.close()


def test_a_long_question_still_gets_the_answers_that_may_fit(
    contexts: Any, live_server: Any, settings: Any
) -> None:
    """The suggestions went by GET: a long question passed the server's
    request-line limit (414 behind gunicorn) and nothing came back."""
    from headon.desk.models import Channel, Question
    from headon.desk.tests.test_answering import add_ask, published_answer

    settings.HEADON_EMBEDDER = ["none"]
    Channel.objects.create(slug="form", name="Form", kind=Channel.Kind.FORM)
    weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    question = Question.objects.create(text="什么时候交付")
    add_ask(weibo, 1, "什么时候交付", question)
    answer = published_answer(
        question, make_staff("carol", "writer"), make_staff("dave", "approver")
    )
    page = contexts("zh-CN")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.method) if "answered-already" in r.url else None)
    page.goto(f"{live_server.url}/answers/ask/")
    page.fill("textarea[name=text]", "什么时候开始交付？" + "请尽快告诉我们" * 250)
    page.locator(f"#answered-already a[href$='/q/{answer.pk}/']").wait_for()
    assert posted
    assert set(posted) == {"POST"}  # the text rides in the body, never the URL
