"""The coordinator's day in Chinese at phone width, in a real browser: edit
the program (its application window stays), cancel a session with
confirmed visitors (they move to their next choice), message a session,
export the gate list; then the gate looks a visitor up and checks them in.
Screenshots go to HEADON_SCREENSHOTS (default: a temporary directory)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from headon.testing import make_staff
from headon.visits.models import Message, Offer, PartyMember, Program, Session, Ticket
from headon.visits.services import offers
from headon.visits.services.tickets import issue_tickets
from headon.visits.tests.test_draws import make_application

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("HEADON_SCREENSHOTS") or tempfile.mkdtemp(prefix="headon-shots-"))


def confirmed(program: Program, n: int, sessions: list[Session], name: str) -> Offer:
    application = make_application(program, n, 2, sessions, language="zh-hans")
    PartyMember.objects.filter(application=application, position=0).update(name=name)
    offer = Offer.objects.create(
        application=application,
        session=sessions[0],
        seats=2,
        status=Offer.Status.CONFIRMED,
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    issue_tickets(offer)
    return offer


def sign_in(page: Any, base: str, username: str) -> None:
    """The login page in Chinese: its button says 登录, so find it by form."""
    from headon.testing import PASSWORD

    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.fonts.ready")  # the Chinese slices, not their fallback boxes
    page.screenshot(path=str(SHOTS / f"coordinator-{name}.png"), full_page=True)


def test_the_coordinators_day_in_chinese_on_a_phone(contexts: Any, live_server: Any) -> None:
    make_staff("erin", "visit_coordinator")
    make_staff("gus", "gate_staff")
    now = timezone.now().replace(second=0, microsecond=0)
    program = Program.objects.create(
        slug="today-days",
        title_en="Open day",
        title_zh="开放日",
        status=Program.Status.PUBLISHED,
        applications_open_at=now - dt.timedelta(days=10),
        applications_close_at=now - dt.timedelta(days=3),
    )
    today, cancelled, spare = (
        Session.objects.create(
            program=program,
            starts_at=now + dt.timedelta(days=days, minutes=20),
            ends_at=now + dt.timedelta(days=days, hours=2),
            capacity=10,
            label_zh=label,
            label_en=label,
        )
        for days, label in ((0, "今日"), (5, "周六"), (6, "周日"))
    )
    visitor = confirmed(program, 1, [today], "王小明")
    moving = [confirmed(program, n, [cancelled, spare], f"李{n}") for n in (2, 3)]
    window = (program.applications_open_at, program.applications_close_at)
    base = live_server.url
    erin = contexts("zh-CN")
    sign_in(erin, base, "erin")

    # 1. Edit the program in Chinese: the application window stays.
    erin.goto(f"{base}/staff/visits/{program.slug}/edit/")
    erin.fill("#id_title_zh", "工厂开放日")
    with erin.expect_navigation():
        erin.click("form.form button[type=submit]")
    program.refresh_from_db()
    assert program.title_zh == "工厂开放日"
    assert (program.applications_open_at, program.applications_close_at) == window
    shot(erin, "1-program")

    # 2. Cancel a session with confirmed visitors: they move to their next choice.
    erin.goto(f"{base}/staff/visits/{program.slug}/sessions/{cancelled.pk}/")
    assert "下一个" in erin.inner_text("main")  # the warning says what will happen
    erin.check("#id_cancel")
    with erin.expect_navigation():
        erin.click("form.form button[type=submit]")
    assert {
        (o.session_id, o.status) for o in Offer.objects.filter(pk__in=[m.pk for m in moving])
    } == {(spare.pk, Offer.Status.OFFERED)}
    shot(erin, "2-cancelled")

    # 3. Message the session of today's visitors: preview with the count, then send.
    erin.goto(f"{base}/staff/visits/{program.slug}/messages/")
    erin.select_option("#id_audience", "confirmed")
    erin.select_option("#id_session", str(today.pk))
    erin.fill("#id_subject_en", "Parking")
    erin.fill("#id_subject_zh", "停车")
    erin.fill("#id_body_en", "Please park at gate 3, {reference}.")
    erin.fill("#id_body_zh", "请在 3 号门停车，{reference}。")
    with erin.expect_navigation():
        erin.click("button[value=preview]")
    assert "将发送给 1 组访客" in erin.inner_text(".preview")
    shot(erin, "3-message-preview")
    with erin.expect_navigation():
        erin.click("button[value=send]")
    assert "1 组访客" in erin.asked[-1]  # the confirmation names the count
    message = Message.objects.get()
    assert message.recipients == [visitor.application_id]

    # 4. Export the gate list: the printable page and the CSV.
    erin.goto(f"{base}/staff/visits/{program.slug}/sessions/{today.pk}/visitors/")
    assert "王小明" in erin.inner_text("main")
    shot(erin, "4-gate-list")
    csv_url = f"{base}/staff/visits/{program.slug}/sessions/{today.pk}/visitors.csv"
    rows = list(csv.reader(io.StringIO(erin.request.get(csv_url).text().lstrip("\ufeff"))))
    assert [r[2] for r in rows[2:]] == ["王小明", "Visitor 1-1"]

    # The applications list, at phone width, finds the party by name.
    erin.goto(f"{base}/staff/visits/{program.slug}/applications/")
    erin.fill("#f-q", "王小明")
    with erin.expect_navigation():
        erin.click("form.filters button[type=submit]")
    assert visitor.application.reference in erin.inner_text("table")
    shot(erin, "5-applications")
    assert not erin.locator("table thead").is_visible()  # a card per row on a phone
    erin.set_viewport_size({"width": 1280, "height": 800})
    assert erin.locator("table thead").is_visible()  # a table on a desk
    shot(erin, "5-applications-desktop")
    erin.set_viewport_size({"width": 390, "height": 844})

    # 5. At the gate, a code will not scan: look the visitor up and check in.
    gus = contexts("zh-CN")
    sign_in(gus, base, "gus")
    gus.goto(f"{base}/staff/visits/gate/{today.pk}/")
    gus.fill("#gate-q", visitor.application.reference.lower())
    with gus.expect_navigation():
        gus.click(".gate-lookup form button[type=submit]")
    assert "王小明" in gus.inner_text(".gate-found")
    shot(gus, "6-gate-lookup")
    with gus.expect_navigation():
        gus.click(".gate-found li:first-child button")
    assert gus.locator("#gate-result.gate-ok").count() == 1
    shot(gus, "7-gate-checked-in")
    lead = Ticket.objects.get(member__application=visitor.application, member__position=0)
    assert lead.checked_in_at is not None
    assert offers.seats_held([spare.pk]) == {spare.pk: 4}
