"""A walk-in from the waitlist: once a session has started (or starts
within 30 minutes) with free seats, the gate admits a waiting party that
ranked it and fits whole; a confirmed offer, tickets checked in, logged.
Two gates admitting the last seats at once: the race holds both after
their early check, so only the seat lock decides; its control switches the
lock off and shows the harness then overbooks."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import time_machine
from django.test import TransactionTestCase
from django.urls import reverse
from django.utils import translation

from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase, make_staff
from headon.visits.models import Application, Offer, Program, Session, Ticket, WaitlistEntry
from headon.visits.services import offers
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application
from headon.visits.tests.test_races import race

# make_program's first session runs 01:30-03:30 UTC on 15 February 2027.
NOW = dt.datetime(2027, 2, 15, 1, 35, tzinfo=dt.UTC)


def waitlisted(slug: str) -> tuple[Program, Session]:
    """A drawn program whose first session (4 seats) has 2 free: A's offer
    was declined and the waitlist not yet moved. C (3) and D (1) wait for
    it, in that order; E (1) waits for the second session only."""
    program = make_program(slug=slug, sessions=2, capacity=4)
    s1, s2 = program.sessions.order_by("starts_at")
    make_application(program, 1, 2, [s1], priority_tier=0)  # A
    make_application(program, 2, 2, [s1], priority_tier=0)  # B
    make_application(program, 3, 3, [s1], priority_tier=1)  # C
    make_application(program, 4, 1, [s1], priority_tier=2)  # D
    make_application(program, 5, 2, [s2], priority_tier=3)  # E
    make_application(program, 6, 4, [s2], priority_tier=0)  # F fills s2
    drawn(program, tiers=True)
    Offer.objects.filter(application__reference="T00001").update(status=Offer.Status.DECLINED)
    Offer.objects.filter(application__reference="T00002").update(status=Offer.Status.CONFIRMED)
    return program, s1


def app(reference: str) -> Application:
    return Application.objects.get(reference=reference)


class WalkInServiceTests(PersonasTestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program, cls.session = waitlisted("walk-in-days")

    def setUp(self) -> None:
        translation.activate("en")
        self.addCleanup(translation.deactivate)

    def admit(self, reference: str, now: dt.datetime = NOW) -> Offer:
        return offers.walk_in_admit(
            session=self.session, application_id=app(reference).pk, actor=self.gus, now=now
        )

    def test_the_waiting_parties_that_fit_are_listed_in_waitlist_order(self) -> None:
        self.assertEqual(
            list(
                WaitlistEntry.objects.filter(status="waiting").values_list(
                    "application__reference", flat=True
                )
            ),
            ["T00003", "T00004", "T00005"],
        )
        self.assertEqual(offers.walk_in_free(self.session, NOW), 2)
        listed = offers.walk_in_waiting(self.session, NOW)
        self.assertEqual([e.application.reference for e in listed], ["T00004"])
        # Before the 30 minutes, nobody; a cancelled session, nobody.
        early = self.session.starts_at - dt.timedelta(minutes=31)
        self.assertEqual(offers.walk_in_waiting(self.session, early), [])
        self.assertEqual(
            len(offers.walk_in_waiting(self.session, early + dt.timedelta(minutes=2))), 1
        )

    def test_a_party_that_fits_is_admitted_checked_in_and_logged(self) -> None:
        offer = self.admit("T00004")
        self.assertEqual(
            (offer.session_id, offer.status, offer.source, offer.seats),
            (self.session.pk, Offer.Status.CONFIRMED, Offer.Source.WAITLIST, 1),
        )
        (ticket,) = Ticket.objects.filter(offer=offer)
        self.assertEqual((ticket.checked_in_at, ticket.checked_in_by), (NOW, self.gus))
        self.assertIsNone(ticket.void_at)
        self.assertEqual(app("T00004").waitlist.status, WaitlistEntry.Status.OFFERED)
        log = AuditEvent.objects.get(action="gate_walk_in")
        self.assertEqual((log.actor, log.data["seats"]), (self.gus, 1))
        self.assertEqual(offers.walk_in_free(self.session, NOW), 1)
        # Admitted once: a second tap is refused, nothing doubles.
        with self.assertRaises(offers.OfferError) as again:
            self.admit("T00004")
        self.assertEqual(again.exception.code, "walk_in_not_waiting")
        self.assertEqual(Ticket.objects.filter(offer=offer).count(), 1)

    def test_refused_when_the_whole_party_does_not_fit(self) -> None:
        with self.assertRaises(offers.OfferError) as refused:
            self.admit("T00003")  # 3 for 2 free seats
        self.assertEqual(refused.exception.code, "walk_in_no_room")
        self.assertFalse(Offer.objects.filter(application__reference="T00003").exists())

    def test_refused_for_another_sessions_party_too_early_or_a_cancelled_session(self) -> None:
        with self.assertRaises(offers.OfferError) as other:
            self.admit("T00005")  # ranked only the second session
        self.assertEqual(other.exception.code, "walk_in_not_waiting")
        with self.assertRaises(offers.OfferError) as early:
            self.admit("T00004", now=self.session.starts_at - dt.timedelta(minutes=31))
        self.assertEqual(early.exception.code, "walk_in_closed")
        Session.objects.filter(pk=self.session.pk).update(status=Session.Status.CANCELLED)
        self.session.refresh_from_db()
        with self.assertRaises(offers.OfferError) as cancelled:
            self.admit("T00004")
        self.assertEqual(cancelled.exception.code, "walk_in_closed")
        self.assertFalse(AuditEvent.objects.filter(action="gate_walk_in").exists())


@time_machine.travel(NOW, tick=False)
class WalkInPageTests(PersonasTestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program, cls.session = waitlisted("walk-in-page")

    def page(self, language: str = "en") -> str:
        self.client.force_login(self.gus)
        url = reverse("visits_staff:gate_session", args=[self.session.pk])
        response = self.client.get(url, headers={"accept-language": language})
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_gate_staff_see_the_party_that_fits_and_admit_it(self) -> None:
        page = self.page()
        self.assertIn("Walk-ins from the waitlist", page)
        self.assertIn("T00004", page)
        self.assertNotIn("T00003", page)  # does not fit
        self.assertNotIn("T00005", page)  # another session
        url = reverse("visits_staff:gate_walk_in", args=[self.session.pk, app("T00004").pk])
        response = self.client.post(url, {"gate": "North"}, follow=True)
        self.assertContains(response, "Party T00004 admitted and checked in: 1 visitor.")
        self.assertEqual(Ticket.objects.get(offer__application__reference="T00004").gate, "North")
        refused = self.client.post(url, follow=True)
        self.assertContains(refused, "This party is no longer waiting for this session.")

    def test_in_chinese(self) -> None:
        page = self.page("zh-hans")
        self.assertIn("候补现场入场", page)
        self.assertIn("一行 1 人", page)
        self.assertNotIn("Walk-ins from the waitlist", page)

    def test_a_coordinator_without_the_gate_role_and_oscar_are_refused(self) -> None:
        url = reverse("visits_staff:gate_walk_in", args=[self.session.pk, app("T00004").pk])
        self.client.force_login(self.oscar)
        self.assertEqual(self.client.post(url).status_code, 403)
        self.assertFalse(AuditEvent.objects.filter(action="gate_walk_in").exists())


class TwoGatesRaceTests(TransactionTestCase):
    """Two gates admit two parties of two for the last two seats at once.
    The barrier holds both after their early check (both saw the seats
    free), before the locked write."""

    ROUNDS = 3

    def setUp(self) -> None:
        self.gus = make_staff("gus-walk", "gate_staff")
        self.erin = make_staff("erin-walk", "gate_staff")
        barrier = threading.Barrier(2, timeout=10)
        original = offers._walk_in_commit

        def checked_then_wait(**kwargs: Any) -> Offer:
            barrier.wait()
            return original(**kwargs)

        patcher = mock.patch.object(offers, "_walk_in_commit", checked_then_wait)
        patcher.start()
        self.addCleanup(patcher.stop)

    def setup_round(self, n: int) -> tuple[Session, Application, Application]:
        program = make_program(slug=f"walk-race-{n}", sessions=1, capacity=4)
        (session,) = program.sessions.all()
        make_application(program, 10 * n + 1, 2, [session], priority_tier=0)
        make_application(program, 10 * n + 2, 2, [session], priority_tier=0)
        first = make_application(program, 10 * n + 3, 2, [session], priority_tier=1)
        second = make_application(program, 10 * n + 4, 2, [session], priority_tier=2)
        drawn(program, tiers=True)
        Offer.objects.filter(session=session).update(status=Offer.Status.CONFIRMED)
        Offer.objects.filter(application__reference=f"T{10 * n + 1:05d}").update(
            status=Offer.Status.DECLINED
        )
        return session, first, second

    def admit(self, session: Session, application: Application, actor: Any) -> Callable[[], Any]:
        def call() -> Any:
            return offers.walk_in_admit(
                session=session, application_id=application.pk, actor=actor, now=NOW
            )

        return call

    def both(self, n: int) -> tuple[list[Any], Session]:
        session, first, second = self.setup_round(n)
        results = race(self.admit(session, first, self.gus), self.admit(session, second, self.erin))
        return results, session

    def test_two_gates_at_once_admit_one_party_and_tell_the_other_why(self) -> None:
        for n in range(self.ROUNDS):
            results, session = self.both(n)
            admitted = [r for r in results if isinstance(r, Offer)]
            refused = [r for r in results if isinstance(r, offers.OfferError)]
            self.assertEqual((len(admitted), len(refused)), (1, 1), results)
            self.assertEqual(refused[0].code, "walk_in_no_room")
            self.assertEqual(offers.walk_in_free(session, NOW), 0)

    def test_control_without_the_lock_the_race_overbooks(self) -> None:
        with mock.patch.object(offers, "_WALK_IN_LOCKED", False):
            results, session = self.both(0)
        self.assertTrue(all(isinstance(r, Offer) for r in results), results)
        self.assertEqual(offers.walk_in_free(session, NOW), -2)
