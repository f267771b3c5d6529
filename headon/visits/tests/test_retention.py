"""Personal data: canary phone and ID numbers go through the whole visit
flow; no clear ID number is ever in the database, the logs or the report
export, and the retention job erases the rest after the program ends."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.urls import reverse

from headon.testing import make_staff
from headon.visits.models import Application, PartyMember, PersonKey, Program
from headon.visits.services import offers
from headon.visits.services.applications import PersonInput, application_submit
from headon.visits.services.companions import companion_confirm
from headon.visits.services.retention import erase_due, programs_due
from headon.visits.tests.factories import contact, id_number, make_program
from headon.visits.tests.test_draws import drawn

CANARY_PHONE = "+8613912349876"
CANARY_PHONE_DIGITS = "13912349876"
CANARY_ID = id_number(424)


def raw_database() -> bytes:
    """The SQLite test database as it is on disk, with its write-ahead log."""
    name = Path(connection.settings_dict["NAME"])
    return b"".join(path.read_bytes() for path in (name, Path(f"{name}-wal")) if path.exists())


@override_settings(HEADON_RETENTION_DAYS=90)
class PersonalDataTests(TransactionTestCase):
    def setUp(self) -> None:
        self.logs = io.StringIO()
        handler = logging.StreamHandler(self.logs)
        logging.getLogger().addHandler(handler)
        self.addCleanup(logging.getLogger().removeHandler, handler)
        self.program = make_program(sessions=1, capacity=10)
        session = self.program.sessions.get()
        submission = application_submit(
            program=self.program,
            contact=contact(self.program, CANARY_PHONE),
            lead=PersonInput(name="Canary Lead", id_number=CANARY_ID),
            companions=[PersonInput(name="Canary Companion", phone="+8613800001111")],
            session_ids=[session.pk],
            consent=True,
        )
        self.application = submission.application
        companion_confirm(member=self.application.members.get(position=1))
        drawn(self.program)
        offers.offer_confirm(self.application.offer)

    def test_no_clear_id_number_in_the_database_logs_or_report(self) -> None:
        member = PartyMember.objects.get(application=self.application, position=0)
        self.assertEqual(
            member.id_number_masked[:3] + member.id_number_masked[-4:],
            CANARY_ID[:3] + CANARY_ID[-4:],
        )
        coordinator = make_staff("erin", "visit_coordinator")
        self.client.force_login(coordinator)
        csv = self.client.get(reverse("visits_staff:report_csv", args=[self.program.slug]))
        self.assertEqual(csv.status_code, 200)
        self.assertNotIn(CANARY_ID.encode(), csv.content)
        self.assertNotIn(CANARY_PHONE_DIGITS.encode(), csv.content)
        self.assertNotIn(CANARY_ID, self.logs.getvalue())
        if connection.vendor == "sqlite":
            self.assertNotIn(CANARY_ID.encode(), raw_database())

    def test_retention_erases_people_after_the_program_ends(self) -> None:
        last_end = self.program.sessions.get().ends_at
        self.assertEqual(programs_due(last_end + dt.timedelta(days=89)), [])
        later = last_end + dt.timedelta(days=91)
        self.assertEqual([p.pk for p in programs_due(later)], [self.program.pk])
        erased = erase_due(later)
        self.assertEqual((erased[0].applications, erased[0].people), (1, 2))
        self.assertEqual(erase_due(later), [])  # once
        application = Application.objects.get(pk=self.application.pk)
        self.assertEqual(application.contact, "—")
        self.assertFalse(PersonKey.objects.filter(program=self.program).exists())
        for member in PartyMember.objects.filter(application=application):
            self.assertEqual(
                (member.name, member.phone_sealed, member.id_number_sealed, member.phone_masked),
                ("—", "", "", ""),
            )
        # The figures stay: the party, its offer, its tickets.
        self.assertEqual(application.party_size, 2)
        self.assertEqual(application.offer.tickets.count(), 2)
        self.assertIsNotNone(Program.objects.get(pk=self.program.pk).personal_data_erased_at)
        if connection.vendor == "sqlite":
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.cursor().execute("VACUUM")
            raw = raw_database()
            self.assertNotIn(CANARY_PHONE_DIGITS.encode(), raw)
            self.assertNotIn(b"Canary Lead", raw)

    def test_the_command_lists_then_erases(self) -> None:
        out = io.StringIO()
        with time_machine.travel(
            self.program.sessions.get().ends_at
            + dt.timedelta(days=settings.HEADON_RETENTION_DAYS + 1)
        ):
            call_command("retention", "--dry-run", stdout=out)
            self.assertIn(f"Due: {self.program.slug}", out.getvalue())
            call_command("retention", stdout=out)
        self.assertIn("Erased open-days: 1 applications, 2 people.", out.getvalue())
