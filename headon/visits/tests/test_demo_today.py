"""The demo's open day is today in the organiser's zone, with confirmed
visitors whose tickets check in at once; rerun tomorrow, it makes a new
one and archives the old."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import TestCase
from django.utils import timezone

from headon.accounts.models import User
from headon.timezones import organiser_tz
from headon.visits import demo
from headon.visits.models import Program, Ticket
from headon.visits.services import gate, offers

# 04:10 UTC is 12:10 in Shanghai: between the morning and afternoon
# sessions, so the demo adds one starting at 12:00.
NOON = dt.datetime(2027, 3, 2, 4, 10, tzinfo=dt.UTC)


@time_machine.travel(NOON, tick=False)
class DemoTodayTests(TestCase):
    def test_todays_sessions_have_visitors_and_a_gate_open_now(self) -> None:
        program = demo.load_today()
        days = {
            timezone.localtime(s.starts_at, organiser_tz()).date() for s in program.sessions.all()
        }
        self.assertEqual(days, {dt.date(2027, 3, 2)})
        self.assertEqual(program.sessions.count(), 3)
        open_now = [s for s in program.sessions.all() if gate.gate_is_open(s, timezone.now())]
        self.assertTrue(open_now)
        ticket = Ticket.objects.filter(session=open_now[0]).first()
        assert ticket is not None
        result = gate.check_in(
            code=ticket.code, session=open_now[0], actor=User.objects.create(username="g")
        )
        self.assertTrue(result.ok, result.message)
        self.assertEqual(demo.load_today().pk, program.pk)  # rerun the same day: the same

    def test_tomorrow_brings_a_new_one_and_archives_the_old(self) -> None:
        first = demo.load_today()
        with time_machine.travel(NOON + dt.timedelta(days=1), tick=False):
            second = demo.load_today()
        self.assertNotEqual(first.slug, second.slug)
        self.assertEqual(Program.objects.get(pk=first.pk).status, Program.Status.ARCHIVED)


class DemoWalkInTests(TestCase):
    def test_a_waiting_party_can_walk_in_to_the_session_open_now(self) -> None:
        # At 12:10 the 12:00 session is open; at 10:10 the 09:30 one is
        # (no session of its own this hour; the day before, so each gets
        # its own program): either way one party waits.
        for moment in (NOON, NOON - dt.timedelta(days=1, hours=2)):
            with self.subTest(moment=moment), time_machine.travel(moment, tick=False):
                program = demo.load_today()
                now = timezone.now()
                open_now = [s for s in program.sessions.all() if offers.walk_in_open(s, now)]
                session = max(open_now, key=lambda s: s.starts_at)
                self.assertEqual(offers.walk_in_free(session, now), 1)
                waiting = offers.walk_in_waiting(session, now)
                self.assertEqual([e.application.party_size for e in waiting], [1])
                offer = offers.walk_in_admit(
                    session=session,
                    application_id=waiting[0].application_id,
                    actor=User.objects.create(username=f"gate-{moment:%H}"),
                    now=now,
                )
                self.assertEqual(offer.status, "confirmed")
                self.assertEqual(offers.walk_in_free(session, now), 0)
