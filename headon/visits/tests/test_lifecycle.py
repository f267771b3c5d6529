"""A program's life: copied for next year (rules a year on, lunar rules by
the lunar year), unpublished while nobody has applied, archived once its
visits are over, restored; warnings for sessions in the past or before the
close."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from headon.testing import PersonasTestCase
from headon.visits.models import Program, ScheduleRule, Session
from headon.visits.services import programs
from headon.visits.services.programs import LifecycleError
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application

LUNAR = {
    "kind": "lunar",
    "year": 2027,
    "month": 1,
    "days": [5, 6, 7],
    "times": [{"start": "09:30", "end": "11:30"}],
    "capacity": 60,
    "label": "Lunar New Year · 春节",
}
WEEKLY = {
    "kind": "weekly",
    "weekdays": [0],
    "first": "2027-02-15",
    "last": "2027-03-22",
    "times": [{"start": "09:30", "end": "11:30"}],
    "capacity": 60,
}


class LifecycleTests(PersonasTestCase):
    program: Program

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="life-2027", sessions=2, venue="Plant 1")
        programs.rule_add(program=cls.program, spec=LUNAR)
        programs.rule_add(program=cls.program, spec=WEEKLY)

    def test_a_copy_for_next_year_moves_the_rules_and_makes_lunar_days_right(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:program_duplicate", args=[self.program.slug])
        response = self.client.post(url, {"slug": "life-2028"})
        self.assertRedirects(response, reverse("visits_staff:program", args=["life-2028"]))
        copy = Program.objects.get(slug="life-2028")
        self.assertEqual((copy.status, copy.venue, copy.sessions.count()), ("draft", "Plant 1", 0))
        specs = [r.spec for r in ScheduleRule.objects.filter(program=copy)]
        self.assertEqual(specs[0]["year"], 2028)
        self.assertEqual((specs[1]["first"], specs[1]["last"]), ("2028-02-15", "2028-03-22"))
        assert self.program.applications_close_at is not None
        assert copy.applications_close_at is not None
        before, after = self.program.applications_close_at, copy.applications_close_at
        self.assertEqual(
            (after.year, after.month, after.day, after.hour),
            (before.year + 1, before.month, before.day, before.hour),
        )
        # The lunar rule makes next year's Lunar New Year days 5 to 7.
        plan = programs.session_plan(copy)
        days = sorted({s.starts_at.date() for s in plan.slots if s.starts_at.month in (1, 2)})
        self.assertIn(dt.date(2028, 1, 30), days)  # 2028's day 5 of month 1
        # A slug taken is refused, as is nonsense.
        again = self.client.post(url, {"slug": "life-2028"}, follow=True)
        self.assertContains(again, "exists already")
        self.client.post(url, {"slug": "../x y"})
        self.assertEqual(Program.objects.count(), 2)

    def test_unpublish_only_while_nobody_has_applied(self) -> None:
        programs.program_set_status(program=self.program, status="draft")
        self.assertEqual(self.program.status, "draft")
        programs.program_publish(program=self.program)
        make_application(self.program, 1, 1, list(self.program.sessions.all()))
        with self.assertRaises(LifecycleError):
            programs.program_set_status(program=self.program, status="draft")

    def test_archive_waits_for_the_visits_then_restores_as_a_draft(self) -> None:
        make_application(self.program, 1, 1, list(self.program.sessions.all()))
        drawn(self.program)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:program_status", args=[self.program.slug])
        refused = self.client.post(url, {"status": "archived"}, follow=True)
        self.assertContains(refused, "still to come have visitors")
        for n, session in enumerate(self.program.sessions.all(), start=8):
            Session.objects.filter(pk=session.pk).update(
                starts_at=timezone.now() - dt.timedelta(days=n),
                ends_at=timezone.now() - dt.timedelta(days=n, hours=-2),
            )
        self.assertRedirects(
            self.client.post(url, {"status": "archived"}), reverse("visits_staff:home")
        )
        home = self.client.get(reverse("visits_staff:home"))
        self.assertContains(home, "Restore as a draft")
        restore = reverse("visits_staff:program_restore", args=[self.program.slug])
        self.client.post(restore)
        self.program.refresh_from_db()
        self.assertEqual(self.program.status, "draft")
        self.assertEqual(self.client.post(url, {"status": "published"}).status_code, 400)

    def test_warnings_for_sessions_in_the_past_or_before_the_close(self) -> None:
        first, second = self.program.sessions.order_by("starts_at")
        Session.objects.filter(pk=first.pk).update(
            starts_at=timezone.now() - dt.timedelta(days=1),
            ends_at=timezone.now() - dt.timedelta(days=1, hours=-2),
        )
        Session.objects.filter(pk=second.pk).update(
            starts_at=timezone.now() + dt.timedelta(days=1),
            ends_at=timezone.now() + dt.timedelta(days=1, hours=2),
        )
        self.client.force_login(self.erin)
        page = self.client.get(reverse("visits_staff:program", args=[self.program.slug]))
        self.assertContains(page, "1 session is in the past.")
        self.assertContains(page, "1 session starts before applications close.")

    def test_the_gate_cannot_copy_unpublish_or_archive(self) -> None:
        self.client.force_login(self.gus)
        for name, data in (
            ("program_duplicate", {"slug": "x"}),
            ("program_status", {"status": "archived"}),
        ):
            url = reverse(f"visits_staff:{name}", args=[self.program.slug])
            self.assertEqual(self.client.post(url, data).status_code, 403)
        self.program.refresh_from_db()
        self.assertEqual(self.program.status, "published")
