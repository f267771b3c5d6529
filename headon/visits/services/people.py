"""Identity of applicants, with headon's keys: the Django side of
`headon.visits.identity`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from headon.visits import identity
from headon.visits.errors import MESSAGES, VisitError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@cache
def _keys() -> tuple[bytes, identity.Sealer]:
    master = settings.IDENTITY_KEY.encode()
    return (
        identity.derive_key(master, identity.PURPOSE_IDENTITY_KEY),
        identity.Sealer(identity.derive_key(master, identity.PURPOSE_ID_SEAL)),
    )


def person_key(kind: identity.IdentityKind, normalised: str) -> str:
    return identity.identity_key(kind, normalised, _keys()[0])


def mask_phone_number(e164: str) -> str:
    return identity.mask_phone(e164)


def seal(value: str) -> str:
    return _keys()[1].seal(value)


def unseal(token: str) -> str:
    return _keys()[1].open(token)


@dataclass(frozen=True)
class Person:
    """One person of a party, checked and normalised."""

    name: str
    phone: str = ""  # E.164
    id_number: str = ""
    # Kept only when the program has a minimum age (services.applicant_fields).
    birth_date: dt.date | None = None

    @property
    def masked_id_number(self) -> str:
        return identity.mask_id_number(self.id_number) if self.id_number else ""

    def place_key(self) -> str:
        """The key that holds this person's one place in a program: their
        phone, which they verify themselves. An ID number is not one: anyone
        can type anyone's, so it would let a stranger claim a person."""
        return person_key("phone", self.phone) if self.phone else ""

    def identity_keys(self) -> list[str]:
        found = []
        if self.phone:
            found.append(person_key("phone", self.phone))
        if self.id_number:
            found.append(person_key("id", self.id_number))
        return found


def clean_text(value: str, limit: int) -> str:
    """Free text on one line: no control characters, spaces collapsed."""
    return " ".join(_CONTROL.sub(" ", value or "").split())[:limit]


def clean_person(*, name: str, phone: str = "", id_number: str = "", position: int) -> Person:
    """Normalise one person's details or raise VisitError naming the field."""
    # Control characters (NUL, which PostgreSQL's text refuses, among them)
    # are nobody's name.
    name = " ".join(_CONTROL.sub(" ", name or "").split())[:100]
    if not name:
        raise VisitError("name_required", field="name", position=position)
    clean_phone = clean_id = ""
    if (phone or "").strip():
        try:
            clean_phone = identity.normalise_phone(phone)
        except identity.IdentityError as exc:
            raise VisitError("phone_invalid", field="phone", position=position) from exc
        try:
            # Each person's phone gets an SMS: the lead's code, a
            # companion's invitation to confirm.
            identity.sms_reachable(clean_phone, settings.HEADON_SMS_REGIONS)
        except identity.IdentityError as exc:
            raise VisitError(exc.code, field="phone", position=position) from exc
    if (id_number or "").strip():
        try:
            clean_id = identity.normalise_id_number(id_number)
        except identity.IdentityError as exc:
            code = exc.code if exc.code in MESSAGES else "id_invalid_format"
            raise VisitError(code, field="id_number", position=position) from exc
    if not clean_phone and not clean_id:
        raise VisitError("person_needs_identity", field="phone", position=position)
    return Person(name=name, phone=clean_phone, id_number=clean_id)
