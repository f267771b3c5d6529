"""Reminders from the worker's clock: a day before the visit to each
confirmed party, and before an offer's deadline to its party; once each,
in the party's language, never for a cancelled session or a declined
offer, and a retried job sends nothing twice."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import TestCase
from django.utils import timezone

from headon.accounts.models import AuditEvent
from headon.ops.management.commands.worker import clock_tick
from headon.sms import outbox
from headon.visits import jobs
from headon.visits.models import Application, Offer, Program, Session
from headon.visits.services import reminders
from headon.visits.services.programs import session_edit
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_gate import confirmed_party

# make_program's first session runs 01:30-03:30 UTC (09:30-11:30 in
# Shanghai) on Monday 15 February 2027: 25.5 hours from now.
NOW = dt.datetime(2027, 2, 14, 0, 0, tzinfo=dt.UTC)


def offered_party(
    session: Session,
    deadline: dt.datetime,
    language: str = "en",
    offered_at: dt.datetime = NOW - dt.timedelta(days=2),
) -> Offer:
    """A party of one with an offer waiting for its answer."""
    (ticket,) = confirmed_party(session)
    offer = ticket.offer
    ticket.delete()
    Offer.objects.filter(pk=offer.pk).update(
        status=Offer.Status.OFFERED, deadline=deadline, offered_at=offered_at
    )
    Application.objects.filter(pk=offer.application_id).update(language=language)
    return Offer.objects.get(pk=offer.pk)


@time_machine.travel(NOW, tick=False)
class VisitReminderTests(TestCase):
    program: Program
    session: Session
    later: Session

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="remind-days", venue="Gate 3, 1 Factory Road")
        cls.session, cls.later = list(cls.program.sessions.order_by("starts_at")[:2])

    def setUp(self) -> None:
        outbox.clear()

    def test_each_confirmed_party_hears_once_with_the_day_the_times_and_its_tickets(self) -> None:
        (ticket,) = confirmed_party(self.session)
        confirmed_party(self.later)  # a week away: not yet
        self.assertEqual(reminders.visit_reminders(), 1)
        ((to, body),) = outbox
        self.assertEqual(to, ticket.offer.application.contact)
        self.assertIn("Mon", body)
        self.assertIn("09:30–11:30", body)
        self.assertIn("Gate 3, 1 Factory Road", body)
        self.assertIn(f"/a/{ticket.offer.application.reference}/", body)
        self.assertIn("tickets", body)
        # The clock asks again every minute; nobody hears twice.
        self.assertEqual(reminders.visit_reminders(), 0)
        self.assertEqual(len(outbox), 1)

    def test_a_chinese_party_reads_it_in_chinese(self) -> None:
        (ticket,) = confirmed_party(self.session)
        Application.objects.filter(pk=ticket.offer.application_id).update(language="zh-hans")
        reminders.visit_reminders()
        ((_, body),) = outbox
        self.assertIn("参观", body)
        self.assertIn("星期一", body)
        self.assertIn("09:30–11:30", body)
        self.assertNotIn("reminder", body)
        self.assertNotIn("Mon", body)

    def test_not_for_a_cancelled_session_nor_a_declined_offer(self) -> None:
        confirmed_party(self.session)
        session_edit(session=self.session, cancel=True)
        self.session.refresh_from_db()
        other = Session.objects.create(
            program=self.program,
            starts_at=self.session.starts_at + dt.timedelta(hours=3),
            ends_at=self.session.starts_at + dt.timedelta(hours=5),
            capacity=10,
        )
        (declined,) = confirmed_party(other)
        Offer.objects.filter(pk=declined.offer_id).update(status=Offer.Status.DECLINED)
        outbox.clear()
        self.assertEqual(reminders.visit_reminders(), 0)
        self.assertEqual(outbox, [])
        # The control: the same party, confirmed, is reminded.
        Offer.objects.filter(pk=declined.offer_id).update(status=Offer.Status.CONFIRMED)
        self.assertEqual(reminders.visit_reminders(), 1)

    def test_a_retried_job_sends_nothing_twice(self) -> None:
        confirmed_party(self.session)
        confirmed_party(self.session)
        self.assertEqual(jobs.remind_visits.call(), 2)
        self.assertEqual(jobs.remind_visits.call(), 0)
        self.assertEqual(len(outbox), 2)
        self.assertEqual(AuditEvent.objects.filter(action=reminders.VISIT_REMINDED).count(), 2)

    def test_the_clock_enqueues_the_job_only_while_someone_is_unreminded(self) -> None:
        confirmed_party(self.session)
        self.assertEqual(len(reminders.visits_unreminded()), 1)
        self.assertTrue(clock_tick())
        reminders.visit_reminders()
        self.assertEqual(reminders.visits_unreminded(), [])

    def test_the_job_arguments_hold_no_address_or_link(self) -> None:
        from django_tasks_db.models import DBTaskResult

        confirmed_party(self.session)
        clock_tick()
        row = DBTaskResult.objects.filter(task_path__endswith="remind_visits").get()
        self.assertEqual(row.args_kwargs, {"args": [], "kwargs": {}})


TWO_DAYS = dt.timedelta(days=2)


@time_machine.travel(NOW, tick=False)
class MovedSessionReminderTests(TestCase):
    """A session moved after its reminder went out is reminded again, once,
    the day before its new time; one moved before is reminded once."""

    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="moved-remind-days", venue="Gate 3, 1 Factory Road")
        cls.session = cls.program.sessions.order_by("starts_at").first()  # type: ignore[assignment]

    def setUp(self) -> None:
        outbox.clear()

    def move(self, by: dt.timedelta) -> None:
        session_edit(
            session=self.session,
            starts_at=self.session.starts_at + by,
            ends_at=self.session.ends_at + by,
        )

    def test_a_session_moved_after_its_reminder_is_reminded_again_for_the_new_day(self) -> None:
        confirmed_party(self.session)
        self.assertEqual(reminders.visit_reminders(), 1)
        self.assertIn("Mon", outbox[0][1])
        self.move(TWO_DAYS)  # Monday 15 -> Wednesday 17 February
        outbox.clear()
        with time_machine.travel(NOW + TWO_DAYS, tick=False):
            # The clock's job runs every minute: the party hears once.
            self.assertEqual(
                [jobs.remind_visits.call() for _ in range(3)], [1, 0, 0], "reminded once"
            )
        ((_, body),) = outbox
        self.assertIn("Wed", body)
        self.assertIn("09:30–11:30", body)
        self.assertIn("Gate 3, 1 Factory Road", body)

    def test_a_chinese_party_is_reminded_of_the_new_day_in_chinese(self) -> None:
        (ticket,) = confirmed_party(self.session)
        Application.objects.filter(pk=ticket.offer.application_id).update(language="zh-hans")
        reminders.visit_reminders()
        self.move(TWO_DAYS)
        outbox.clear()
        with time_machine.travel(NOW + TWO_DAYS, tick=False):
            self.assertEqual(reminders.visit_reminders(), 1)
        ((_, body),) = outbox
        for part in ("星期三", "2月17日", "09:30–11:30", "Gate 3, 1 Factory Road", "参观"):
            self.assertIn(part, body)
        self.assertNotIn("Wed", body)

    def test_the_old_once_per_session_record_would_not_remind_the_moved_session(self) -> None:
        """The control: a row naming the session only, as reminders were
        recorded before, holds the moved session's reminder back."""
        (ticket,) = confirmed_party(self.session)
        AuditEvent.objects.create(
            action=reminders.VISIT_REMINDED,
            target_type="visits.offer",
            target_id=str(ticket.offer_id),
            data={"session": str(self.session.pk)},
        )
        self.move(TWO_DAYS)
        outbox.clear()
        with time_machine.travel(NOW + TWO_DAYS, tick=False):
            self.assertEqual(reminders.visits_unreminded(), [])
            self.assertEqual(reminders.visit_reminder(ticket.offer_id), False)
        self.assertEqual(outbox, [])

    def test_a_session_moved_before_its_reminder_is_reminded_once_for_the_new_time(self) -> None:
        confirmed_party(self.session)
        self.move(TWO_DAYS)
        outbox.clear()
        self.assertEqual(reminders.visit_reminders(), 0)  # no longer tomorrow
        with time_machine.travel(NOW + TWO_DAYS, tick=False):
            self.assertEqual(reminders.visit_reminders(), 1)
        with time_machine.travel(NOW + TWO_DAYS + dt.timedelta(hours=6), tick=False):
            self.assertEqual(reminders.visit_reminders(), 0)
        ((_, body),) = outbox
        self.assertIn("Wed", body)

    def test_a_session_moved_later_the_same_day_is_reminded_of_the_new_hour(self) -> None:
        confirmed_party(self.session)
        self.assertEqual(reminders.visit_reminders(), 1)
        self.move(dt.timedelta(hours=3))
        outbox.clear()
        self.assertEqual(reminders.visit_reminders(), 1)
        self.assertEqual(reminders.visit_reminders(), 0)
        ((_, body),) = outbox
        self.assertIn("12:30–14:30", body)


@time_machine.travel(NOW, tick=False)
class ExpiryReminderTests(TestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="expiry-days")
        cls.session = cls.program.sessions.order_by("starts_at")[1]

    def setUp(self) -> None:
        outbox.clear()

    def test_an_offer_lapsing_within_a_day_is_reminded_once_with_its_deadline(self) -> None:
        # 14:00 UTC is 22:00 in Shanghai, on Sunday 14 February.
        soon = offered_party(self.session, NOW + dt.timedelta(hours=14))
        offered_party(self.session, NOW + dt.timedelta(hours=30))  # not yet
        self.assertEqual(jobs.remind_expiring_offers.call(), 1)
        ((to, body),) = outbox
        self.assertEqual(to, soon.application.contact)
        self.assertIn("Sun", body)
        self.assertIn("22:00", body)
        self.assertIn(f"/a/{soon.application.reference}/", body)
        self.assertEqual(jobs.remind_expiring_offers.call(), 0)
        self.assertEqual(len(outbox), 1)

    def test_a_chinese_party_reads_its_deadline_in_chinese(self) -> None:
        offered_party(self.session, NOW + dt.timedelta(hours=14), language="zh-hans")
        reminders.expiry_reminders()
        ((_, body),) = outbox
        self.assertIn("22:00", body)
        self.assertIn("确认", body)
        self.assertIn("星期日", body)
        self.assertNotIn("Sun", body)

    def test_not_for_a_declined_offer_or_a_cancelled_session_or_a_passed_deadline(self) -> None:
        declined = offered_party(self.session, NOW + dt.timedelta(hours=5))
        Offer.objects.filter(pk=declined.pk).update(status=Offer.Status.DECLINED)
        offered_party(self.session, NOW - dt.timedelta(minutes=1))
        cancelled_session = Session.objects.create(
            program=self.program,
            starts_at=timezone.now() + dt.timedelta(days=3),
            ends_at=timezone.now() + dt.timedelta(days=3, hours=2),
            capacity=10,
            status=Session.Status.CANCELLED,
        )
        offered_party(cancelled_session, NOW + dt.timedelta(hours=5))
        self.assertEqual(reminders.expiry_reminders(), 0)
        self.assertEqual(outbox, [])
        # The control: the declined one, offered again, is reminded.
        Offer.objects.filter(pk=declined.pk).update(status=Offer.Status.OFFERED)
        self.assertEqual(reminders.expiry_reminders(), 1)

    def test_an_extended_deadline_is_reminded_again_once(self) -> None:
        offer = offered_party(self.session, NOW + dt.timedelta(hours=2))
        self.assertEqual(reminders.expiry_reminders(), 1)
        Offer.objects.filter(pk=offer.pk).update(deadline=NOW + dt.timedelta(hours=20))
        self.assertEqual(reminders.expiry_reminders(), 1)
        self.assertEqual(reminders.expiry_reminders(), 0)
        self.assertEqual(len(outbox), 2)

    def test_an_offer_made_in_the_last_hours_is_not_reminded_yet(self) -> None:
        # Its own message named the deadline an hour ago.
        fresh = offered_party(
            self.session, NOW + dt.timedelta(hours=20), offered_at=NOW - dt.timedelta(hours=1)
        )
        self.assertEqual(reminders.expiry_reminders(), 0)
        # The control: twelve hours after the offer, it is.
        with time_machine.travel(NOW + dt.timedelta(hours=11), tick=False):
            self.assertEqual(reminders.expiry_reminders(), 1)
        self.assertEqual(outbox[0][0], fresh.application.contact)
