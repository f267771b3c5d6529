"""The coordinator's applications and visitors: search and filters, a
party's page and its reveal, the gate list. Within the coordinator's role:
the gate and the desk roles get nothing, and no reveal goes unlogged."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits.models import Application, Offer, PartyMember, PersonKey, Program, Session
from headon.visits.services import offers
from headon.visits.services.people import mask_phone_number, person_key, seal
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application

PHONE = "+8613900001111"


class VisitorListTests(PersonasTestCase):
    program: Program
    first: Session
    second: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="list-days", sessions=2, capacity=4)
        cls.first, cls.second = cls.program.sessions.order_by("starts_at")
        # 3 + 1 fill the first session (drawn first, by tier); the others wait.
        for n, size in enumerate([3, 1, 2, 4, 2], start=1):
            make_application(cls.program, n, size, [cls.first], priority_tier=int(n > 2))
        lead = PartyMember.objects.get(application__reference="T00001", position=0)
        lead.name, lead.phone_masked, lead.phone_sealed = (
            "张伟",
            mask_phone_number(PHONE),
            seal(PHONE),
        )
        lead.save()
        PersonKey.objects.create(
            program=cls.program,
            application=lead.application,
            member=lead,
            key=person_key("phone", PHONE),
        )
        drawn(cls.program, tiers=True)
        offer = Offer.objects.get(application__reference="T00001")
        offers.offer_confirm(offer)

    def list(self, **params: str) -> list[str]:
        self.client.force_login(self.erin)
        response = self.client.get(
            reverse("visits_staff:applications", args=[self.program.slug]), params
        )
        self.assertEqual(response.status_code, 200)
        return [row.application.reference for row in response.context["rows"]]

    def test_it_finds_a_party_by_reference_name_and_phone(self) -> None:
        self.assertEqual(self.list(q="t00003"), ["T00003"])
        self.assertEqual(self.list(q="张"), ["T00001"])
        self.assertEqual(self.list(q="Visitor 4-"), ["T00004"])
        # A companion's name finds the party too.
        self.assertEqual(self.list(q="Visitor 1-2"), ["T00001"])
        # The phone as people type it, matched by its keyed hash.
        self.assertEqual(self.list(q="139 0000 1111"), ["T00001"])
        # The verified contact, which every party has.
        self.assertEqual(self.list(q="+86 138 0000 0002"), ["T00002"])

    def test_it_filters_by_status_session_and_orders_the_waitlist(self) -> None:
        self.assertEqual(self.list(status="confirmed"), ["T00001"])
        self.assertEqual(self.list(status="offered"), ["T00002"])
        waiting = self.list(status="waitlisted")
        self.assertCountEqual(waiting, ["T00003", "T00004", "T00005"])
        positions = list(
            Application.objects.filter(reference__in=waiting)
            .order_by("waitlist__position")
            .values_list("reference", flat=True)
        )
        self.assertEqual(waiting, positions)
        self.assertCountEqual(self.list(session=str(self.first.pk)), ["T00001", "T00002"])
        self.assertEqual(self.list(session=str(self.second.pk)), [])
        # Nonsense filters are dropped, not errors.
        self.assertEqual(len(self.list(status="evil", session="99999999999")), 5)

    def test_it_pages_through_a_long_list_in_few_queries(self) -> None:
        for n in range(6, 60):
            make_application(self.program, n, 1, [self.second])
        self.client.force_login(self.erin)
        url = reverse("visits_staff:applications", args=[self.program.slug])
        with self.assertNumQueries(10):
            response = self.client.get(url)
        self.assertEqual(len(response.context["rows"]), 50)
        self.assertContains(response, "page=2")
        self.assertEqual(len(self.client.get(url, {"page": "2"}).context["rows"]), 9)

    def test_the_party_page_masks_until_a_reveal_which_is_logged(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:party", args=[self.program.slug, "T00001"])
        page = self.client.get(url)
        self.assertContains(page, mask_phone_number(PHONE))
        self.assertNotContains(page, PHONE)
        self.assertNotContains(page, "+86138")  # the contact stays hidden too
        self.assertContains(page, "Place confirmed")  # the history
        self.assertFalse(AuditEvent.objects.filter(action="party_reveal").exists())
        revealed = self.client.post(url)
        self.assertContains(revealed, PHONE)
        self.assertEqual(revealed["Cache-Control"].count("no-store"), 1)
        event = AuditEvent.objects.get(action="party_reveal")
        self.assertEqual((event.actor, event.target_id), (self.erin, str(self.party().pk)))
        self.assertNotIn(PHONE, str(event.data))

    def party(self) -> Application:
        return Application.objects.get(reference="T00001")

    def test_a_role_without_the_right_to_reveal_sees_no_button_and_is_refused(self) -> None:
        self.erin.groups.clear()
        from django.contrib.auth.models import Permission

        self.erin.user_permissions.set(
            Permission.objects.filter(codename__in=["view_visits", "coordinate_visits"])
        )
        self.client.force_login(self.erin)
        url = reverse("visits_staff:party", args=[self.program.slug, "T00001"])
        self.assertNotContains(self.client.get(url), "Show phone and ID numbers")
        self.assertEqual(self.client.post(url).status_code, 403)
        self.assertFalse(AuditEvent.objects.filter(action="party_reveal").exists())

    def test_the_gate_and_the_desk_cannot_list_search_or_reveal(self) -> None:
        urls = [
            reverse("visits_staff:applications", args=[self.program.slug]) + "?q=张",
            reverse("visits_staff:party", args=[self.program.slug, "T00001"]),
            reverse("visits_staff:gate_list_csv", args=[self.program.slug, self.first.pk]),
        ]
        for user in (self.gus, self.bob, self.oscar):
            self.client.force_login(user)
            for url in urls:
                with self.subTest(user=user.username, url=url):
                    self.assertEqual(self.client.get(url).status_code, 403)
            self.assertEqual(self.client.post(urls[1]).status_code, 403)
        self.assertFalse(AuditEvent.objects.filter(action="party_reveal").exists())

    def test_another_programs_party_is_not_found_through_this_one(self) -> None:
        other = make_program(slug="other-days", sessions=1)
        make_application(other, 90, 1, list(other.sessions.all()))
        self.client.force_login(self.erin)
        url = reverse("visits_staff:party", args=[self.program.slug, "T00090"])
        self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(self.list(q="T00090"), [])

    def test_the_gate_list_has_the_confirmed_visitors_masked_and_is_logged(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:gate_list_csv", args=[self.program.slug, self.first.pk])
        response = self.client.get(url)
        text = response.content.decode("utf-8")
        self.assertTrue(text.startswith("\ufeff"))
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        self.assertEqual(rows[1][:3], ["Reference", "Party", "Name"])
        body = rows[2:]
        # The confirmed party only: T00002 has not confirmed.
        self.assertEqual([r[0] for r in body], ["T00001"] * 3)
        self.assertEqual(body[0][2], "张伟")
        self.assertEqual(body[0][3], "'" + mask_phone_number(PHONE))  # a "+" cell is not a formula
        self.assertNotIn(PHONE, text)
        printed = self.client.get(
            reverse("visits_staff:gate_list", args=[self.program.slug, self.first.pk])
        )
        self.assertContains(printed, "张伟")
        self.assertEqual(
            list(
                AuditEvent.objects.filter(action="gate_list_export")
                .order_by("id")
                .values_list("data", flat=True)
            ),
            [{"format": "csv", "rows": 3}, {"format": "print", "rows": 3}],
        )

    def test_a_hostile_name_cannot_become_a_formula_in_the_gate_list(self) -> None:
        PartyMember.objects.filter(application__reference="T00001", position=1).update(
            name='=HYPERLINK("http://evil")'
        )
        self.client.force_login(self.erin)
        url = reverse("visits_staff:gate_list_csv", args=[self.program.slug, self.first.pk])
        self.assertIn("'=HYPERLINK", self.client.get(url).content.decode())

    def test_the_list_in_chinese(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:applications", args=[self.program.slug])
        response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(response, "报名与访客")
