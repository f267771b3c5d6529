"""A program that asks ages, needs, an emergency contact and its own
questions, applied to in Chinese on a phone (390 px): a party of one minor
is refused with everything typed kept, an adult with a child gets in, and
the coordinator reads it all on the party's page (decision 26).

Screenshots go to $HEADON_SCREENSHOTS when it is set, to be looked at."""

from __future__ import annotations

from typing import Any

import pytest

from headon import sms
from headon.testing import make_staff
from headon.visits.models import Application
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_applicant_fields import HEARD, WISH
from headon.visits.tests.test_browser_companions import shot, verify
from headon.visits.tests.test_browser_coordinator import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at 390px"


def test_a_family_applies_in_chinese_on_a_phone(contexts: Any, live_server: Any) -> None:
    make_staff("erin", "visit_coordinator")
    program = make_program(
        slug="family-days",
        minimum_age=8,
        ask_accessibility=True,
        ask_emergency_contact=True,
        questions=[HEARD, WISH],
    )
    base = live_server.url
    sms.outbox.clear()
    lead = contexts("zh-CN")
    verify(lead, base, program.slug, "138 1234 5678")
    lead.wait_for_selector("#id_lead_name")
    text = lead.locator("main").inner_text()
    for words in ("您的出生日期", "无障碍需求", "紧急联系人", "您是从哪里得知本次开放日的？"):
        assert words in text
    no_sideways_scroll(lead)

    # A child alone: refused, and nothing typed is lost.
    lead.fill("#id_lead_name", "李小雷")
    lead.fill("#id_lead_birth_date", "2014-03-01")
    lead.select_option("#id_choice_1", index=1)
    lead.fill("#id_accessibility_needs", "需要轮椅通道")
    lead.fill("#id_emergency_name", "王芳")
    lead.fill("#id_emergency_phone", "137 0000 3333")
    lead.select_option("#id_answer_heard", "c2")
    lead.fill("#id_answer_wish", "总装线")
    lead.check("#id_consent")
    with lead.expect_navigation():
        lead.click("main form.form button[type=submit]")
    assert "未满 18 岁者须由同一团体中的成年人" in lead.locator("main").inner_text()
    assert not Application.objects.exists()
    assert lead.input_value("#id_emergency_name") == "王芳"
    assert lead.input_value("#id_accessibility_needs") == "需要轮椅通道"
    assert lead.input_value("#id_answer_wish") == "总装线"
    assert lead.input_value("#id_lead_birth_date") == "2014-03-01"
    shot(lead, "zh-CN-fields-1-a-minor-alone-refused")
    no_sideways_scroll(lead)

    # The adult applies, with the child.
    lead.fill("#id_lead_name", "李雷")
    lead.fill("#id_lead_birth_date", "1985-06-01")
    lead.fill("#id_companion_1_name", "李小雷")
    lead.fill("#id_companion_1_phone", "137 0000 2222")
    lead.fill("#id_companion_1_birth_date", "2014-03-01")
    lead.check("#id_consent")
    with lead.expect_navigation():
        lead.click("main form.form button[type=submit]")
    lead.wait_for_selector(".reference")
    application = Application.objects.get()
    assert application.answers == [{"q": "heard", "c": "c2"}, {"q": "wish", "a": "总装线"}]
    shot(lead, "zh-CN-fields-2-applied")

    erin = contexts("zh-CN")
    sign_in(erin, base, "erin")
    erin.goto(f"{base}/staff/visits/{program.slug}/applications/{application.reference}/")
    text = erin.locator("main").inner_text()
    for words in ("需要轮椅通道", "王芳", "朋友介绍", "总装线", "未满 18 岁"):
        assert words in text, words
    assert "137****3333" in text  # masked
    assert "137 0000 3333" not in text
    no_sideways_scroll(erin)
    shot(erin, "zh-CN-fields-3-party-page")
