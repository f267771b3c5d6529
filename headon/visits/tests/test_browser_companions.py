"""A companion confirms from their own phone, and a lead gets a new link, in
a real browser at phone width, in English and in Chinese (issue 17).

Screenshots go to $HEADON_SCREENSHOTS when it is set, to be looked at."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from headon import sms
from headon.visits.models import Application
from headon.visits.tests.factories import make_program

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS: dict[str, dict[str, str | None]] = {
    "en-GB": {
        "waiting": "Waiting for companions",
        "agree": "I agree to come",
        "thanks": "Thank you: you are in the party.",
        "new_link": "Someone else has this link? Get a new one",
        "relinked": "This is your new private link",
        "again": "You have applied already",
        "confirmed": "confirmed",
        "named": "You are named in another party",
        "leave": "Leave the other party",
        "left": "You are no longer in any other party for this program.",
    },
    "zh-CN": {
        "waiting": "等待同行者确认",
        "agree": "我同意同行",
        "thanks": "谢谢：您已加入该团队。",
        "new_link": None,  # read from the page's own button below
        "relinked": None,
        "again": None,
        "confirmed": "已确认",
        "named": "您被列在另一个团队中",
        "leave": "退出另一个团队",
        "left": "您已不在本活动的任何其他团队中。",
    },
}


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("HEADON_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def run_jobs() -> dict[str, str]:
    """What the worker would send next: every queued job, once."""
    sms.outbox.clear()
    call_command("worker", batch=True, no_startup_delay=True, interval=0)
    return dict(sms.outbox)


def local(base: str, link: str) -> str:
    """A link from a message, on the test server."""
    return base + urlsplit(link).path


def verify(page: Any, base: str, slug: str, phone: str) -> None:
    page.goto(f"{base}/visits/{slug}/apply/")
    page.fill("#id_destination", phone)
    page.click("main button[type=submit]")
    page.wait_for_selector("#id_code")
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
    page.fill("#id_code", code)
    page.click("main button[type=submit]")


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_a_companion_confirms_and_a_lost_link_comes_back(
    contexts: Any, live_server: Any, locale: str
) -> None:
    words = WORDS[locale]
    program = make_program(slug=f"companions-{locale.lower()}")
    base, lead_phone, friend_phone = live_server.url, "138 1234 5678", "137 0000 1111"

    lead = contexts(locale)
    verify(lead, base, program.slug, lead_phone)
    lead.wait_for_selector("#id_lead_name")
    lead.fill("#id_lead_name", "李雷 Li Lei")
    lead.fill("#id_companion_1_name", "韩梅梅 Han Meimei")
    lead.fill("#id_companion_1_phone", friend_phone)
    lead.select_option("#id_choice_1", index=2)
    lead.check("#id_consent")
    lead.click("main button[type=submit]")
    lead.wait_for_selector(".reference")
    first_link = lead.url
    assert words["waiting"] in lead.locator("main").inner_text()
    shot(lead, f"{locale}-1-lead-waiting-for-companions")

    # The companion's SMS, opened on their own phone.
    invite = run_jobs()["+8613700001111"]
    companion = contexts(locale)
    companion.goto(local(base, re.search(r"https?://\S+", invite).group(0)))  # type: ignore[union-attr]
    assert "李雷 Li Lei" in companion.locator("h2").inner_text()
    shot(companion, f"{locale}-2-companion-invited")
    companion.click(f"button:has-text('{words['agree']}')")
    companion.wait_for_selector(".messages, [role=status], .message", timeout=5000)
    assert words["thanks"] in companion.locator("body").inner_text()
    shot(companion, f"{locale}-3-companion-confirmed")

    lead.reload()
    text = lead.locator("main").inner_text()
    assert words["waiting"] not in text
    assert words["confirmed"] in text

    # A new link from the receipt page: the old one stops working.
    button = lead.locator("form[action$='/new-link/'] button")
    if words["new_link"]:
        assert button.inner_text() == words["new_link"]
    with lead.expect_navigation():
        button.click()
    second_link = lead.url
    assert second_link != first_link
    shot(lead, f"{locale}-4-lead-new-link")
    assert lead.request.get(first_link).status == 404

    # Lost again: verifying the phone once more brings the party back.
    elsewhere = contexts(locale)
    verify(elsewhere, base, program.slug, lead_phone)
    elsewhere.wait_for_selector(".reference")
    assert elsewhere.url not in (first_link, second_link)
    assert Application.objects.get().reference in elsewhere.locator(".reference").inner_text()
    if words["again"]:
        assert words["again"] in elsewhere.locator("body").inner_text()
    shot(elsewhere, f"{locale}-5-lead-verified-again")
    assert elsewhere.request.get(second_link).status == 404

    # The companion, on their own phone, frees themselves by verifying it:
    # told they are named (never by whom), they leave; the lead is told.
    verify(companion, base, program.slug, friend_phone)
    companion.wait_for_selector("#named-h")
    named = companion.locator("main").inner_text()
    assert words["named"] in named
    assert "李雷" not in named
    assert Application.objects.get().reference not in named
    shot(companion, f"{locale}-6-companion-named-elsewhere")
    with companion.expect_navigation():
        companion.click(f"button:has-text('{words['leave']}')")
    assert words["left"] in companion.locator("body").inner_text()
    assert companion.locator("#named-h").count() == 0
    assert any("/a/" in body for body in run_jobs().values())  # the lead's notice
    assert Application.objects.get().members.count() == 1
