from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.test import TestCase, TransactionTestCase
from django.urls import reverse
from django.utils import timezone, translation

from headon.testing import PersonasTestCase
from headon.visits import beacon, tickets
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Draw,
    Offer,
    PartyMember,
    Program,
    Session,
    Ticket,
    WaitlistEntry,
)
from headon.visits.services import draws, offers
from headon.visits.services.tickets import public_keys
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_races import race


def make_application(
    program: Program, n: int, size: int, sessions: Sequence[Session], **fields: Any
) -> Application:
    application = Application.objects.create(
        program=program,
        reference=f"T{n:05d}",
        contact_kind=Application.ContactKind.PHONE,
        contact=f"+86138{n:08d}",
        party_size=size,
        consented_at=timezone.now(),
        **fields,
    )
    PartyMember.objects.bulk_create(
        PartyMember(application=application, position=p, name=f"Visitor {n}-{p}")
        for p in range(size)
    )
    ApplicationChoice.objects.bulk_create(
        ApplicationChoice(application=application, session=s, rank=r)
        for r, s in enumerate(sessions, start=1)
    )
    return application


# A published quicknet round (beacon.RECORDED): the tests seal just before
# it is due, OFFSET rounds ahead, and run the draw with its real signature.
ROUND = 9683710
SIGNATURE = beacon.RECORDED[ROUND]
OFFSET = 100


def seal_moment(offset: int = OFFSET) -> dt.datetime:
    """A second before round ROUND - offset: the seal then names ROUND."""
    return beacon.round_time(ROUND - offset) - dt.timedelta(seconds=1)


def committed(program: Program, **commit: Any) -> Draw:
    commit.setdefault("beacon_offset", OFFSET)
    with time_machine.travel(seal_moment(commit["beacon_offset"]) - dt.timedelta(days=1)):
        return draws.draw_commit(
            program=program, source=commit.pop("source", "secret"), actor=None, **commit
        )


def sealed(program: Program, **commit: Any) -> Draw:
    """Committed and sealed so that the draw uses round ROUND."""
    draw = committed(program, **commit)
    with time_machine.travel(seal_moment(draw.beacon_offset), tick=False):
        return draws.draw_close(program=program, actor=None, force=True)


def drawn(program: Program, **commit: Any) -> Draw:
    sealed(program, **commit)
    return draws.draw_run(program=program, actor=None, beacon_value=SIGNATURE)


def held(session: Session) -> int:
    return (
        Offer.objects.filter(
            session=session, status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED]
        ).aggregate(n=Sum("seats"))["n"]
        or 0
    )


class DrawFlowTests(TestCase):
    def setUp(self) -> None:
        self.enterContext(translation.override("en"))  # the refusals are in the staff's language
        self.program = make_program(sessions=2, capacity=6)
        self.sessions = list(self.program.sessions.order_by("starts_at"))
        for n in range(12):
            make_application(
                self.program, n, 1 + n % 3, self.sessions[n % 2 :] + self.sessions[: n % 2]
            )

    def test_commit_close_run_then_the_record_verifies(self) -> None:
        draw = drawn(self.program)
        self.assertEqual(draw.stage, Draw.Stage.DONE)
        self.assertEqual(len(draw.commitment), 64)
        for session in self.sessions:
            self.assertLessEqual(held(session), session.capacity)
        placed = Offer.objects.count()
        self.assertEqual(placed + WaitlistEntry.objects.count(), 12)
        out = io.StringIO()
        call_command("draw", "verify", self.program.slug, stdout=out)
        self.assertIn("MATCH", out.getvalue())
        # A tampered record is caught by the standalone verifier.
        record = dict(draw.record or {})
        record["waitlist"] = list(reversed(record["waitlist"]))
        path = self._write(record)
        with self.assertRaises(CommandError):
            call_command(
                "draw", "verify", "--record", path, "--secret", draw.revealed, stdout=io.StringIO()
            )

    def _write(self, record: dict[str, Any]) -> str:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = Path(directory) / "record.json"
        path.write_text(json.dumps(record))
        return str(path)

    def test_a_second_run_changes_nothing(self) -> None:
        first = drawn(self.program)
        offers_before = list(Offer.objects.values_list("application", "session").order_by("pk"))
        again = draws.draw_run(program=self.program, actor=None)  # no signature needed now
        self.assertEqual(again.seed, first.seed)
        self.assertEqual(
            list(Offer.objects.values_list("application", "session").order_by("pk")), offers_before
        )

    def test_the_draw_refuses_a_list_changed_after_it_was_sealed(self) -> None:
        sealed(self.program)
        make_application(self.program, 99, 1, self.sessions)
        with self.assertRaisesMessage(draws.DrawStepError, "changed after it was sealed"):
            draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE)
        self.assertFalse(Offer.objects.exists())

    def test_commit_refused_after_the_close(self) -> None:
        self.program.applications_close_at = timezone.now() - dt.timedelta(minutes=1)
        self.program.save()
        with self.assertRaisesMessage(draws.DrawStepError, "before applications close"):
            draws.draw_commit(program=self.program, source="secret", actor=None)

    def test_a_beacon_draw_needs_the_published_value(self) -> None:
        draw = sealed(self.program, source="beacon")
        self.assertEqual((draw.commitment, draw.beacon_round), ("", ROUND))
        with self.assertRaisesMessage(draws.DrawStepError, "not the signature"):
            draws.draw_run(program=self.program, actor=None, beacon_value="not hex")
        draw = draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE)
        self.assertEqual((draw.revealed, draw.beacon_signature), ("", SIGNATURE))
        out = io.StringIO()
        call_command("draw", "verify", self.program.slug, stdout=out)
        self.assertIn("MATCH", out.getvalue())

    def test_confirm_issues_a_signed_ticket_per_visitor(self) -> None:
        drawn(self.program)
        offer = Offer.objects.filter(seats=3).first() or Offer.objects.first()
        assert offer is not None
        offers.offer_confirm(offer)
        offers.offer_confirm(offer)  # twice: still one ticket each
        codes = list(Ticket.objects.filter(offer=offer).values_list("code", flat=True))
        self.assertEqual(len(codes), offer.seats)
        for code in codes:
            claims = tickets.verify_ticket(code, public_keys())
            self.assertEqual(claims.session_id, offer.session_id)

    def test_a_declined_place_goes_down_the_waitlist_whole_parties_only(self) -> None:
        drawn(self.program)
        first_waiting = WaitlistEntry.objects.order_by("position").first()
        assert first_waiting is not None
        # Decline an offer of the session the first waiting party ranked first.
        wanted = first_waiting.application.choices.order_by("rank").first().session  # type: ignore[union-attr]
        offer = Offer.objects.filter(session=wanted).order_by("-seats").first()
        assert offer is not None
        offers.offer_decline(offer)
        made = offers.promote(self.program)
        for session in self.sessions:
            self.assertLessEqual(held(session), session.capacity)
        for new in made:
            entry = WaitlistEntry.objects.get(application=new.application)
            self.assertEqual(entry.status, WaitlistEntry.Status.OFFERED)
            self.assertEqual(new.source, Offer.Source.WAITLIST)
        # Skipped parties keep their place.
        skipped = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
        self.assertEqual(
            list(skipped.values_list("position", flat=True)),
            sorted(skipped.values_list("position", flat=True)),
        )
        self.assertEqual(offers.promote(self.program), [])  # once only

    def test_offers_lapse_after_their_deadline(self) -> None:
        drawn(self.program)
        with time_machine.travel(timezone.now() + dt.timedelta(hours=73)):
            lapsed = offers.offers_lapse()
        self.assertEqual(lapsed, Offer.objects.filter(status=Offer.Status.LAPSED).count())
        self.assertGreater(lapsed, 0)


class PromotionRaceTests(TransactionTestCase):
    """Two workers promote at once. The draw-row lock serialises them; with
    the lock off (the control case) the second fills seats the first already
    gave away. PostgreSQL only: SQLite's write lock serialises any two
    writing transactions, so there the race cannot even be staged."""

    def setUp(self) -> None:
        if connection.vendor != "postgresql":
            pytest.skip("the promotion race needs concurrent writers (PostgreSQL)")
        self.program = make_program(sessions=1, capacity=2)
        self.session = self.program.sessions.get()
        make_application(self.program, 1, 2, [self.session])
        for n in (2, 3):
            make_application(self.program, n, 2, [self.session])
        drawn(self.program)
        offer = Offer.objects.get()
        offers.offer_decline(offer)
        self.assertEqual(held(self.session), 0)

    def _race(self) -> list[Any]:
        barrier = threading.Barrier(2, timeout=3)
        original = offers.seats_held
        calls = []

        def seats_then_wait(ids: list[int]) -> dict[int, int]:
            result = original(ids)
            # With the lock on, the other promotion is still waiting for it.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            if threading.current_thread().name.endswith("late"):
                time.sleep(0.5)  # let the first promotion commit
            return result

        def call() -> int:
            return len(offers.promote(Program.objects.get(pk=self.program.pk)))

        calls = [call, call]
        with mock.patch.object(offers, "seats_held", seats_then_wait):
            real_thread = threading.Thread

            class Named(real_thread):  # type: ignore[misc, valid-type]
                count = 0

                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    Named.count += 1
                    kwargs["name"] = f"promoter-{'late' if Named.count == 2 else 'early'}"
                    super().__init__(*args, **kwargs)

            with mock.patch.object(threading, "Thread", Named):
                return race(*calls)

    def test_two_promotions_at_once_fill_the_seats_once(self) -> None:
        results = self._race()
        self.assertEqual(sorted(r for r in results if isinstance(r, int)), [0, 1])
        self.assertEqual(held(self.session), 2)

    def test_control_without_the_lock_the_harness_sees_overbooking(self) -> None:
        with mock.patch.object(offers, "_lock", return_value=None):
            self._race()
        self.assertGreater(held(self.session), self.session.capacity)


class DrawRaceTests(TransactionTestCase):
    """Two runs of one draw at once. The draw-row lock makes the second wait
    and find the first's outcome. With the lock off (the control, on
    PostgreSQL, where two writers can overlap) both pass the stage check,
    and only the one-offer-per-application constraint stops the second."""

    def setUp(self) -> None:
        self.program = make_program(sessions=2, capacity=4)
        sessions = list(self.program.sessions.all())
        for n in range(10):
            make_application(self.program, n, 1 + n % 2, sessions)
        sealed(self.program)

    def _race(self) -> list[Any]:
        barrier = threading.Barrier(2, timeout=2)
        original = draws.parties_for

        def parties_then_wait(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            # With the lock on, the other run is still waiting for it.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            return result

        def run() -> str:
            program = Program.objects.get(pk=self.program.pk)
            return draws.draw_run(program=program, actor=None, beacon_value=SIGNATURE).seed

        with mock.patch.object(draws, "parties_for", parties_then_wait):
            return race(run, run)

    def test_two_runs_at_once_make_one_outcome(self) -> None:
        results = self._race()
        self.assertEqual(len(set(results)), 1, results)
        placed = Offer.objects.count()
        self.assertEqual(placed + WaitlistEntry.objects.count(), 10)
        self.assertEqual(Offer.objects.values("application").distinct().count(), placed)

    def test_control_without_the_lock_both_runs_get_past_the_stage_check(self) -> None:
        if connection.vendor != "postgresql":
            pytest.skip("two writers overlap only on PostgreSQL")
        unlocked = Draw.objects.all()
        with mock.patch.object(Draw.objects, "select_for_update", return_value=unlocked):
            results = self._race()
        self.assertTrue(any(isinstance(r, IntegrityError) for r in results), results)


class SimulateCommandTests(TestCase):
    def test_the_report_is_written_with_its_chart(self) -> None:
        import xml.etree.ElementTree as ET

        with tempfile.TemporaryDirectory() as tmp:
            out = io.StringIO()
            call_command(
                "draw", "simulate", "--applicants", "600", "--runs", "2", "--out", tmp, stdout=out
            )
            text = (Path(tmp) / "draw-simulation.md").read_text()
            self.assertIn("party of 4", text)
            self.assertIn("group lottery, no leapfrogging", text)
            ET.parse(Path(tmp) / "draw-simulation.svg")


class TierTests(TestCase):
    def test_with_tiers_the_first_tier_is_drawn_first(self) -> None:
        program = make_program(sessions=1, capacity=3)
        session = program.sessions.get()
        owners = [make_application(program, n, 1, [session], priority_tier=0) for n in range(3)]
        for n in range(3, 20):
            make_application(program, n, 1, [session], priority_tier=1)
        drawn(program, tiers=True)
        self.assertEqual(
            set(Offer.objects.values_list("application", flat=True)), {a.pk for a in owners}
        )


class NotificationTests(TestCase):
    def test_offers_and_tickets_reach_the_party_by_sms(self) -> None:
        from headon.sms import outbox
        from headon.visits import jobs

        program = make_program(sessions=1, capacity=4)
        session = program.sessions.get()
        make_application(program, 1, 2, [session], language="zh-hans")
        drawn(program)
        offer = Offer.objects.get()
        outbox.clear()
        self.assertTrue(jobs.notify_offer.call(offer.pk))
        self.assertIn("/a/T00001/", outbox[-1][1])
        self.assertIn("确认", outbox[-1][1])
        offers.offer_confirm(offer)
        self.assertTrue(jobs.notify_tickets.call(offer.pk))
        self.assertIn("/tickets/", outbox[-1][1])
        self.assertFalse(jobs.notify_offer.call(offer.pk))  # confirmed: no reminder


class LateDrawTests(TestCase):
    def test_a_late_draw_gives_until_the_start_and_says_nothing_of_a_past_session(self) -> None:
        """A draw run a day before a session gave its parties 72 hours to
        confirm, past the start; one run after a session began sent "confirm
        by" a time after the visit (the demo's summer 2024 program did)."""
        from headon.sms import outbox
        from headon.visits import jobs

        program = make_program(sessions=2, capacity=4)
        soon, gone = program.sessions.order_by("starts_at")
        now = timezone.now().replace(microsecond=0)
        hours = dt.timedelta(hours=1)
        Session.objects.filter(pk=soon.pk).update(
            starts_at=now + 20 * hours, ends_at=now + 22 * hours
        )
        Session.objects.filter(pk=gone.pk).update(starts_at=now - 2 * hours, ends_at=now - hours)
        make_application(program, 1, 1, [soon])
        make_application(program, 2, 1, [gone])
        drawn(program)
        late, past = Offer.objects.get(session=soon), Offer.objects.get(session=gone)
        self.assertEqual(late.deadline, now + 20 * hours)
        self.assertEqual(past.deadline, now - 2 * hours)
        outbox.clear()
        self.assertTrue(jobs.notify_offer.call(late.pk))
        self.assertFalse(jobs.notify_offer.call(past.pk))
        self.assertEqual([m for m in outbox if "T00002" in m[1]], [])
        self.assertEqual(len(outbox), 1)


class SealedListTests(TestCase):
    def test_a_sealed_list_takes_no_change_or_withdrawal(self) -> None:
        from headon.visits.errors import VisitError
        from headon.visits.services.applications import application_withdraw

        program = make_program(sessions=1)
        application = make_application(program, 1, 1, list(program.sessions.all()))
        draws.draw_commit(program=program, source="secret", actor=None)
        draws.draw_close(program=program, actor=None, force=True)  # dates still open
        with self.assertRaises(VisitError) as caught:
            application_withdraw(application=application)
        self.assertEqual(caught.exception.code, "window_closed")

    def test_every_message_and_page_a_party_gets_names_the_day_and_time(self) -> None:
        """Five sessions can share the label "Lunar New Year": the label alone
        never says which day to come."""
        from headon.sms import outbox
        from headon.visits import jobs
        from headon.visits.services.applications import access_token

        program = make_program(sessions=2, capacity=4, venue="Plant 2, 88 Harbour Road")
        program.sessions.update(label_en="Lunar New Year", label_zh="春节")
        second = program.sessions.order_by("starts_at")[1]  # 2027-02-22 09:30 in Shanghai
        make_application(program, 1, 2, [second], language="zh-hans")
        make_application(program, 2, 1, [second], language="en")
        drawn(program)
        chinese, english = Offer.objects.order_by("application__reference")
        outbox.clear()
        jobs.notify_offer.call(chinese.pk)
        self.assertIn("2027年2月22日 09:30–11:30 · 春节 · Plant 2", outbox[-1][1])
        jobs.notify_offer.call(english.pk)
        self.assertIn("Mon 22 Feb 2027 09:30–11:30 · Lunar New Year · Plant 2", outbox[-1][1])
        offers.offer_confirm(english)
        jobs.notify_tickets.call(english.pk)
        self.assertIn("Mon 22 Feb 2027 09:30–11:30", outbox[-1][1])
        application = english.application
        base = f"/visits/{program.slug}/a/{application.reference}/{access_token(application)}/"
        for page in (base, base + "tickets/"):
            with self.subTest(page=page):
                self.assertContains(self.client.get(page), "Mon 22 Feb 2027 09:30–11:30")


class CapacityTests(PersonasTestCase):
    """The waitlist moved only when someone declined: seats the draw left
    free, and seats added by raising a capacity, stayed empty; a capacity cut
    below its bookings was accepted (the report then said 147%)."""

    def setUp(self) -> None:
        self.program = make_program(sessions=1, capacity=4)
        self.session = self.program.sessions.get()
        for n in range(4):
            make_application(self.program, n, 2, [self.session])  # two fit, two wait

    def run_promotion_jobs(self) -> None:
        from django_tasks_db.models import DBTaskResult

        from headon.visits import jobs

        for job in DBTaskResult.objects.filter(task_path="headon.visits.jobs.promote_program"):
            jobs.promote_program.call(*job.args_kwargs["args"])

    def edit(self, capacity: int) -> Any:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:session_edit", args=[self.program.slug, self.session.pk])
        return self.client.post(url, {"capacity": capacity})

    def test_raising_a_capacity_offers_the_new_seats_to_the_waitlist(self) -> None:
        drawn(self.program)
        self.assertEqual(held(self.session), 4)
        self.edit(6)
        self.run_promotion_jobs()
        self.assertEqual(held(self.session), 6)
        self.assertEqual(Offer.objects.filter(source=Offer.Source.WAITLIST).count(), 1)

    def test_a_capacity_below_the_seats_taken_is_refused_with_the_reason(self) -> None:
        drawn(self.program)
        response = self.edit(2)
        self.assertContains(response, "4 seats of this session are offered or confirmed")
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 4)

    def test_seats_the_draw_left_free_go_to_a_party_that_fits(self) -> None:
        small = make_program(slug="small", sessions=1, capacity=3)
        session = small.sessions.get()
        make_application(small, 10, 2, [session])
        make_application(small, 11, 2, [session])
        make_application(small, 12, 1, [session])
        drawn(small)
        before = held(session)
        self.run_promotion_jobs()
        # Whatever order the draw gave, the party of one fills the last seat.
        self.assertEqual((before <= 3, held(session)), (True, 3))

    def test_a_coordinator_can_offer_free_seats_to_the_waitlist_now(self) -> None:
        drawn(self.program)
        self.session.capacity = 6
        self.session.save()  # raised outside the form, say by an earlier version
        self.client.force_login(self.erin)
        url = reverse("visits_staff:draw", args=[self.program.slug])
        self.assertContains(self.client.get(url), "Offer free seats to the waitlist now")
        self.client.post(url, {"action": "promote"})
        self.run_promotion_jobs()
        self.assertEqual(held(self.session), 6)


class SealedTermsTests(PersonasTestCase):
    """After sealing, session 1 went from 60 to 2,000 seats and the draw used
    it (capacities are not in the list hash), and the close date moved into
    the future: the page said "open" and refused every application."""

    def setUp(self) -> None:
        self.program = make_program(sessions=2, capacity=4)
        self.session = self.program.sessions.order_by("starts_at")[0]
        make_application(self.program, 1, 2, [self.session])
        sealed(self.program)
        self.client.force_login(self.erin)

    def test_sessions_cannot_change_between_the_seal_and_the_draw(self) -> None:
        url = reverse("visits_staff:session_edit", args=[self.program.slug, self.session.pk])
        response = self.client.post(url, {"capacity": 2000})
        self.assertContains(response, "sealed and not drawn yet")
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 4)
        self.client.post(url, {"capacity": 4, "cancel": "on"})
        self.session.refresh_from_db()
        self.assertEqual(self.session.status, Session.Status.SCHEDULED)
        # Once drawn, a raised capacity feeds the waitlist again.
        draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE)
        self.client.post(url, {"capacity": 6})
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 6)

    def test_the_application_window_cannot_move_once_sealed(self) -> None:
        url = reverse("visits_staff:program_edit", args=[self.program.slug])
        later = timezone.localtime(self.program.applications_close_at) + dt.timedelta(days=30)
        body = {
            "slug": self.program.slug,
            "title_en": "Open Days",
            "title_zh": "开放日",
            "party_size_max": 4,
            "choices_max": 3,
            "applications_open_at": timezone.localtime(self.program.applications_open_at).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "applications_close_at": later.strftime("%Y-%m-%dT%H:%M"),
        }
        response = self.client.post(url, body)
        self.assertContains(response, "the application window cannot move")
        before = self.program.applications_close_at
        self.program.refresh_from_db()
        self.assertEqual(self.program.applications_close_at, before)


class GrindingTests(TestCase):
    """The attacks on the draw's randomness. An organiser who knew the seed
    before the seal could try candidate lists (one innocuous application,
    found after 57 tries, moved a chosen party from place 254 to place 7);
    a beacon value typed at run time (00, for a round that did not exist)
    was accepted, and capacities, mechanism and tiers were not sealed."""

    def setUp(self) -> None:
        self.enterContext(translation.override("en"))
        self.program = make_program(sessions=2, capacity=4)
        self.sessions = list(self.program.sessions.order_by("starts_at"))
        for n in range(8):
            make_application(self.program, n, 1 + n % 2, self.sessions)

    def test_the_seed_cannot_be_known_before_the_seal(self) -> None:
        draw = committed(self.program)
        self.assertIsNone(draw.beacon_round)  # nothing names a round before the seal
        moment = seal_moment()
        with time_machine.travel(moment, tick=False):
            draw = draws.draw_close(program=self.program, actor=None, force=True)
            # At the seal the round is still to come: nobody has its value.
            assert draw.closed_at is not None
            self.assertGreater(beacon.round_time(ROUND), draw.closed_at)
            with self.assertRaisesMessage(draws.DrawStepError, "does not exist yet"):
                draws.draw_run(program=self.program, actor=None, beacon_value="00" * 48)
        # A round published before the seal (its value knowable) is refused.
        with self.assertRaisesMessage(draws.DrawStepError, "not the signature"):
            draws.draw_run(program=self.program, actor=None, beacon_value=beacon.RECORDED[657413])
        # The organiser's secret alone seeds nothing: without the round, no draw.
        with self.assertRaisesMessage(draws.DrawStepError, "not the signature"):
            draws.draw_run(program=self.program, actor=None, beacon_value="")
        self.assertEqual(
            draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE).stage,
            Draw.Stage.DONE,
        )

    def test_every_seal_names_a_round_after_it(self) -> None:
        start = beacon.round_time(ROUND)
        for step in range(0, 7 * 3600, 997):  # odd steps: every phase of a 3 s round
            moment = start + dt.timedelta(seconds=step, microseconds=step * 7919 % 10**6)
            for offset in (1, 100):
                first = beacon.first_round_at_or_after(moment)
                self.assertGreaterEqual(beacon.round_time(first), moment)
                self.assertGreater(beacon.round_time(first + offset), moment)

    def test_applications_cannot_be_added_after_the_seal(self) -> None:
        from headon.visits.errors import VisitError
        from headon.visits.services.applications import PersonInput, application_submit
        from headon.visits.tests.factories import contact

        sealed(self.program)  # the dates still say open: the seal closes the list
        with self.assertRaises(VisitError) as caught:
            application_submit(
                program=self.program,
                contact=contact(self.program),
                lead=PersonInput(name="Late Comer"),
                companions=[],
                session_ids=[self.sessions[0].pk],
                consent=True,
            )
        self.assertEqual(caught.exception.code, "window_closed")
        # Written past the services, an application still cannot join the draw.
        make_application(self.program, 99, 1, self.sessions)
        with self.assertRaisesMessage(draws.DrawStepError, "changed after it was sealed"):
            draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE)

    def test_nothing_the_draw_depends_on_can_change_after_the_seal(self) -> None:
        sealed(self.program)
        changes = [
            lambda: Session.objects.filter(pk=self.sessions[0].pk).update(capacity=2000),
            lambda: Session.objects.filter(pk=self.sessions[0].pk).update(
                status=Session.Status.CANCELLED
            ),
            lambda: Draw.objects.update(mechanism=Draw.Mechanism.PLAIN),
            lambda: Draw.objects.update(tiers=True),
            lambda: Draw.objects.update(beacon_offset=101),
        ]
        for change in changes:
            with self.subTest(change=change), transaction.atomic():
                change()
                with self.assertRaises(draws.DrawStepError):
                    draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE)
                transaction.set_rollback(True)
        # The control: unchanged, it runs.
        self.assertEqual(
            draws.draw_run(program=self.program, actor=None, beacon_value=SIGNATURE).stage,
            Draw.Stage.DONE,
        )

    def test_a_wrong_beacon_value_is_refused_in_the_coordinators_language(self) -> None:
        sealed(self.program)
        with translation.override("zh-hans"), self.assertRaises(draws.DrawStepError) as caught:
            draws.draw_run(program=self.program, actor=None, beacon_value="00")
        self.assertIn("9683710", str(caught.exception))
        self.assertIn("签名", str(caught.exception))


class MigrationTests(TestCase):
    def test_unrun_v1_draws_become_v2_and_a_sealed_one_is_sealed_again(self) -> None:
        import importlib

        from django.apps import apps

        migration = importlib.import_module(
            "headon.visits.migrations.0006_draw_beacon_round_sealed_hash"
        )
        open_program = make_program(slug="committed")
        sealed_program = make_program(slug="sealed")  # sealed early: its dates still say open
        drawn_program = make_program(slug="drawn")
        for program, stage in (
            (open_program, Draw.Stage.COMMITTED),
            (sealed_program, Draw.Stage.CLOSED),
            (drawn_program, Draw.Stage.DONE),
        ):
            Draw.objects.create(
                program=program,
                algorithm="headon-draw-v1",
                source="secret",
                commitment="ab" * 32,
                stage=stage,
                sealed_hash="cd" * 32 if stage != Draw.Stage.COMMITTED else "",
                closed_at=timezone.now() if stage != Draw.Stage.COMMITTED else None,
            )
        migration.to_v2(apps, None)
        rows = {d.program.slug: d for d in Draw.objects.select_related("program")}
        self.assertEqual(rows["committed"].algorithm, "headon-draw-v2")
        self.assertEqual(
            (rows["sealed"].algorithm, rows["sealed"].stage, rows["sealed"].sealed_hash),
            ("headon-draw-v2", Draw.Stage.COMMITTED, ""),
        )
        # Its list stays frozen: the window is closed now.
        assert rows["sealed"].program.applications_close_at is not None
        self.assertLessEqual(rows["sealed"].program.applications_close_at, timezone.now())
        self.assertEqual(rows["drawn"].algorithm, "headon-draw-v1")
        self.assertEqual(rows["committed"].commitment, "ab" * 32)


class CommandTests(TestCase):
    def test_the_command_commits_to_a_round_after_the_seal_and_seals_it(self) -> None:
        program = make_program(sessions=1, capacity=4)
        make_application(program, 1, 2, list(program.sessions.all()))
        out = io.StringIO()
        call_command(
            "draw",
            "commit",
            program.slug,
            "--source",
            "beacon",
            "--beacon-offset",
            "20",
            stdout=out,
        )
        self.assertIn("the first drand quicknet round at or after the seal plus 20", out.getvalue())
        with time_machine.travel(seal_moment(20), tick=False):
            call_command("draw", "close", program.slug, "--force", stdout=out)
        self.assertIn(f"the draw uses drand quicknet round {ROUND}", out.getvalue())
        with self.assertRaises(CommandError):
            call_command("draw", "run", program.slug, "--beacon-value", "00", stdout=out)
        call_command("draw", "run", program.slug, "--beacon-value", SIGNATURE, stdout=out)
        call_command("draw", "verify", program.slug, stdout=out)
        self.assertTrue(out.getvalue().rstrip().endswith("MATCH"))
