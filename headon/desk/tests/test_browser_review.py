"""The review queue from the keyboard alone, on a phone-sized page, in
English and in Chinese: a triager moves with j and k, accepts with a,
refuses with r, and decides a whole question with Shift+A; each decision
lands, and the page comes back with the next suggestion in focus."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel, Question, TriageAction
from headon.desk.services.merging import locks_for
from headon.testing import PASSWORD, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MORNING = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
DAY = dt.date(2026, 12, 3)
# Where the screenshots go, for a person to look at (HEADON_SHOTS=dir).
SHOTS = os.environ.get("HEADON_SHOTS", "")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        # Every slice of the Chinese font the page uses, before the picture.
        page.wait_for_load_state("networkidle")
        page.evaluate("document.fonts.ready.then(() => true)")
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def a_day_with_suggestions() -> dict[str, Any]:
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    delivery = Question.objects.create(text="什么时候交付？")
    price = Question.objects.create(text="售价多少钱？")
    n = 0

    def ask(text: str, question: Question, suggested: Question | None, score: float) -> Ask:
        nonlocal n
        n += 1
        if suggested is not None:
            question = Question.objects.create(text=text)
        return Ask.objects.create(
            channel=channel,
            external_id=f"r{n}",
            text=text,
            author=f"user{n}",
            author_key=f"user{n}",
            posted_at=MORNING + dt.timedelta(minutes=n),
            day=DAY,
            match_key=exact_key(text),
            question=question,
            placement="new",
            suggested=suggested,
            suggested_score=score if suggested else None,
        )

    ask("什么时候交付？", delivery, None, 0)
    ask("售价多少钱？", price, None, 0)
    return {
        "delivery": delivery,
        "price": price,
        "wait": ask("交车要等多久", delivery, delivery, 0.03),
        "when": ask("When will my car be delivered?", delivery, delivery, 0.02),
        "cost": ask("落地价是多少", price, price, 0.025),
        "deal": ask("有没有优惠", price, price, 0.01),
    }


def focused_item(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
@override_settings(HEADON_EMBEDDER=["none"])
@time_machine.travel(MORNING, tick=True)
def test_a_triager_works_the_queue_from_the_keyboard_on_a_phone(
    contexts: Any, live_server: Any, locale: str
) -> None:
    make_staff("bob", "triager")
    day = a_day_with_suggestions()
    page = contexts(locale)
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}/staff/desk/day/{DAY.isoformat()}/review/")
    chinese = locale == "zh-CN"
    assert page.locator("h1").inner_text() == ("待审核队列" if chinese else "Review queue")
    keys = page.locator("#review-keys").inner_text()
    assert "Shift" in keys
    assert ("接受这个问题的全部建议" if chinese else "accept every suggestion") in keys
    assert page.locator("[aria-keyshortcuts='A']").count() == 4
    # The page fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, f"review-{locale}-start")

    # The surest suggestion has the focus; j moves down, k back up.
    assert focused_item(page) == f"ask-{day['wait'].pk}"
    page.keyboard.press("j")
    assert focused_item(page) == f"ask-{day['when'].pk}"
    page.keyboard.press("k")
    assert focused_item(page) == f"ask-{day['wait'].pk}"

    # a accepts the ask in focus; the page comes back on the next one.
    with page.expect_navigation():
        page.keyboard.press("a")
    assert Ask.objects.get(pk=day["wait"].pk).question_id == day["delivery"].pk
    assert Ask.objects.get(pk=day["wait"].pk).placement == "accepted"
    assert focused_item(page) == f"ask-{day['when'].pk}"
    message = page.locator(".messages").inner_text()
    assert ("已将 1 条提问归入问题" if chinese else "Accepted 1 ask into question") in message
    shot(page, f"review-{locale}-accepted")

    # r refuses it: it stays apart, and the refusal is a lock for later runs.
    with page.expect_navigation():
        page.keyboard.press("r")
    when = Ask.objects.get(pk=day["when"].pk)
    assert when.question_id != day["delivery"].pk
    assert when.suggested_id is None
    assert not locks_for([when]).allows(str(when.pk), str(day["delivery"].pk))

    # Shift+A takes every suggestion for the price question at once.
    assert focused_item(page) == f"ask-{day['cost'].pk}"
    with page.expect_navigation():
        page.keyboard.press("Shift+A")
    assert day["price"].asks.count() == 3
    assert not Ask.objects.filter(day=DAY, suggested__isnull=False).exists()
    assert page.locator(".empty").inner_text() == (
        "这一天没有待审核的提问。" if chinese else "Nothing waits for review on this day."
    )
    assert TriageAction.objects.filter(kind="accept").count() == 2
    shot(page, f"review-{locale}-done")


def _sign_in(page: Any, live_server: Any) -> None:
    """conftest.sign_in, in any language: Enter in the password field."""
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.press("#id_password", "Enter")
