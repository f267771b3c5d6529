"""Small factories for visit tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from headon.visits.identity import make_test_id_number
from headon.visits.models import Program, Session
from headon.visits.services.verification import VerifiedContact

PHONE = "+8613812345678"
OTHER_PHONE = "+8613987654321"


def make_program(
    *, slug: str = "open-days", sessions: int = 3, capacity: int = 60, **fields: object
) -> Program:
    now = timezone.now()
    values: dict[str, object] = {
        "title_en": "Open Days",
        "title_zh": "开放日",
        "status": Program.Status.PUBLISHED,
        "applications_open_at": now - dt.timedelta(days=1),
        "applications_close_at": now + dt.timedelta(days=7),
        "party_size_max": 4,
        "choices_max": 3,
        "privacy_notice_en": "We keep your data safe.",
        "privacy_notice_zh": "我们保护您的数据。",
    }
    values.update(fields)
    program = Program.objects.create(slug=slug, **values)
    start = dt.datetime(2027, 2, 15, 1, 30, tzinfo=dt.UTC)
    for n in range(sessions):
        Session.objects.create(
            program=program,
            starts_at=start + dt.timedelta(days=7 * n),
            ends_at=start + dt.timedelta(days=7 * n, hours=2),
            capacity=capacity,
        )
    return program


def contact(program: Program, phone: str = PHONE) -> VerifiedContact:
    return VerifiedContact(program_id=program.pk, channel="phone", destination=phone)


def id_number(sequence: int = 123) -> str:
    return make_test_id_number(sequence=sequence)


def solved_pow(scope: str) -> str:
    """A solved proof-of-work challenge for `scope`, as a browser sends it."""
    from headon.antibot import pow
    from headon.antibot.services import challenge_issue

    challenge = challenge_issue(scope=scope, max_number=500).as_dict()
    number = pow.solve(challenge)
    assert number is not None
    return pow.encode_payload(challenge, number)
