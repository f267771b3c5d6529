"""Erase applicants' personal data a while after a program ends.

`HEADON_RETENTION_DAYS` after a program's last session, every name, phone
number, e-mail address and ID number its applicants gave is erased: the
sealed and masked copies, the keyed hashes that matched people, the
one-time codes, and the contact offers went to. What remains is what the
reports need: parties, sizes, choices, offers, check-in times, ratings.
Applicants are told so in the privacy notice. The job can run any number
of times; a program is erased once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from headon.accounts.services import audit_record
from headon.visits.models import (
    Application,
    PartyMember,
    PersonKey,
    Program,
    VerificationCode,
)

ERASED = "—"


@dataclass(frozen=True)
class Erased:
    program: str
    applications: int
    people: int


def programs_due(now: dt.datetime | None = None) -> list[Program]:
    """Programs whose last session ended more than the retention period ago."""
    at = now or timezone.now()
    limit = at - dt.timedelta(days=settings.HEADON_RETENTION_DAYS)
    return list(
        Program.objects.filter(personal_data_erased_at__isnull=True)
        .annotate(last=Max("sessions__ends_at"))
        .filter(last__lt=limit)
        .order_by("pk")
    )


@transaction.atomic
def erase_program(program: Program, *, now: dt.datetime | None = None) -> Erased:
    program = Program.objects.select_for_update().get(pk=program.pk)
    if program.personal_data_erased_at is not None:
        return Erased(program.slug, 0, 0)
    applications = Application.objects.filter(program=program)
    people = PartyMember.objects.filter(application__program=program).update(
        name=ERASED,
        phone_masked="",
        phone_sealed="",
        id_number_masked="",
        id_number_sealed="",
        birth_date=None,
    )
    count = applications.update(
        contact=ERASED,
        request_fingerprint="",
        idempotency_key="",
        accessibility_needs="",
        emergency_name="",
        emergency_phone_masked="",
        emergency_phone_sealed="",
        answers=[],
    )
    PersonKey.objects.filter(program=program).delete()
    VerificationCode.objects.filter(program=program).delete()
    program.personal_data_erased_at = now or timezone.now()
    program.save(update_fields=["personal_data_erased_at"])
    audit_record(
        action="personal_data_erased",
        actor=None,
        target=program,
        data={"applications": count, "people": people},
    )
    return Erased(program.slug, count, people)


def erase_due(now: dt.datetime | None = None) -> list[Erased]:
    return [erase_program(program, now=now) for program in programs_due(now)]
