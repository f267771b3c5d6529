from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits.models import Program, Session
from headon.visits.tests.factories import make_program

WEEKLY = {
    "rule-kind": "weekly",
    "rule-weekdays": ["0", "5"],
    "rule-first": "2027-02-15",
    "rule-last": "2027-03-22",
    "rule-times": "09:30-11:30",
    "rule-capacity": "60",
    "rule-label": "Mornings · 上午",
}
LUNAR = {
    "rule-kind": "lunar",
    "rule-lunar_year": "2027",
    "rule-lunar_month": "1",
    "rule-lunar_days": "5-7",
    "rule-times": "09:30-11:30, 14:00-16:00",
    "rule-capacity": "60",
}


class ProgramBuildingTests(PersonasTestCase):
    def test_a_coordinator_builds_the_reference_program_from_rules(self) -> None:
        self.client.force_login(self.erin)
        response = self.client.post(
            reverse("visits_staff:program_create"),
            {
                "slug": "ofd-2027",
                "title_en": "Open Factory Days 2027",
                "title_zh": "2027 工厂开放日",
                "party_size_max": "4",
                "choices_max": "3",
                "applications_open_at": "2026-12-01T10:00",
                "applications_close_at": "2027-01-10T20:00",
            },
        )
        self.assertRedirects(response, reverse("visits_staff:program", args=["ofd-2027"]))
        program = Program.objects.get(slug="ofd-2027")
        # Read in the organiser's zone: 10:00 in Shanghai is 02:00 UTC.
        self.assertEqual(program.applications_open_at.isoformat(), "2026-12-01T02:00:00+00:00")  # type: ignore[union-attr]
        url = reverse("visits_staff:program", args=[program.slug])
        self.assertEqual(self.client.post(url, LUNAR).status_code, 302)
        self.assertEqual(self.client.post(url, WEEKLY).status_code, 302)
        self.client.post(
            url,
            {
                "exclusion-date": "2027-02-12",
                "exclusion-start": "14:00",
                "exclusion-reason": "Maintenance",
            },
        )
        preview = self.client.get(url)
        self.assertContains(preview, "The rules make 16 sessions.")
        self.assertContains(preview, "excluded")
        self.client.post(reverse("visits_staff:apply_rules", args=[program.slug]))
        self.assertEqual(program.sessions.count(), 16)
        self.assertEqual(sum(s.capacity for s in program.sessions.all()), 960)
        self.assertTrue(
            AuditEvent.objects.filter(action="sessions_apply_rules", actor=self.erin).exists()
        )

    def test_a_bad_rule_is_explained_and_nothing_is_stored(self) -> None:
        self.client.force_login(self.erin)
        program = make_program(sessions=0)
        url = reverse("visits_staff:program", args=[program.slug])
        response = self.client.post(url, LUNAR | {"rule-lunar_days": "29-31"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "between 1 and 30, like 5-7")
        self.assertEqual(program.rules.count(), 0)
        response = self.client.post(url, WEEKLY | {"rule-times": "11:30-09:30"})
        self.assertEqual(program.rules.count(), 0)

    def test_a_session_edited_by_hand_survives_applying_the_rules_again(self) -> None:
        self.client.force_login(self.erin)
        program = make_program(sessions=0)
        url = reverse("visits_staff:program", args=[program.slug])
        self.client.post(url, WEEKLY)
        self.client.post(reverse("visits_staff:apply_rules", args=[program.slug]))
        session = program.sessions.order_by("starts_at").first()
        assert session is not None
        self.client.post(
            reverse("visits_staff:session_edit", args=[program.slug, session.pk]),
            {"capacity": "30", "cancel": "on"},
        )
        self.client.post(reverse("visits_staff:apply_rules", args=[program.slug]))
        session.refresh_from_db()
        self.assertEqual((session.capacity, session.status), (30, Session.Status.CANCELLED))
        self.assertEqual(program.sessions.count(), 11)

    def test_removing_a_rule_removes_its_unchosen_sessions(self) -> None:
        self.client.force_login(self.erin)
        program = make_program(sessions=0)
        url = reverse("visits_staff:program", args=[program.slug])
        self.client.post(url, WEEKLY)
        self.client.post(reverse("visits_staff:apply_rules", args=[program.slug]))
        rule = program.rules.get()
        self.client.post(reverse("visits_staff:rule_delete", args=[program.slug, rule.pk]))
        self.client.post(reverse("visits_staff:apply_rules", args=[program.slug]))
        self.assertEqual(program.sessions.count(), 0)

    def test_live_demand_counts_people_per_session(self) -> None:
        from headon.visits.services.applications import PersonInput, application_submit
        from headon.visits.tests.factories import contact

        program = make_program()
        first, second, _third = program.sessions.order_by("starts_at")
        application_submit(
            program=program,
            contact=contact(program),
            lead=PersonInput(name="Li"),
            companions=[PersonInput(name="Han", phone="+8613700001111")],
            session_ids=[first.pk, second.pk],
            consent=True,
        )
        self.client.force_login(self.erin)
        panel = self.client.get(
            reverse("visits_staff:demand", args=[program.slug])
        ).content.decode()
        self.assertIn("<dd>1</dd>", panel)  # one application
        self.assertIn("<dd>2</dd>", panel)  # two people
        self.assertIn("<td>60</td><td>2</td><td>2</td><td>0.03</td>", panel)

    def test_the_demand_panel_takes_a_fixed_number_of_queries(self) -> None:
        program = make_program(sessions=12)
        self.client.force_login(self.erin)
        url = reverse("visits_staff:demand", args=[program.slug])
        self.client.get(url)
        # Session, user, two permission lookups, the program, then the
        # demand: choices, totals, sessions. The same for 12 sessions or 1,200.
        with self.assertNumQueries(8):
            self.client.get(url)

    def test_gate_staff_and_writers_cannot_touch_programs(self) -> None:
        program = make_program()
        for person in (self.gus, self.carol):
            self.client.force_login(person)
            self.assertEqual(
                self.client.get(reverse("visits_staff:program", args=[program.slug])).status_code,
                403,
            )
            self.assertEqual(
                self.client.post(
                    reverse("visits_staff:apply_rules", args=[program.slug])
                ).status_code,
                403,
            )


class ProgramEditTests(PersonasTestCase):
    def test_the_edit_form_gives_the_browser_iso_times_in_chinese_too(self) -> None:
        """A localised value ("2026/12/03 12:00") is one a datetime-local
        field rejects: the browser shows it empty and saving clears it."""
        program = make_program(
            applications_open_at=dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC),
            applications_close_at=dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC),
        )
        self.client.force_login(self.erin)
        for language in ("zh-hans", "en"):
            with self.subTest(language=language):
                page = self.client.get(
                    reverse("visits_staff:program_edit", args=[program.slug]),
                    headers={"accept-language": language},
                )
                self.assertContains(page, 'value="2026-12-01T10:00"')
                self.assertContains(page, 'value="2027-01-10T20:00"')


class ExclusionTests(PersonasTestCase):
    """Exclusions could not be removed; duplicates and exclusions that match
    no session were accepted without a word."""

    def setUp(self) -> None:
        self.client.force_login(self.erin)
        self.client.post(
            reverse("visits_staff:program_create"),
            {
                "slug": "ofd-2027",
                "title_en": "Open Factory Days 2027",
                "title_zh": "2027 工厂开放日",
                "party_size_max": "4",
                "choices_max": "3",
            },
        )
        self.url = reverse("visits_staff:program", args=["ofd-2027"])
        self.client.post(self.url, WEEKLY)  # Mondays and Saturdays, 15 Feb to 22 Mar 2027

    def exclude(self, date: str, start: str = "") -> Any:
        body = {"exclusion-date": date, "exclusion-start": start, "exclusion-reason": "Maintenance"}
        return self.client.post(self.url, body, follow=True)

    def test_a_coordinator_removes_an_exclusion_and_the_session_comes_back(self) -> None:
        self.assertContains(self.exclude("2027-02-15"), "Exclusion added.")
        self.assertContains(self.client.get(self.url), "The rules make 10 sessions.")
        exclusion = Program.objects.get(slug="ofd-2027").exclusions.get()
        delete = reverse("visits_staff:exclusion_delete", args=["ofd-2027", exclusion.pk])
        self.assertContains(self.client.post(delete, follow=True), "Exclusion removed.")
        self.assertContains(self.client.get(self.url), "The rules make 11 sessions.")
        self.assertTrue(AuditEvent.objects.filter(action="exclusion_remove").exists())

    def test_a_duplicate_is_refused_and_one_that_matches_nothing_is_said(self) -> None:
        self.exclude("2027-02-15")
        self.assertContains(self.exclude("2027-02-15"), "excluded already")
        self.assertEqual(Program.objects.get(slug="ofd-2027").exclusions.count(), 1)
        # A Tuesday: the rules make nothing then.
        self.assertContains(self.exclude("2027-02-16"), "no session of the rules falls on it")
        self.assertContains(self.client.get(self.url), "matches no session")

    def test_only_a_coordinator_removes_an_exclusion(self) -> None:
        self.exclude("2027-02-15")
        exclusion = Program.objects.get(slug="ofd-2027").exclusions.get()
        delete = reverse("visits_staff:exclusion_delete", args=["ofd-2027", exclusion.pk])
        self.client.force_login(self.gus)
        self.assertEqual(self.client.post(delete).status_code, 403)
        self.assertEqual(self.client.get(delete).status_code, 403)


class RuleEditorTests(PersonasTestCase):
    """The rule editor answered in English on the Chinese page, once with
    Python's None ("The lunar year must be a whole number, not None."), and
    refused 9:30 and full-width times typed with a Chinese IME."""

    def setUp(self) -> None:
        self.program = make_program(slug="rules", sessions=0)
        self.client.force_login(self.erin)
        self.url = reverse("visits_staff:program", args=["rules"])

    def post(self, **rule: str) -> Any:
        body = {"rule-capacity": "60", "rule-times": "09:30-11:30"} | {
            f"rule-{k}": v for k, v in rule.items()
        }
        return self.client.post(self.url, body, headers={"accept-language": "zh-hans"}, follow=True)

    def test_mistakes_are_told_in_chinese_and_never_as_none(self) -> None:
        cases = [
            ({"kind": "lunar", "lunar_month": "1", "lunar_days": "5-7"}, "农历规则需要填写此项"),
            (
                {"kind": "lunar", "lunar_year": "2027", "lunar_month": "1", "lunar_days": "7-5"},
                "从小到大",
            ),
            (
                {"kind": "weekly", "weekdays": "0", "first": "2027-03-22", "last": "2027-02-06"},
                "结束日期早于开始日期",
            ),
            (
                {"kind": "weekly", "first": "2027-02-06", "last": "2027-03-22"},
                "请至少选择一个星期几",
            ),
            ({"kind": "dated", "dates": "2027-02-30"}, "不是形如 2027-02-10 的日期"),
            (
                {"kind": "dated", "dates": "2027-02-10", "times": "11:30-09:30"},
                "结束时间必须晚于开始时间",
            ),
        ]
        for rule, message in cases:
            with self.subTest(rule=rule):
                page = self.post(**rule)
                self.assertContains(page, message)
                self.assertNotContains(page, "None")
        self.assertFalse(self.program.rules.exists())

    def test_times_and_dates_are_read_as_a_person_types_them(self) -> None:
        self.post(kind="dated", dates="2027/02/10", times="９：３０－１１：３０，14:00至16:00")
        self.post(
            kind="lunar", lunar_year="2027", lunar_month="1", lunar_days="５-７", times="9:30-11:30"
        )
        specs = [rule.spec for rule in self.program.rules.order_by("pk")]
        self.assertEqual(specs[0]["dates"], ["2027-02-10"])
        self.assertEqual(
            specs[0]["times"],
            [{"start": "09:30", "end": "11:30"}, {"start": "14:00", "end": "16:00"}],
        )
        self.assertEqual((specs[1]["days"], specs[1]["times"][0]["start"]), ([5, 6, 7], "09:30"))
