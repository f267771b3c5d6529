"""Applications: submit, change and withdraw, with the rules that must hold
under a rush.

Two rules are enforced by the database, not only here, so that they hold
when two requests race: one person (by their phone's key) is in at most
one active application per program (`PersonKey`'s partial unique index),
and one `Idempotency-Key` makes at most one application per program.

Only people who verified a phone hold a place: the lead, through the code
that opened the form; a companion, once they confirm through their own
phone (services.companions). So the only refusal about a person here is
about the lead, who verified it: nothing a lead types about a companion is
checked against other parties, and nothing tells them who else applied
(decision 17, the no-oracle rule).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from headon import faults
from headon.visits import later
from headon.visits.errors import VisitError
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Draw,
    PartyMember,
    PersonKey,
    Program,
    Session,
)
from headon.visits.services.applicant_fields import (
    CleanExtras,
    Extras,
    check_ages,
    clean_extras,
    extras_fields,
    stored_emergency_phone,
)
from headon.visits.services.people import Person, clean_person, mask_phone_number, seal
from headon.visits.services.verification import VerifiedContact

# Crockford's base32 without the letters people misread (I, L, O, U).
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class PersonInput:
    name: str
    phone: str = ""
    id_number: str = ""
    birth_date: dt.date | None = None


@dataclass(frozen=True)
class Submission:
    application: Application
    token: str
    created: bool


# What a receipt says happened (headon.visits.services.notices.receipt_notice).
RECEIPT_SUBMITTED = "submitted"
RECEIPT_CHANGED = "changed"
RECEIPT_WITHDRAWN = "withdrawn"
RECEIPT_RELINKED = "relinked"


def new_reference() -> str:
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def access_token(application: Application) -> str:
    """The secret in the applicant's private link. Derived, not stored, so a
    retried submission can hand the same link back."""
    value = f"{application.reference}:{application.access_version}"
    return salted_hmac("headon.visits.access", value, algorithm="sha256").digest()[:18].hex()


def application_for_token(reference: str, token: str) -> Application | None:
    application = (
        Application.objects.select_related("program").filter(reference=reference.upper()).first()
    )
    if application is None or not hmac.compare_digest(access_token(application), token or ""):
        return None
    return application


def check_window(program: Program) -> None:
    """VisitError unless the program takes applications now."""
    if program.status != Program.Status.PUBLISHED:
        raise VisitError("program_unpublished")
    state = program.window_state()
    if state == "unset":
        raise VisitError("window_unset")
    if state == "not_open":
        raise VisitError("window_not_open")
    if state == "closed":
        raise VisitError("window_closed")
    # Once the list is sealed for the draw, it is closed whatever the dates
    # say (a coordinator may seal early): a change now would void the draw.
    if Draw.objects.filter(program=program).exclude(stage=Draw.Stage.COMMITTED).exists():
        raise VisitError("window_closed")


def _clean_party(
    program: Program, contact: VerifiedContact, lead: PersonInput, companions: Sequence[PersonInput]
) -> list[Person]:
    if len(companions) + 1 > program.party_size_max:
        raise VisitError("too_many_companions", field="companions")
    if contact.channel != Application.ContactKind.PHONE:
        # An e-mail address identifies nobody: one inbox could name itself
        # any number of invented phones and be that many parties.
        raise VisitError("lead_phone_required")
    # The verified phone is the lead's own: it identifies them.
    people = [
        clean_person(
            name=lead.name, phone=contact.destination, id_number=lead.id_number, position=0
        )
    ]
    for position, companion in enumerate(companions, start=1):
        person = clean_person(
            name=companion.name,
            phone=companion.phone,
            id_number=companion.id_number,
            position=position,
        )
        if not person.phone:
            # They confirm through their own phone, or they are not coming.
            raise VisitError("companion_phone_required", field="phone", position=position)
        people.append(person)
    if program.id_number_required:
        for position, person in enumerate(people):
            if not person.id_number:
                raise VisitError("id_required", field="id_number", position=position)
    seen: set[str] = set()
    for position, person in enumerate(people):
        keys = set(person.identity_keys())
        if keys & seen:
            raise VisitError("person_repeated", position=position)
        seen |= keys
    if program.asks_birth_dates:
        inputs = [lead, *companions]
        people = [replace(p, birth_date=i.birth_date) for p, i in zip(people, inputs, strict=True)]
    return people


def _clean_all(
    program: Program,
    contact: VerifiedContact,
    lead: PersonInput,
    companions: Sequence[PersonInput],
    session_ids: Sequence[int],
    extras: Extras | None,
    kept_phone: str = "",
) -> tuple[list[Person], list[Session], CleanExtras]:
    """Every check of a party, in the order the form reads: the people, the
    choices, their ages on the earliest choice, then the program's own
    fields."""
    people = _clean_party(program, contact, lead, companions)
    sessions = _clean_choices(program, session_ids)
    check_ages(program, [p.birth_date for p in people], sessions)
    cleaned = clean_extras(program, extras or Extras(), people, kept_phone=kept_phone)
    return people, sessions, cleaned


def _clean_choices(program: Program, session_ids: Sequence[int]) -> list[Session]:
    if not session_ids:
        raise VisitError("no_choice", field="choices")
    if len(session_ids) > program.choices_max:
        raise VisitError("too_many_choices", field="choices")
    if len(set(session_ids)) != len(session_ids):
        raise VisitError("choice_repeated", field="choices")
    sessions = {
        s.pk: s
        for s in Session.objects.filter(
            program=program, pk__in=session_ids, status=Session.Status.SCHEDULED
        )
    }
    if len(sessions) != len(session_ids):
        raise VisitError("session_unavailable", field="choices")
    return [sessions[pk] for pk in session_ids]


def _fingerprint(
    contact: VerifiedContact,
    people: list[Person],
    sessions: list[Session],
    extras: CleanExtras | None = None,
) -> str:
    canonical_people: list[list[Any]] = [[p.name, sorted(p.identity_keys())] for p in people]
    for row, person in zip(canonical_people, people, strict=True):
        if person.birth_date is not None:
            row.append(person.birth_date.isoformat())
    canonical = json.dumps(
        {
            "contact": [contact.channel, contact.destination],
            "people": canonical_people,
            "choices": [s.pk for s in sessions],
            **(extras.canonical() if extras else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _raise_if_taken(
    program: Program, people: list[Person], exclude: Application | None = None
) -> None:
    """A readable error before the insert, about the lead only (the one
    person the requester verified); the unique index is the real guard."""
    taken = PersonKey.objects.filter(program=program, active=True)
    if exclude is not None:
        taken = taken.exclude(application=exclude)
    if taken.filter(key=people[0].place_key()).exists():
        raise VisitError("person_taken", position=0)


def _write_party(application: Application, people: list[Person], sessions: list[Session]) -> None:
    """Insert the party, its person keys and its choices: three INSERTs
    whatever the party's size (both databases return the new ids), and the
    rows stay on `application` so the receipt needs no query."""
    members = _write_members(application, list(enumerate(people)))
    choices = ApplicationChoice.objects.bulk_create(
        ApplicationChoice(application=application, session=session, rank=rank)
        for rank, session in enumerate(sessions, start=1)
    )
    _keep_related(application, "members", members)
    _keep_related(application, "choices", choices)


def _write_members(application: Application, people: list[tuple[int, Person]]) -> list[PartyMember]:
    """New people at their positions: the lead confirmed (their phone is
    the verified contact), a companion waiting for their own confirmation,
    asked by SMS. Each person's one key is their phone's; a waiting
    companion's is inactive: they claim nobody."""
    now = timezone.now()
    members = PartyMember.objects.bulk_create(
        PartyMember(
            application=application,
            position=position,
            name=person.name,
            phone_masked=mask_phone_number(person.phone) if person.phone else "",
            phone_sealed=seal(person.phone) if person.phone else "",
            id_number_masked=person.masked_id_number,
            id_number_sealed=seal(person.id_number) if person.id_number else "",
            birth_date=person.birth_date,
            status=PartyMember.Status.WAITING if position else PartyMember.Status.CONFIRMED,
            invited_at=now if position else None,
            invites_sent=1 if position else 0,
            confirmed_at=None if position else now,
        )
        for position, person in people
    )
    PersonKey.objects.bulk_create(
        PersonKey(
            program_id=application.program_id,
            application=application,
            member=member,
            key=person.place_key(),
            active=not member.is_waiting,
        )
        for member, (_position, person) in zip(members, people, strict=True)
    )
    for member in members:
        if member.is_waiting:
            later.notify_companion(member.pk)
    return members


def _keep_related(instance: Application, name: str, rows: list[Any]) -> None:
    # What prefetch_related leaves behind: `instance.<name>.all()` then
    # returns these rows without a query.
    queryset = getattr(instance, name).get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def _rewrite_party(application: Application, people: list[Person], sessions: list[Session]) -> None:
    """A change: the people kept (same phone) keep their row, so their
    consent, their link and their invitation; the others leave, and the new
    ones are written waiting, as on a submission."""
    earlier = dict(PersonKey.objects.filter(application=application).values_list("key", "member"))
    members = {m.pk: m for m in application.members.all()}
    kept: dict[int, PartyMember] = {}
    for position, person in enumerate(people):
        member_id = earlier.get(person.place_key())
        if member_id is not None and (position == 0) == (members[member_id].position == 0):
            kept[position] = members[member_id]
    application.members.exclude(pk__in=[m.pk for m in kept.values()]).delete()
    # Out of the way first: positions are unique within a party.
    PartyMember.objects.filter(pk__in=[m.pk for m in kept.values()]).update(
        position=F("position") + 1000
    )
    application.choices.all().delete()
    for position, person in enumerate(people):
        if (member := kept.get(position)) is None:
            continue
        member.position, member.name = position, person.name
        member.id_number_masked = person.masked_id_number
        member.id_number_sealed = seal(person.id_number) if person.id_number else ""
        member.birth_date = person.birth_date
        member.save(
            update_fields=["position", "name", "id_number_masked", "id_number_sealed", "birth_date"]
        )
    _write_members(application, [(p, person) for p, person in enumerate(people) if p not in kept])
    ApplicationChoice.objects.bulk_create(
        ApplicationChoice(application=application, session=session, rank=rank)
        for rank, session in enumerate(sessions, start=1)
    )


def application_submit(
    *,
    program: Program,
    contact: VerifiedContact,
    lead: PersonInput,
    companions: Sequence[PersonInput],
    session_ids: Sequence[int],
    consent: bool,
    language: str = "en",
    idempotency_key: str | None = None,
    extras: Extras | None = None,
) -> Submission:
    """Record one party's application, or raise VisitError saying why not.

    Submitting again with the same `idempotency_key` returns the first
    application (created=False) instead of making a second one.
    """
    if contact.program_id != program.pk:
        raise VisitError("contact_not_verified")
    idempotency_key = (idempotency_key or "").strip()[:80]
    party = (lead, companions, session_ids, extras)
    if earlier := _replay_if_known(program, idempotency_key, contact, party):
        return earlier
    check_window(program)
    if not consent:
        raise VisitError("consent_required", field="consent")
    people, sessions, cleaned = _clean_all(program, contact, lead, companions, session_ids, extras)
    _raise_if_taken(program, people)
    fingerprint = _fingerprint(contact, people, sessions, cleaned)
    try:
        with transaction.atomic():
            application = _create(
                program, contact, people, language, idempotency_key, fingerprint, cleaned
            )
            _write_party(application, people, sessions)
            later.notify_receipt(application.pk, RECEIPT_SUBMITTED)
            faults.pause("application-submit", application.reference)  # crash tests only
    except IntegrityError:
        # Lost a race: either the same submission got in first (return it),
        # or someone in this party joined another application meanwhile.
        if earlier := _replay_if_known(program, idempotency_key, contact, party):
            return earlier
        # Only the lead's keys are active in a new party: it is them.
        raise VisitError("person_taken", position=0) from None
    return Submission(application=application, token=access_token(application), created=True)


def _create(
    program: Program,
    contact: VerifiedContact,
    people: list[Person],
    language: str,
    idempotency_key: str,
    fingerprint: str,
    extras: CleanExtras,
) -> Application:
    for _attempt in range(5):
        reference = new_reference()
        if not Application.objects.filter(reference=reference).exists():
            break
    return Application.objects.create(
        program=program,
        reference=reference,
        contact_kind=contact.channel,
        contact=contact.destination,
        language=language[:10],
        party_size=len(people),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        consented_at=timezone.now(),
        **extras_fields(extras),
    )


def _replay_if_known(
    program: Program,
    idempotency_key: str,
    contact: VerifiedContact,
    party: tuple[PersonInput, Sequence[PersonInput], Sequence[int], Extras | None],
) -> Submission | None:
    """The first application made with this key, if there is one."""
    if not idempotency_key:
        return None
    earlier = Application.objects.filter(program=program, idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    return _replay(earlier, contact, party, program)


def _replay(
    earlier: Application,
    contact: VerifiedContact,
    party: tuple[PersonInput, Sequence[PersonInput], Sequence[int], Extras | None],
    program: Program,
) -> Submission:
    if (earlier.contact_kind, earlier.contact) != (contact.channel, contact.destination):
        raise VisitError("idempotency_conflict")
    lead, companions, session_ids, extras = party
    try:
        people, sessions, cleaned = _clean_all(
            program, contact, lead, companions, session_ids, extras
        )
    except VisitError:
        raise VisitError("idempotency_conflict") from None
    if _fingerprint(contact, people, sessions, cleaned) != earlier.request_fingerprint:
        raise VisitError("idempotency_conflict")
    return Submission(application=earlier, token=access_token(earlier), created=False)


def application_change(
    *,
    application: Application,
    lead: PersonInput,
    companions: Sequence[PersonInput],
    session_ids: Sequence[int],
    extras: Extras | None = None,
) -> Application:
    """Replace the party, the choices and the program's own fields, while
    the window is open. An emergency phone left empty keeps the one on file."""
    program = application.program
    if not application.is_active:
        raise VisitError("application_withdrawn")
    check_window(program)
    contact = VerifiedContact(program.pk, application.contact_kind, application.contact)
    people, sessions, cleaned = _clean_all(
        program,
        contact,
        lead,
        companions,
        session_ids,
        extras,
        kept_phone=stored_emergency_phone(application),
    )
    _raise_if_taken(program, people, exclude=application)
    try:
        with transaction.atomic():
            locked = Application.objects.select_for_update().get(pk=application.pk)
            if not locked.is_active:
                raise VisitError("application_withdrawn")
            _rewrite_party(locked, people, sessions)
            locked.party_size = len(people)
            locked.request_fingerprint = _fingerprint(contact, people, sessions, cleaned)
            fields = extras_fields(cleaned)
            for name, value in fields.items():
                setattr(locked, name, value)
            locked.save(update_fields=["party_size", "request_fingerprint", "updated_at", *fields])
            later.notify_receipt(locked.pk, RECEIPT_CHANGED)
    except IntegrityError:
        # Only the lead's key can clash (kept people keep theirs, new ones
        # are inactive): said as the lead's, nothing else to learn.
        raise VisitError("person_taken", position=0) from None
    return locked


def application_withdraw(*, application: Application) -> Application:
    """Withdraw while the window is open; the people in it may apply again."""
    if not application.is_active:
        return application
    check_window(application.program)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        locked.status = Application.Status.WITHDRAWN
        locked.save(update_fields=["status", "updated_at"])
        PersonKey.objects.filter(application=locked).update(active=False)
        later.notify_receipt(locked.pk, RECEIPT_WITHDRAWN)
    return locked


def application_of_contact(program: Program, contact: VerifiedContact) -> Application | None:
    """The active application this verified contact made, if any."""
    if contact.program_id != program.pk:
        return None
    return (
        Application.objects.filter(
            program=program,
            contact_kind=contact.channel,
            contact=contact.destination,
            status=Application.Status.SUBMITTED,
        )
        .order_by("-pk")
        .first()
    )


@transaction.atomic
def application_relink(*, application: Application) -> str:
    """A new private link for a party that lost (or leaked) its own: the
    old one stops working at once, and the new one is sent to the contact.
    Returns the new token."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    locked.access_version += 1
    locked.save(update_fields=["access_version", "updated_at"])
    application.access_version = locked.access_version
    later.notify_receipt(locked.pk, RECEIPT_RELINKED)
    return access_token(locked)
