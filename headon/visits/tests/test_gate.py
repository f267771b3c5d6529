"""The gate: a ticket checks in once, at its own session, inside its window;
companions one by one; every bad code is a red answer, never an error page.
The race test holds two scans of one ticket at a barrier after both have
read the ticket, so the database alone decides; its control switches the
guard off and shows the harness then lets both in."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import time_machine
from django.test import TransactionTestCase
from django.urls import reverse
from django.utils import timezone

from headon.accounts.models import AuditEvent, User
from headon.testing import PersonasTestCase, make_staff
from headon.visits.models import Application, Offer, PartyMember, Program, Session, Ticket
from headon.visits.services import gate
from headon.visits.services.tickets import issue_tickets
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_races import race

# The first session of make_program runs 01:30-03:30 UTC on 15 February
# 2027; its gate opens an hour before and closes half an hour after.
NOW = dt.datetime(2027, 2, 15, 1, 0, tzinfo=dt.UTC)
_references = itertools.count(1)


def confirmed_party(session: Session, *, size: int = 1) -> list[Ticket]:
    """A party of `size` with a confirmed offer in `session`, and its tickets."""
    application = Application.objects.create(
        program=session.program,
        reference=f"G{next(_references):07d}",
        contact_kind=Application.ContactKind.PHONE,
        contact=f"+86138{next(_references):08d}",
        party_size=size,
        consented_at=timezone.now(),
    )
    for position in range(size):
        PartyMember.objects.create(
            application=application, position=position, name=f"Wang {position}"
        )
    offer = Offer.objects.create(
        application=application,
        session=session,
        seats=size,
        status=Offer.Status.CONFIRMED,
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    return issue_tickets(offer)


def flip(code: str, at: int = 40) -> str:
    """The code with one character changed: a forgery or a typo."""
    return code[:at] + ("A" if code[at] != "A" else "B") + code[at + 1 :]


@time_machine.travel(NOW, tick=False)
class CheckInServiceTests(PersonasTestCase):
    program: Program
    session: Session
    other: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="gate-days")
        cls.session, cls.other = list(cls.program.sessions.order_by("starts_at")[:2])

    def scan(self, code: str, session: Session | None = None, **kw: Any) -> gate.CheckIn:
        return gate.check_in(code=code, session=session or self.session, actor=self.gus, **kw)

    def test_a_ticket_checks_in_green_then_red_on_a_second_scan(self) -> None:
        (ticket,) = confirmed_party(self.session)
        first = self.scan(ticket.code, gate="North")
        self.assertTrue(first.ok, first.message)
        self.assertEqual(
            (first.reason, first.visitor, first.party_position), ("checked_in", "Wang 0", "1 of 1")
        )
        self.assertEqual((first.checked_in, first.tickets), (1, 1))
        ticket.refresh_from_db()
        self.assertEqual(
            (ticket.checked_in_at, ticket.checked_in_by, ticket.gate), (NOW, self.gus, "North")
        )

        second = self.scan(ticket.code, gate="South")
        self.assertFalse(second.ok)
        self.assertEqual(second.reason, "already")
        # 01:00 UTC is 09:00 in Shanghai, the organiser's zone.
        self.assertEqual(second.message, "Already checked in at 09:00 at gate North.")
        self.assertEqual(second.visitor, "Wang 0")

    def test_companions_check_in_one_by_one(self) -> None:
        party = confirmed_party(self.session, size=3)
        results = [self.scan(t.code) for t in party[1:]]
        self.assertEqual([r.ok for r in results], [True, True])
        self.assertEqual([r.party_position for r in results], ["2 of 3", "3 of 3"])
        self.assertFalse(results[0].is_lead)
        self.assertEqual(results[-1].checked_in, 2)
        lead = self.scan(party[0].code)
        self.assertTrue(lead.ok)
        self.assertTrue(lead.is_lead)
        self.assertEqual((lead.checked_in, lead.tickets), (3, 3))

    def test_a_ticket_for_another_session_is_red_and_names_its_session(self) -> None:
        (ticket,) = confirmed_party(self.other)
        result = self.scan(ticket.code)
        self.assertFalse(result.ok)
        self.assertEqual(result.reason, "wrong_session")
        self.assertIn(gate.session_name(self.other), result.message)
        ticket.refresh_from_db()
        self.assertIsNone(ticket.checked_in_at)

    def test_too_early_says_when_the_gate_opens(self) -> None:
        (ticket,) = confirmed_party(self.session)
        with time_machine.travel(dt.datetime(2027, 2, 15, 0, 29, tzinfo=dt.UTC), tick=False):
            result = self.scan(ticket.code)
        self.assertEqual(result.reason, "too_early")
        self.assertEqual(result.message, "Too early: check-in opens at 08:30.")
        with time_machine.travel(dt.datetime(2027, 2, 15, 0, 30, tzinfo=dt.UTC), tick=False):
            self.assertTrue(self.scan(ticket.code).ok)

    def test_too_late_after_the_window_closes(self) -> None:
        (ticket,) = confirmed_party(self.session)
        with time_machine.travel(dt.datetime(2027, 2, 15, 4, 1, tzinfo=dt.UTC), tick=False):
            result = self.scan(ticket.code)
        self.assertEqual(result.reason, "too_late")
        self.assertEqual(result.message, "Too late: check-in closed at 12:00.")

    def test_forged_garbage_empty_and_huge_codes_are_red(self) -> None:
        (ticket,) = confirmed_party(self.session)
        for code in [
            flip(ticket.code),
            flip(ticket.code, 0),
            "hello",
            "",
            "   ",
            "X" * 10_000,
            "\x00é😀",
        ]:
            with self.subTest(code=code[:20]):
                result = self.scan(code)
                self.assertFalse(result.ok)
                self.assertEqual(result.reason, "invalid")
                self.assertIn("forged or mistyped", result.message)
        ticket.refresh_from_db()
        self.assertIsNone(ticket.checked_in_at)

    def test_a_typed_code_with_hyphens_and_lower_case_checks_in(self) -> None:
        (ticket,) = confirmed_party(self.session)
        typed = "-".join(ticket.code[i : i + 4] for i in range(0, 144, 4)).lower()
        self.assertTrue(self.scan(typed).ok)

    def test_the_ticket_of_a_declined_offer_is_void_and_red(self) -> None:
        (ticket,) = confirmed_party(self.session)
        # What offers.offer_decline does to the offer and its tickets.
        Offer.objects.filter(pk=ticket.offer_id).update(status=Offer.Status.DECLINED)
        Ticket.objects.filter(offer=ticket.offer_id).update(void_at=NOW - dt.timedelta(days=2))
        result = self.scan(ticket.code)
        self.assertEqual((result.ok, result.reason), (False, "void"))
        self.assertEqual(result.tickets, 0)

    def test_a_signed_code_with_no_row_is_red(self) -> None:
        (ticket,) = confirmed_party(self.session)
        code = ticket.code
        ticket.delete()
        self.assertEqual(self.scan(code).reason, "unknown")

    def test_undo_takes_a_check_in_back_and_is_logged(self) -> None:
        (ticket,) = confirmed_party(self.session)
        self.assertTrue(self.scan(ticket.code).ok)
        self.assertTrue(gate.undo_check_in(ticket, self.erin))
        ticket.refresh_from_db()
        self.assertIsNone(ticket.checked_in_at)
        self.assertTrue(
            AuditEvent.objects.filter(action="ticket_check_in_undo", actor=self.erin).exists()
        )
        self.assertFalse(gate.undo_check_in(ticket, self.gus))
        self.assertTrue(self.scan(ticket.code).ok)

    def test_undo_needs_the_gate_permission(self) -> None:
        (ticket,) = confirmed_party(self.session)
        self.scan(ticket.code)
        from django.core.exceptions import PermissionDenied

        with self.assertRaises(PermissionDenied):
            gate.undo_check_in(ticket, self.oscar)


@time_machine.travel(NOW, tick=False)
class GatePageTests(PersonasTestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="gate-pages")
        cls.session = cls.program.sessions.order_by("starts_at")[0]

    def url(self, name: str = "gate_session") -> str:
        if name == "gate":
            return reverse("visits_staff:gate")
        return reverse(f"visits_staff:{name}", args=[self.session.pk])

    def test_gate_staff_and_coordinators_open_the_pages_others_are_refused(self) -> None:
        for user, status in [(self.gus, 200), (self.erin, 200), (self.oscar, 403), (self.bob, 403)]:
            self.client.force_login(user)
            for name in ["gate", "gate_session", "gate_count"]:
                with self.subTest(user=user.username, page=name):
                    self.assertEqual(self.client.get(self.url(name)).status_code, status)
            with self.subTest(user=user.username, page="post"):
                self.assertEqual(self.client.post(self.url(), {"code": "x"}).status_code, status)

    def test_anonymous_visitors_are_sent_to_sign_in(self) -> None:
        for name in ["gate", "gate_session", "gate_count"]:
            response = self.client.get(self.url(name))
            self.assertEqual(response.status_code, 302)
            self.assertIn(reverse("accounts:login"), response["Location"])
        self.assertEqual(self.client.post(self.url(), {"code": "x"}).status_code, 302)

    def test_the_picker_lists_the_open_session_first(self) -> None:
        self.client.force_login(self.gus)
        later = self.program.sessions.order_by("starts_at")[1]
        response = self.client.get(self.url("gate"))
        body = response.content.decode()
        first, second = (
            reverse("visits_staff:gate_session", args=[s.pk]) for s in (self.session, later)
        )
        self.assertLess(body.index(first), body.index(second))
        self.assertContains(response, "Gate open now", count=1)

    def test_the_page_has_the_scanner_the_form_and_the_count(self) -> None:
        confirmed_party(self.session, size=2)
        self.client.force_login(self.gus)
        response = self.client.get(self.url())
        self.assertContains(response, "data-gate-scan")
        self.assertContains(response, 'name="code"')
        self.assertContains(response, "gate-scan.js")
        self.assertContains(response, "<strong>0</strong> of 2 checked in", html=False)
        self.assertNotContains(response, "<script>")

    def test_an_htmx_post_returns_the_result_panel_and_the_count(self) -> None:
        tickets = confirmed_party(self.session, size=2)
        self.client.force_login(self.gus)
        response = self.client.post(
            self.url(), {"code": tickets[1].code, "gate": "East"}, headers={"HX-Request": "true"}
        )
        self.assertEqual(response.status_code, 200)
        body = response.content.decode()
        self.assertNotIn("<html", body)
        self.assertIn('id="gate-result" class="gate-result gate-ok"', body)
        self.assertIn('data-gate-result="checked_in"', body)
        self.assertIn("✓", body)
        self.assertIn("Wang 1", body)
        self.assertIn("2 of 2", body)
        self.assertIn('data-hx-swap-oob="true"', body)
        self.assertIn("<strong>1</strong> of 2 checked in", body)
        self.assertIn("app;dur=", response["Server-Timing"])

        again = self.client.post(
            self.url(), {"code": tickets[1].code}, headers={"HX-Request": "true"}
        )
        self.assertContains(again, "gate-bad")
        self.assertContains(again, "✕")
        self.assertContains(again, "Already checked in at 09:00 at gate East.")

    def test_a_plain_post_without_javascript_renders_the_whole_page(self) -> None:
        (ticket,) = confirmed_party(self.session)
        self.client.force_login(self.gus)
        response = self.client.post(self.url(), {"code": ticket.code})
        self.assertContains(response, "<html")
        self.assertContains(response, "gate-ok")
        self.assertContains(response, "<strong>1</strong> of 1 checked in", html=False)

    def test_bad_codes_through_the_page_are_red_never_an_error(self) -> None:
        self.client.force_login(self.gus)
        for data in [
            {},
            {"code": ""},
            {"code": "X" * 10_000},
            {"code": "🎫"},
            {"code": ["a", "b"]},
        ]:
            with self.subTest(data=str(data)[:30]):
                response = self.client.post(self.url(), data, headers={"HX-Request": "true"})
                self.assertContains(response, "forged or mistyped")

    def test_the_check_in_post_makes_a_fixed_number_of_queries(self) -> None:
        (ticket,) = confirmed_party(self.session)
        self.client.force_login(self.gus)
        self.client.post(self.url(), {"code": "warm", "gate": "A"}, headers={"HX-Request": "true"})
        # Sign-in session, user, the user's and the groups' permissions,
        # the session row, the ticket (with offer and member), the guarded
        # UPDATE and the count.
        with self.assertNumQueries(8):
            response = self.client.post(
                self.url(), {"code": ticket.code, "gate": "A"}, headers={"HX-Request": "true"}
            )
        self.assertContains(response, "gate-ok")

    def test_the_undo_button_takes_the_check_in_back(self) -> None:
        (ticket,) = confirmed_party(self.session)
        self.client.force_login(self.gus)
        self.client.post(self.url(), {"code": ticket.code})
        url = reverse("visits_staff:gate_undo", args=[self.session.pk, ticket.pk])
        response = self.client.post(url, headers={"HX-Request": "true"})
        self.assertContains(response, "Check-in of Wang 0 taken back.")
        ticket.refresh_from_db()
        self.assertIsNone(ticket.checked_in_at)
        self.client.force_login(self.oscar)
        self.assertEqual(self.client.post(url).status_code, 403)


@time_machine.travel(NOW, tick=False)
class DoubleScanRaceTests(TransactionTestCase):
    """Two phones scan one ticket at the same moment. The barrier wraps
    `_claim`, so both scans have verified the code and read the ticket
    (still not checked in) before either writes."""

    ROUNDS = 5

    def setUp(self) -> None:
        self.program = make_program(slug="gate-race")
        self.session = self.program.sessions.order_by("starts_at")[0]
        self.gus = make_staff("gus-race", "gate_staff")
        self.erin = make_staff("erin-race", "visit_coordinator")
        barrier = threading.Barrier(2, timeout=10)
        original = gate._claim

        def read_then_wait(*args: Any, **kwargs: Any) -> bool:
            barrier.wait()
            return original(*args, **kwargs)

        patcher = mock.patch.object(gate, "_claim", read_then_wait)
        patcher.start()
        self.addCleanup(patcher.stop)

    def scan(self, ticket: Ticket, actor: User) -> Callable[[], gate.CheckIn]:
        def call() -> gate.CheckIn:
            return gate.check_in(code=ticket.code, session=self.session, actor=actor, gate="G")

        return call

    def double_scan(self) -> list[Any]:
        (ticket,) = confirmed_party(self.session)
        return race(self.scan(ticket, self.gus), self.scan(ticket, self.erin))

    def test_two_scans_of_one_ticket_at_once_give_exactly_one_green(self) -> None:
        for _round in range(self.ROUNDS):
            results = self.double_scan()
            self.assertTrue(all(isinstance(r, gate.CheckIn) for r in results), results)
            self.assertEqual(sorted(r.ok for r in results), [False, True], results)
            self.assertEqual([r.reason for r in results if not r.ok], ["already"])
        self.assertEqual(Ticket.objects.filter(checked_in_at__isnull=False).count(), self.ROUNDS)

    def test_control_without_the_guard_the_race_checks_in_twice(self) -> None:
        # The naive read-then-save: both scans read "not checked in" before
        # either writes. The reads run outside any transaction (autocommit),
        # so SQLite's IMMEDIATE mode does not serialise them either.
        doubles = 0
        with mock.patch.object(gate, "_GUARDED", False):
            for _round in range(self.ROUNDS):
                results = self.double_scan()
                self.assertTrue(all(isinstance(r, gate.CheckIn) for r in results), results)
                doubles += all(r.ok for r in results)
                if doubles:
                    break
        self.assertGreaterEqual(doubles, 1, "the harness never caught the naive double check-in")


@time_machine.travel(NOW, tick=False)
class CancelledSessionTests(PersonasTestCase):
    def test_cancelling_a_session_voids_its_places_and_tells_each_party(self) -> None:
        """Cancelled, the session still showed "confirmed" to its visitors
        and their tickets checked in at the gate."""
        from headon.sms import outbox
        from headon.visits import jobs
        from headon.visits.services.applications import access_token

        program = make_program(slug="cancel-days")
        session = program.sessions.order_by("starts_at").first()
        assert session is not None
        tickets = confirmed_party(session, size=2)
        application = tickets[0].offer.application
        self.client.force_login(self.erin)
        form = reverse("visits_staff:session_edit", args=[program.slug, session.pk])
        self.assertContains(self.client.get(form), "cancels the place of 1 party (2 visitors)")

        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(form, {"capacity": session.capacity, "cancel": "on"})
        self.assertRedirects(response, reverse("visits_staff:program", args=[program.slug]))
        offer = Offer.objects.get(application=application)
        self.assertEqual(offer.status, Offer.Status.CANCELLED)
        self.assertFalse(Ticket.objects.filter(offer=offer, void_at__isnull=True).exists())
        session.refresh_from_db()
        scan = gate.check_in(code=tickets[0].code, session=session, actor=self.gus)
        self.assertEqual((scan.ok, scan.reason), (False, "session_cancelled"))

        outbox.clear()
        self.assertTrue(jobs.notify_cancelled.call(offer.pk))
        self.assertFalse(jobs.notify_cancelled.call(offer.pk))  # once
        self.assertEqual(len(outbox), 1)
        self.assertIn("cancelled", outbox[0][1])
        page = f"/visits/{program.slug}/a/{application.reference}/{access_token(application)}/"
        self.assertContains(self.client.get(page), "this session was cancelled")
        self.assertEqual(self.client.get(page + "tickets/").status_code, 404)
