"""Offers waiting for an answer are on the coordinator's page with their
deadlines, and a coordinator can give a party more time, never past the
visit and never to a place already answered."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits.models import Offer, Program
from headon.visits.services import offers
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application


class OfferExtendTests(PersonasTestCase):
    program: Program

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="ext-days", sessions=1, capacity=10)
        session = cls.program.sessions.get()
        make_application(cls.program, 1, 2, [session])
        make_application(cls.program, 2, 3, [session])
        drawn(cls.program)
        offers.offer_confirm(Offer.objects.get(application__reference="T00002"))

    def test_the_program_page_counts_pending_offers_by_deadline(self) -> None:
        self.client.force_login(self.erin)
        page = self.client.get(reverse("visits_staff:program", args=[self.program.slug]))
        self.assertContains(page, "1 party (2 seats) has not confirmed yet.")
        self.assertEqual(
            [o.application.reference for o in page.context["pending"].soonest], ["T00001"]
        )

    def test_a_coordinator_extends_a_deadline_which_is_logged(self) -> None:
        offer = Offer.objects.get(application__reference="T00001")
        before = offer.deadline
        self.client.force_login(self.erin)
        url = reverse("visits_staff:offer_extend", args=[self.program.slug, offer.pk])
        self.assertEqual(self.client.post(url, {"hours": "24"}).status_code, 302)
        offer.refresh_from_db()
        self.assertEqual(offer.deadline, before + dt.timedelta(hours=24))
        event = AuditEvent.objects.get(action="offer_extend")
        self.assertEqual(event.actor, self.erin)

    def test_never_past_the_start_nor_for_an_answered_offer_nor_by_nonsense(self) -> None:
        offer = Offer.objects.get(application__reference="T00001")
        extended = offers.offer_extend(offer=offer, hours=24 * 14, actor=self.erin)
        self.assertLessEqual(extended.deadline, offer.session.starts_at)
        confirmed = Offer.objects.get(application__reference="T00002")
        with self.assertRaises(offers.OfferError):
            offers.offer_extend(offer=confirmed, hours=24, actor=self.erin)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:offer_extend", args=[self.program.slug, offer.pk])
        for hours in ("0", "-5", "99999", "x"):
            response = self.client.post(url, {"hours": hours}, follow=True)
            self.assertContains(response, "between 1 hour and 14 days")

    def test_an_offer_of_another_program_cannot_be_reached_through_this_one(self) -> None:
        other = make_program(slug="other-ext", sessions=1)
        make_application(other, 9, 1, list(other.sessions.all()))
        drawn(other)
        foreign = Offer.objects.get(application__reference="T00009")
        self.client.force_login(self.erin)
        url = reverse("visits_staff:offer_extend", args=[self.program.slug, foreign.pk])
        self.assertEqual(self.client.post(url, {"hours": "24"}).status_code, 404)
