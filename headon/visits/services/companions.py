"""Companions agree through their own phone; anyone named without consent
frees themselves (decision 16).

A companion is named by the lead and then WAITING: their person keys are
inactive, so they hold no place in the one-person rule and the party counts
them only once they confirm, through the link sent to their phone by SMS or
a code they verify themselves. The deadline is the application window's
close; when the list is sealed for the draw, whoever is still waiting is
dropped from the party and the lead is told (`drop_unconfirmed`).

What a person learns here is only about their own phone: "you are named in
another party" never says whose, and nothing here answers for anyone else.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from headon.accounts.services import audit_record
from headon.visits import later
from headon.visits.errors import VisitError
from headon.visits.models import Application, PartyMember, PersonKey, Program
from headon.visits.services.applications import check_window
from headon.visits.services.people import person_key
from headon.visits.services.verification import VerifiedContact

# What a receipt to the lead says happened to a companion (notices).
RECEIPT_COMPANION_LEFT = "companion_left"
RECEIPT_COMPANIONS_DROPPED = "companions_dropped"
# How many times the lead may have one companion's invitation sent again.
RESENDS_MAX = 3


def companion_token(member: PartyMember) -> str:
    """The secret in a companion's link: bound to this member row, so a
    party changed by its lead (new rows) kills the links sent before."""
    value = f"{member.pk}:{member.application_id}"
    return salted_hmac("headon.visits.companion", value, algorithm="sha256").digest()[:18].hex()


def member_for_token(member_id: int, token: str) -> PartyMember | None:
    member = (
        PartyMember.objects.select_related("application__program")
        .filter(pk=member_id, application__status=Application.Status.SUBMITTED)
        .first()
    )
    if member is None or not hmac.compare_digest(companion_token(member), token or ""):
        return None
    return member


def _check_open(program: Program) -> None:
    check_window(program)


def companion_confirm(*, member: PartyMember) -> PartyMember:
    """The companion agrees: their keys become active, so the one-person
    rule holds them from now on. VisitError("person_taken") if they are
    already in another party (they hold the phone: this is about them)."""
    _check_open(member.application.program)
    try:
        with transaction.atomic():
            Application.objects.select_for_update().filter(pk=member.application_id).get()
            locked = PartyMember.objects.select_for_update().filter(pk=member.pk).first()
            if locked is None:
                raise VisitError("not_named")
            if locked.is_waiting:
                PersonKey.objects.filter(member=locked).update(active=True)
                locked.status = PartyMember.Status.CONFIRMED
                locked.confirmed_at = timezone.now()
                locked.save(update_fields=["status", "confirmed_at"])
                audit_record(
                    action="visits.companion_confirmed",
                    target=locked.application,
                    data={"position": locked.position},
                )
    except IntegrityError:
        raise VisitError("person_taken") from None
    return locked


def _remove(member: PartyMember, *, action: str) -> None:
    """Take one companion out of their party (lock held by the caller); the
    lead is told and the audit log keeps what happened, not who."""
    application = member.application
    Application.objects.filter(pk=application.pk).update(party_size=F("party_size") - 1)
    member.delete()  # cascades to the person keys
    audit_record(action=action, target=application, data={"position": member.position})
    later.notify_receipt(application.pk, RECEIPT_COMPANION_LEFT)


@transaction.atomic
def companion_decline(*, member: PartyMember) -> None:
    """The companion says no (from their link): they leave the party."""
    Application.objects.select_for_update().filter(pk=member.application_id).get()
    if PartyMember.objects.filter(pk=member.pk).exists():
        _remove(member, action="visits.companion_declined")


@dataclass(frozen=True)
class Naming:
    """That a verified phone is named as a companion in a party not its own;
    deliberately without the party or its lead."""

    waiting: int
    confirmed: int

    @property
    def any(self) -> bool:
        return bool(self.waiting or self.confirmed)


def _named_members(program: Program, contact: VerifiedContact) -> QuerySet[PartyMember]:
    if contact.program_id != program.pk or contact.channel != Application.ContactKind.PHONE:
        return PartyMember.objects.none()
    key = person_key("phone", contact.destination)
    return PartyMember.objects.filter(
        application__program=program,
        application__status=Application.Status.SUBMITTED,
        position__gt=0,
        keys__key=key,
    ).distinct()


def namings_of(program: Program, contact: VerifiedContact) -> Naming:
    """Where the holder of this verified phone is named as a companion."""
    members = list(_named_members(program, contact).values_list("status", flat=True))
    waiting = sum(1 for s in members if s == PartyMember.Status.WAITING)
    return Naming(waiting=waiting, confirmed=len(members) - waiting)


def companion_leave(*, program: Program, contact: VerifiedContact) -> int:
    """The holder of a verified phone leaves every party that names them as
    a companion, waiting or confirmed; each lead is told. Returns how many."""
    _check_open(program)
    left = 0
    for member_id, application_id in _named_members(program, contact).values_list(
        "pk", "application_id"
    ):
        with transaction.atomic():
            Application.objects.select_for_update().filter(pk=application_id).get()
            member = PartyMember.objects.select_related("application").filter(pk=member_id).first()
            if member is not None:
                _remove(member, action="visits.companion_left")
                left += 1
    return left


def companion_confirm_by_contact(
    *, program: Program, contact: VerifiedContact, reference: str
) -> PartyMember:
    """A companion who verified their own phone with a code confirms the
    party `reference` that names them (the API's way, and the bench's)."""
    member = (
        _named_members(program, contact)
        .select_related("application__program")
        .filter(application__reference=(reference or "").strip().upper())
        .first()
    )
    if member is None:
        raise VisitError("not_named")
    return companion_confirm(member=member)


@transaction.atomic
def companion_resend(*, application: Application, position: int) -> PartyMember:
    """Send a waiting companion's invitation again (a lost SMS), a few
    times at most: the lead cannot turn it into a stream of messages."""
    _check_open(application.program)
    Application.objects.select_for_update().filter(pk=application.pk).get()
    member = PartyMember.objects.filter(
        application=application, position=position, status=PartyMember.Status.WAITING
    ).first()
    if member is None:
        raise VisitError("not_named")
    sent = PartyMember.objects.filter(pk=member.pk).values_list("invites_sent", flat=True).get()
    if sent > RESENDS_MAX:
        raise VisitError("resend_limited")
    PartyMember.objects.filter(pk=member.pk).update(invites_sent=F("invites_sent") + 1)
    later.notify_companion(member.pk)
    return member


def drop_unconfirmed(*, program: Program) -> int:
    """At the seal: every companion still waiting is out of the party (the
    draw counts the people who agreed), and each lead is told once.
    Call inside the seal's transaction."""
    waiting = PartyMember.objects.filter(
        application__program=program,
        application__status=Application.Status.SUBMITTED,
        status=PartyMember.Status.WAITING,
    )
    dropped = 0
    for application_id in sorted(set(waiting.values_list("application_id", flat=True))):
        Application.objects.select_for_update().filter(pk=application_id).get()
        members = list(waiting.filter(application_id=application_id))
        Application.objects.filter(pk=application_id).update(
            party_size=F("party_size") - len(members)
        )
        PartyMember.objects.filter(pk__in=[m.pk for m in members]).delete()
        application = Application.objects.get(pk=application_id)
        audit_record(
            action="visits.companions_dropped",
            target=application,
            data={"positions": [m.position for m in members]},
        )
        later.notify_receipt(application_id, RECEIPT_COMPANIONS_DROPPED)
        dropped += len(members)
    return dropped
