"""A cancelled session's parties are offered their next choice with seats,
or go back on the waitlist where the lottery put them; each is told once,
and a party moved on confirms into new tickets (the old code stops)."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import TestCase
from django.urls import reverse

from headon.accounts.models import User
from headon.sms import outbox
from headon.testing import PersonasTestCase
from headon.visits import jobs
from headon.visits.models import Application, Offer, Program, Session, Ticket, WaitlistEntry
from headon.visits.services import gate, offers
from headon.visits.services.programs import session_edit
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application


class RehomingTests(TestCase):
    program: Program
    s1: Session
    s2: Session
    s3: Session

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="rehome-days", sessions=3, capacity=4)
        cls.s1, cls.s2, cls.s3 = cls.program.sessions.order_by("starts_at")
        # Tier 0 is drawn first: A and B fill s1, D fills s2; C waits.
        make_application(cls.program, 1, 2, [cls.s1, cls.s2], priority_tier=0)  # A
        make_application(cls.program, 2, 2, [cls.s1, cls.s3], priority_tier=0)  # B
        make_application(cls.program, 3, 3, [cls.s1, cls.s2], priority_tier=1)  # C
        make_application(cls.program, 4, 4, [cls.s2], priority_tier=0)  # D
        drawn(cls.program, tiers=True)
        for offer in Offer.objects.all():
            offers.offer_confirm(offer)

    def offer(self, reference: str) -> Offer:
        return Offer.objects.get(application__reference=reference)

    def test_a_cancelled_sessions_parties_move_on_or_wait_in_draw_order(self) -> None:
        self.assertEqual(self.offer("T00001").session, self.s1)
        self.assertEqual(WaitlistEntry.objects.get().application.reference, "T00003")
        old_code = Ticket.objects.filter(offer=self.offer("T00002")).first().code  # type: ignore[union-attr]
        session_edit(session=self.s1, cancel=True)
        moved = self.offer("T00002")
        self.assertEqual(
            (moved.session, moved.status, moved.source),
            (self.s3, Offer.Status.OFFERED, Offer.Source.MOVED),
        )
        back = self.offer("T00001")  # s2 is full: back on the waitlist
        self.assertEqual(back.status, Offer.Status.CANCELLED)
        self.assertEqual(
            list(
                WaitlistEntry.objects.filter(status="waiting")
                .order_by("position")
                .values_list("application__reference", "position")
            ),
            # A was drawn (tier 0) before C (tier 1): it goes ahead of C.
            [("T00001", 1), ("T00003", 2)],
        )
        # The party moved on confirms into new tickets for its new session.
        offers.offer_confirm(moved)
        ticket = Ticket.objects.filter(offer=moved).first()
        assert ticket is not None
        self.assertEqual((ticket.session, ticket.void_at), (self.s3, None))
        self.assertNotEqual(ticket.code, old_code)
        gus = User.objects.create(username="gus")
        at_s3 = self.s3.starts_at - dt.timedelta(minutes=10)
        with time_machine.travel(at_s3, tick=False):
            self.assertEqual(
                gate.check_in(code=old_code, session=self.s3, actor=gus).reason, "unknown"
            )
            self.assertTrue(gate.check_in(code=ticket.code, session=self.s3, actor=gus).ok)

    def test_each_party_is_told_once_what_happened(self) -> None:
        session_edit(session=self.s1, cancel=True)
        outbox.clear()
        moved, back = self.offer("T00002"), self.offer("T00001")
        self.assertTrue(jobs.notify_rehomed.call(moved.pk, 0))
        self.assertIn("next choice", outbox[-1][1])
        self.assertIn("/a/T00002/", outbox[-1][1])
        self.assertTrue(jobs.notify_rehomed.call(back.pk, self.s1.pk))
        self.assertIn("No. 1", outbox[-1][1])
        self.assertFalse(jobs.notify_rehomed.call(moved.pk, 0))
        self.assertFalse(jobs.notify_rehomed.call(back.pk, self.s1.pk))
        self.assertEqual(len(outbox), 2)
        # The moved party is not also told its place is gone: it has one.
        self.assertFalse(jobs.notify_cancelled.call(moved.pk))
        self.assertTrue(jobs.notify_cancelled.call(back.pk))

    def test_a_party_back_on_the_waitlist_is_promoted_into_its_old_offer_row(self) -> None:
        session_edit(session=self.s1, cancel=True)
        offers.offer_decline(self.offer("T00004"))  # s2 frees 4 seats
        made = offers.promote(self.program)
        self.assertEqual([o.application.reference for o in made], ["T00001"])
        again = self.offer("T00001")
        self.assertEqual((again.session, again.status), (self.s2, Offer.Status.OFFERED))
        offers.offer_confirm(again)
        self.assertEqual(
            set(Ticket.objects.filter(offer=again).values_list("session", "void_at")),
            {(self.s2.pk, None)},
        )

    def test_the_coordinators_list_shows_the_returned_party_as_waiting(self) -> None:
        from headon.visits import visitors

        session_edit(session=self.s1, cancel=True)
        rows = visitors.applications_for_staff(
            self.program, visitors.Filters(status="waitlisted"), drawn=True
        )
        self.assertEqual([a.reference for a in rows], ["T00001", "T00003"])
        application = Application.objects.select_related("offer", "waitlist").get(
            reference="T00001"
        )
        self.assertEqual(visitors.status_of(application, drawn=True), "waitlisted")


class CancelPageTests(PersonasTestCase):
    def test_the_coordinator_is_told_how_many_parties_it_reached(self) -> None:
        program = make_program(slug="cancel-page", sessions=2, capacity=4)
        first, second = program.sessions.order_by("starts_at")
        make_application(program, 1, 2, [first, second])
        make_application(program, 2, 2, [first])
        drawn(program)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:session_edit", args=[program.slug, first.pk])
        response = self.client.post(url, {"capacity": "4", "cancel": "on"}, follow=True)
        # One moved on, one back on the waitlist: both were reached.
        self.assertContains(response, "2 parties are being told")
        self.assertContains(response, "next choice that has seats")
