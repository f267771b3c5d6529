"""Open factory days end to end in a real browser: the coordinator closes,
seals and draws; anyone verifies the record with the downloaded verifier;
parties confirm and decline; the waitlist moves up; gate staff check a
visitor in; the visitor gives feedback; the coordinator reads the report."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from headon.conftest import sign_in
from headon.desk.models import Ask
from headon.testing import PASSWORD, make_staff
from headon.visits.models import Draw, Offer, Ticket, WaitlistEntry
from headon.visits.services.applications import access_token
from headon.visits.services.feedback import feedback_token
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import ROUND, SIGNATURE, make_application, seal_moment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def run_jobs() -> None:
    """What the worker would do next: every queued job, once."""
    call_command("worker", batch=True, no_startup_delay=True, interval=0)


def private_link(base: str, application: Any) -> str:
    return f"{base}/visits/{application.program.slug}/a/{application.reference}/{access_token(application)}/"


def test_a_program_from_the_draw_to_the_report(contexts: Any, live_server: Any) -> None:
    make_staff("erin", "visit_coordinator")
    make_staff("gus", "gate_staff")
    # The draw is seeded from a real drand round (ROUND, whose signature is
    # recorded): the program runs at that round's time, as it would have.
    with time_machine.travel(seal_moment() - dt.timedelta(days=1), tick=True):
        program = make_program(sessions=1, capacity=4)
        session = program.sessions.get()
        for n in range(6):
            make_application(program, n, 2, [session])  # three parties fit, three wait
        base = live_server.url

        # The coordinator commits, closes applications, seals the list and draws.
        coordinator = contexts()
        sign_in(coordinator, base, "erin")
        coordinator.goto(f"{base}/staff/visits/{program.slug}/draw/")
        with coordinator.expect_navigation():
            coordinator.click("button:has-text('Commit')")
    with time_machine.travel(seal_moment(), tick=False):
        with coordinator.expect_navigation():
            coordinator.click("button:has-text('Close applications now')")
        with coordinator.expect_navigation():
            coordinator.click("button:has-text('Seal the application list')")
    with time_machine.travel(seal_moment() + dt.timedelta(minutes=10), tick=True):
        coordinator.fill("#beacon-value", SIGNATURE)
        with coordinator.expect_navigation():
            coordinator.click("button:has-text('Run the draw')")
        assert "Drawn. Offers are on their way." in coordinator.inner_text(".messages")
        draw = Draw.objects.get()
        assert draw.stage == Draw.Stage.DONE
        assert draw.beacon_round == ROUND

    # Anyone checks the draw with the published record and verifier.
    public = contexts("zh-CN")
    public.goto(f"{base}/visits/{program.slug}/draw/")
    assert draw.seed in public.inner_text("main")
    assert public.locator("h1").inner_text() == "抽签"
    record = public.request.get(f"{base}/visits/{program.slug}/draw/record.json").body()
    verifier = public.request.get(f"{base}/visits/draw/verify_draw.py").body()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "record.json").write_bytes(record)
        (Path(tmp) / "verify_draw.py").write_bytes(verifier)
        result = subprocess.run(
            [sys.executable, "verify_draw.py", "record.json", "--secret", draw.revealed],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stdout
    assert "MATCH" in result.stdout

    # Offers answered on the draw's day, while they are open.
    with time_machine.travel(seal_moment() + dt.timedelta(minutes=20), tick=True):
        # One party confirms and sees its tickets; another cannot come.
        offers = list(Offer.objects.select_related("application__program").order_by("pk"))
        assert len(offers) == 2
        coming, not_coming = offers[0].application, offers[1].application
        visitor = contexts()
        visitor.goto(private_link(base, coming))
        with visitor.expect_navigation():
            visitor.click("button:has-text('Confirm our visit')")
        with visitor.expect_navigation():
            visitor.click("text=Show our tickets")
        assert visitor.locator(".ticket svg").count() == 2
        declining = contexts()
        declining.goto(private_link(base, not_coming))
        with declining.expect_navigation():
            declining.click("button:has-text('We cannot come')")
        assert "Declined" in declining.inner_text(".messages")
        assert declining.asked == [  # asked before the place was given up
            "Give up your place? It goes to the next party waiting and cannot be taken back."
        ]

        # The worker moves the first waiting party up.
        run_jobs()
        first = WaitlistEntry.objects.order_by("position").first()
        assert first is not None
        first.refresh_from_db()
        assert first.status == WaitlistEntry.Status.OFFERED
        waiting = contexts()
        waiting.goto(private_link(base, first.application))
        assert "You have a place" in waiting.inner_text("main")

    # Gate staff check the first visitor in by typing the code; twice is refused.
    ticket = Ticket.objects.filter(offer__application=coming).order_by("member__position").first()
    assert ticket is not None
    gate = contexts()
    # The visit's morning (signed in then: a sign-in lasts two weeks).
    with time_machine.travel(session.starts_at - dt.timedelta(minutes=10), tick=True):
        sign_in(gate, base, "gus")
        gate.goto(f"{base}/staff/visits/gate/{session.pk}/")
        gate.fill("input[name=code]", ticket.code.lower())
        gate.click("form button[type=submit]")
        gate.wait_for_selector("[data-gate-result=checked_in]")
        assert "✓" in gate.inner_text("[data-gate-result]")
        gate.fill("input[name=code]", ticket.code)
        gate.click("form button[type=submit]")
        gate.wait_for_selector("[data-gate-result=already]")
        assert "✕" in gate.inner_text("[data-gate-result]")
    ticket.refresh_from_db()
    assert ticket.checked_in_at is not None

    # The visitor gives feedback; the question becomes an ask.
    visitor.goto(f"{base}/visits/feedback/{ticket.pk}/{feedback_token(ticket)}/")
    visitor.check("input[name=rating][value='5']")
    visitor.fill("textarea[name=question]", "Can we visit the paint shop next time?")
    with visitor.expect_navigation():
        visitor.click("button:has-text('Send my feedback')")
    assert Ask.objects.filter(text="Can we visit the paint shop next time?").count() == 1

    # The coordinator reads the report (signed in again: it is years later).
    sign_in(coordinator, base, "erin")
    coordinator.goto(f"{base}/staff/visits/{program.slug}/report/")
    report = coordinator.inner_text("main")
    assert "5.0" in report
    csv = coordinator.request.get(f"{base}/staff/visits/{program.slug}/report/report.csv")
    assert csv.status == 200
    assert csv.body().startswith(b"\xef\xbb\xbf")


def test_saving_a_program_in_chinese_keeps_its_application_window(
    contexts: Any, live_server: Any
) -> None:
    make_staff("erin", "visit_coordinator")
    opens = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    closes = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
    program = make_program(applications_open_at=opens, applications_close_at=closes)
    base = live_server.url
    page = contexts("zh-CN")
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", "erin")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{base}/staff/visits/{program.slug}/edit/")
    assert (page.locator("html").get_attribute("lang") or "").startswith("zh")
    assert page.input_value("#id_applications_open_at") == "2026-12-01T10:00"
    page.fill("#id_title_en", "Open Days (typo fixed)")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    assert "计划已保存" in page.inner_text(".messages")
    program.refresh_from_db()
    assert program.title_en == "Open Days (typo fixed)"
    assert (program.applications_open_at, program.applications_close_at) == (opens, closes)
