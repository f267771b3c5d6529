"""A session moved to a new time: the confirmed parties' tickets are signed
again (the old code is refused at the gate with the reason, the new one
admits), every party holding a place is told once, in its language, the old
and the new time with its private link; moves into the past, with an end
before the start, or between the seal and the draw are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.test import TestCase
from django.urls import reverse
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from headon.accounts.models import User
from headon.sms import outbox
from headon.testing import PersonasTestCase
from headon.visits import jobs
from headon.visits.models import Offer, Program, ReplacedTicketCode, Session, Ticket
from headon.visits.services import gate, offers
from headon.visits.services.programs import SessionEditError, session_edit
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application, sealed

LATER = dt.timedelta(days=1, hours=3)


def moved_jobs() -> list[list[Any]]:
    return [
        job.args_kwargs["args"]
        for job in DBTaskResult.objects.filter(task_path="headon.visits.jobs.notify_moved")
    ]


def run_moved_jobs() -> list[bool]:
    return [jobs.notify_moved.call(*args) for args in moved_jobs()]


class MoveTests(TestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="move-days", sessions=1, capacity=4)
        cls.session = cls.program.sessions.get()
        make_application(cls.program, 1, 2, [cls.session], priority_tier=0)  # confirms
        make_application(
            cls.program, 2, 2, [cls.session], priority_tier=0, language="zh-hans"
        )  # offered
        make_application(cls.program, 3, 2, [cls.session], priority_tier=1)  # waits: no notice
        drawn(cls.program, tiers=True)
        offers.offer_confirm(Offer.objects.get(application__reference="T00001"))

    def setUp(self) -> None:
        self.enterContext(translation.override("en"))
        DBTaskResult.objects.all().delete()
        outbox.clear()

    def move(self, by: dt.timedelta = LATER) -> Session:
        return session_edit(
            session=self.session,
            starts_at=self.session.starts_at + by,
            ends_at=self.session.ends_at + by,
        )

    def test_the_move_renews_the_tickets_the_old_code_is_refused_with_the_reason(self) -> None:
        old = {t.pk: t.code for t in Ticket.objects.filter(offer__application__reference="T00001")}
        self.assertEqual(len(old), 2)
        old_start = self.session.starts_at
        self.move()
        renewed = {t.pk: t.code for t in Ticket.objects.filter(pk__in=old)}
        self.assertEqual(set(renewed), set(old))
        self.assertTrue(all(renewed[pk] != old[pk] for pk in old))
        self.assertEqual(ReplacedTicketCode.objects.count(), 2)
        gus = User.objects.create(username="gus")
        new_start = self.session.starts_at
        self.assertEqual(new_start, old_start + LATER)
        ticket_id, old_code = next(iter(old.items()))
        with time_machine.travel(new_start - dt.timedelta(minutes=10), tick=False):
            refused = gate.check_in(code=old_code, session=self.session, actor=gus)
            self.assertEqual(refused.reason, "replaced")
            self.assertIn("replaced when its session moved", refused.message)
            self.assertTrue(
                gate.check_in(code=renewed[ticket_id], session=self.session, actor=gus).ok
            )
        # Control: at the old time, the new code is too early: it names the new time.
        with time_machine.travel(old_start - dt.timedelta(minutes=10), tick=False):
            other = next(pk for pk in renewed if pk != ticket_id)
            self.assertEqual(
                gate.check_in(code=renewed[other], session=self.session, actor=gus).reason,
                "too_early",
            )

    def test_each_party_holding_a_place_is_told_once_in_its_language(self) -> None:
        old = self.session.when
        self.move()
        args = moved_jobs()
        self.assertEqual(len(args), 2)  # the confirmed and the offered; not the waitlisted
        for job_args in args:
            text = " ".join(str(a) for a in job_args)
            self.assertNotIn("+86", text)  # no address
            self.assertNotIn("/a/", text)  # no link
        self.assertEqual(run_moved_jobs(), [True, True])
        by_phone = dict(outbox)
        english = by_phone["+8613800000001"]
        self.assertIn("moved from", english)
        self.assertIn(old, english)
        self.assertIn(self.session.when, english)
        self.assertIn("/a/T00001/", english)
        self.assertIn("tickets are renewed", english)
        chinese = by_phone["+8613800000002"]
        with translation.override("zh-hans"):
            old_zh = Session(
                starts_at=self.session.starts_at - LATER, ends_at=self.session.ends_at - LATER
            ).when
            new_zh = self.session.when
        self.assertIn(old_zh, chinese)
        self.assertIn(new_zh, chinese)
        self.assertIn("/a/T00002/", chinese)
        self.assertIn("改到", chinese)
        # A retried job sends nothing more.
        self.assertEqual(run_moved_jobs(), [False, False])
        self.assertEqual(len(outbox), 2)

    def test_an_offer_moved_earlier_than_its_deadline_must_be_answered_first(self) -> None:
        offered = Offer.objects.get(application__reference="T00002")
        offered.deadline = self.session.starts_at + dt.timedelta(days=30)
        offered.save(update_fields=["deadline"])
        self.move(-dt.timedelta(days=3))
        offered.refresh_from_db()
        self.assertEqual(offered.deadline, self.session.starts_at)

    def test_a_move_into_the_past_is_refused(self) -> None:
        with self.assertRaisesMessage(SessionEditError, "into the past"):
            self.move(-dt.timedelta(days=3650))
        self.session.refresh_from_db()
        self.assertFalse(ReplacedTicketCode.objects.exists())
        self.assertEqual(moved_jobs(), [])

    def test_an_end_before_the_start_is_refused_in_both_languages(self) -> None:
        for language, words in (("en", "must end after it starts"), ("zh-hans", "结束时间")):
            with translation.override(language), self.assertRaisesMessage(SessionEditError, words):
                session_edit(
                    session=self.session,
                    starts_at=self.session.starts_at + LATER,
                    ends_at=self.session.starts_at + LATER - dt.timedelta(hours=1),
                )
        self.assertEqual(moved_jobs(), [])


class SealedMoveTests(TestCase):
    def test_a_move_between_the_seal_and_the_draw_is_refused(self) -> None:
        program = make_program(slug="sealed-move", sessions=1, capacity=4)
        session = program.sessions.get()
        make_application(program, 1, 2, [session])
        sealed(program)
        with translation.override("en"), self.assertRaisesMessage(SessionEditError, "sealed"):
            session_edit(
                session=session,
                starts_at=session.starts_at + LATER,
                ends_at=session.ends_at + LATER,
            )


class MovePageTests(PersonasTestCase):
    def test_the_page_shows_who_is_reached_then_moves_on_confirmation(self) -> None:
        program = make_program(slug="move-page", sessions=1, capacity=4)
        session = program.sessions.get()
        make_application(program, 1, 2, [session])
        make_application(program, 2, 1, [session])
        drawn(program)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:session_edit", args=[program.slug, session.pk])
        page = self.client.get(url)
        self.assertContains(page, 'type="datetime-local"')
        self.assertContains(page, 'value="2027-02-15T09:30"')  # the organiser's time, ISO
        new = {"capacity": "4", "starts_at": "2027-02-16T10:00", "ends_at": "2027-02-16T12:00"}
        preview = self.client.post(url, new)
        self.assertContains(preview, "reaches 2 parties (3 visitors)")
        self.assertContains(preview, 'name="confirm_move"')
        session.refresh_from_db()
        self.assertEqual(session.starts_at, dt.datetime(2027, 2, 15, 1, 30, tzinfo=dt.UTC))
        done = self.client.post(url, {**new, "confirm_move": "1"}, follow=True)
        self.assertContains(done, "2 parties are being told the new time")
        session.refresh_from_db()
        self.assertEqual(session.starts_at, dt.datetime(2027, 2, 16, 2, 0, tzinfo=dt.UTC))
        self.assertEqual(len(moved_jobs()), 2)

    def test_saving_the_capacity_alone_moves_nothing(self) -> None:
        program = make_program(slug="stay-page", sessions=1, capacity=4)
        session = program.sessions.get()
        make_application(program, 1, 2, [session])
        drawn(program)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:session_edit", args=[program.slug, session.pk])
        same = {"capacity": "5", "starts_at": "2027-02-15T09:30", "ends_at": "2027-02-15T11:30"}
        self.client.post(url, same, follow=True)
        session.refresh_from_db()
        self.assertEqual(session.capacity, 5)
        self.assertEqual(moved_jobs(), [])

    def test_a_move_into_the_past_is_refused_on_the_page_in_chinese(self) -> None:
        program = make_program(slug="past-page", sessions=1, capacity=4)
        session = program.sessions.get()
        make_application(program, 1, 2, [session])
        drawn(program)  # a party holds a place: refused before the preview
        self.client.force_login(self.erin)
        url = reverse("visits_staff:session_edit", args=[program.slug, session.pk])
        past = {"capacity": "4", "starts_at": "2020-02-15T09:30", "ends_at": "2020-02-15T11:30"}
        response = self.client.post(url, past, headers={"accept-language": "zh-hans"})
        self.assertContains(response, "不能改到过去")
        self.assertNotContains(response, 'name="confirm_move"')
        session.refresh_from_db()
        self.assertEqual(session.starts_at.year, 2027)
