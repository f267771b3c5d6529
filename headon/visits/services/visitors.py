"""What a coordinator does with a party's personal data: reveal it in clear,
or take a session's gate list out of headon. Both are logged before the data
is handed back, so no reveal goes unrecorded; the log holds who, what and
when, never the data itself."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.visits import identity
from headon.visits.models import Application, Session
from headon.visits.services.people import unseal

REVEAL = "party_reveal"
EXPORT = "gate_list_export"


@dataclass(frozen=True)
class Revealed:
    position: int
    name: str
    phone: str
    id_number: str


def _open(token: str) -> str:
    if not token:
        return ""
    try:
        return unseal(token)
    except (ValueError, identity.IdentityError):
        return ""  # erased by retention, or sealed under a retired key


def party_reveal(
    *, application: Application, actor: User, request: HttpRequest | None = None
) -> tuple[str, list[Revealed], str]:
    """The party's verified contact, each member's phone and ID number and
    the emergency contact's phone in clear, for a role allowed to see them;
    logged first."""
    if not actor.has_perm("visits.reveal_personal_data"):
        raise PermissionDenied
    audit_record(
        action=REVEAL,
        actor=actor,
        target=application,
        data={"fields": ["contact", "phone", "id_number", "emergency_phone"]},
        request=request,
    )
    members = [
        Revealed(m.position + 1, m.name, _open(m.phone_sealed), _open(m.id_number_sealed))
        for m in application.members.order_by("position")
    ]
    return application.contact, members, _open(application.emergency_phone_sealed)


def gate_list_exported(
    *, session: Session, actor: User, kind: str, rows: int, request: HttpRequest | None = None
) -> None:
    """Record that a session's visitor list left headon (CSV or print)."""
    audit_record(
        action=EXPORT,
        actor=actor,
        target=session,
        data={"format": kind, "rows": rows},
        request=request,
    )
