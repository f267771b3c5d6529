"""The gate admits a walk-in from the waitlist on a phone, in Chinese: the
list, the confirmation question, the result."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from headon.testing import make_staff
from headon.visits.models import Ticket
from headon.visits.tests.test_browser_coordinator import sign_in
from headon.visits.tests.test_walk_ins import NOW, waitlisted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_gate_staff_admit_a_waiting_party_in_chinese(contexts: Any, live_server: Any) -> None:
    make_staff("gus", "gate_staff")
    _program, session = waitlisted("walk-in-browser")
    with time_machine.travel(NOW, tick=True):
        page = contexts("zh-CN")
        sign_in(page, live_server.url, "gus")
        page.goto(f"{live_server.url}/staff/visits/gate/{session.pk}/")
        walk_ins = page.locator(".gate-walk-ins")
        assert "候补现场入场" in walk_ins.inner_text()
        assert "T00003" not in walk_ins.inner_text()  # a party of 3 for 2 seats
        with page.expect_navigation():
            walk_ins.locator("li", has_text="T00004").locator("button").click()
        assert page.asked == ["现在让这一组全部入场并签到吗？"]
        assert "T00004 一组已入场并签到" in page.locator(".gate-notices").inner_text()
    ticket = Ticket.objects.get(offer__application__reference="T00004")
    assert ticket.checked_in_at is not None
