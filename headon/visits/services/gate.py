"""Checking visitors in at the gate.

A scanned or typed code is checked offline first (its Ed25519 signature,
`headon.visits.tickets`), then against its row: not void, its offer
confirmed, this session, inside its validity window. The one rule that has
to hold under any concurrency, "a ticket checks in once", is a single
conditional UPDATE (`_claim`): two phones scanning the same ticket in the
same millisecond both send it, and the database lets exactly one of them
change the row. No transaction is opened around the checks: they only read,
and on SQLite an IMMEDIATE transaction would queue every scan at every gate
behind the write lock for nothing.

Each party member has their own ticket, so companions check in one by one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits import tickets
from headon.visits.models import Offer, Session, Ticket
from headon.visits.services.tickets import public_keys

# Tests switch this off to run the naive check-then-write and show that the
# race harness catches a double check-in (STYLE.md rule 14). Never in code.
_GUARDED = True

OK = "checked_in"


@dataclass(frozen=True)
class CheckIn:
    """What the gate shows after one scan. ``reason`` is stable
    (checked_in, invalid, unknown, void, not_confirmed, wrong_session,
    too_early, too_late, already); ``message`` is translated."""

    ok: bool
    reason: str
    message: str
    ticket: Ticket | None = None
    visitor: str = ""
    is_lead: bool = False
    position: int = 0  # 1-based place in the party
    party_size: int = 0
    checked_in_at: dt.datetime | None = None
    checked_in: int = 0
    tickets: int = 0

    @property
    def party_position(self) -> str:
        """ "2 of 4", translated; empty when no ticket was found."""
        if not self.party_size:
            return ""
        return _("%(position)s of %(size)s") % {
            "position": self.position,
            "size": self.party_size,
        }


def session_counts(session: Session) -> tuple[int, int]:
    """(checked in, tickets) of the session's valid tickets, in one query
    on the (session, checked_in_at) index."""
    row = Ticket.objects.filter(session=session, void_at__isnull=True).aggregate(
        tickets=Count("id"), checked_in=Count("id", filter=Q(checked_in_at__isnull=False))
    )
    return row["checked_in"], row["tickets"]


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment, organiser_tz())


def session_name(session: Session) -> str:
    """A session as gate staff read it: its label and local start."""
    when = date_format(_local(session.starts_at), "SHORT_DATETIME_FORMAT")
    return f"{session.label} {when}".strip()


def _refuse(reason: str, message: str, session: Session, ticket: Ticket | None = None) -> CheckIn:
    checked_in, total = session_counts(session)
    extra = _about(ticket) if ticket is not None else {}
    return CheckIn(
        ok=False,
        reason=reason,
        message=message,
        ticket=ticket,
        checked_in=checked_in,
        tickets=total,
        **extra,
    )


def _about(ticket: Ticket) -> dict[str, Any]:
    return {
        "visitor": ticket.member.name,
        "is_lead": ticket.member.is_lead,
        "position": ticket.member.position + 1,
        "party_size": ticket.offer.seats,
    }


def _claim(ticket: Ticket, *, actor: User, gate: str, now: dt.datetime) -> bool:
    """Mark the ticket checked in unless it already is; True if this call did."""
    if not _GUARDED:  # the control case: read, then write (a race)
        if ticket.checked_in_at is not None:
            return False
        ticket.checked_in_at, ticket.checked_in_by, ticket.gate = now, actor, gate
        ticket.save(update_fields=["checked_in_at", "checked_in_by", "gate"])
        return True
    claimed = Ticket.objects.filter(pk=ticket.pk, checked_in_at__isnull=True).update(
        checked_in_at=now, checked_in_by=actor, gate=gate
    )
    return claimed == 1


def check_in(
    *, code: str, session: Session, actor: User, gate: str = "", now: dt.datetime | None = None
) -> CheckIn:
    """Check in the ticket ``code`` (scanned or typed) at ``session``.

    Never raises on bad input: every refusal is a red `CheckIn` with a
    reason. Three queries on the way to green (ticket, claim, counts),
    four when the ticket was already used (its time and gate).
    """
    now = now or timezone.now()
    gate = gate.strip()[:40]
    plain = tickets.normalise_typed_code(code or "")
    try:
        claims = tickets.verify_ticket(plain, public_keys())
    except tickets.TicketError:
        return _refuse(
            "invalid", _("Not a valid ticket: forged or mistyped. Try typing it again."), session
        )
    try:
        # The unique index on code finds it; the id is the signed claim.
        ticket = Ticket.objects.select_related("offer", "member").get(
            code=plain, pk=claims.ticket_id
        )
    except Ticket.DoesNotExist:
        return _refuse("unknown", _("No such ticket."), session)
    if session.status == Session.Status.CANCELLED:
        return _refuse("session_cancelled", _("This session was cancelled."), session, ticket)
    if ticket.void_at is not None:
        return _refuse("void", _("This ticket was cancelled."), session, ticket)
    if ticket.offer.status != Offer.Status.CONFIRMED:
        return _refuse("not_confirmed", _("This place was not confirmed."), session, ticket)
    if claims.session_id != session.pk or ticket.session_id != session.pk:
        message = _("This ticket is for another session: %(session)s.") % {
            "session": session_name(ticket.session)
        }
        return _refuse("wrong_session", message, session, ticket)
    if now < claims.valid_from:
        message = _("Too early: check-in opens at %(time)s.") % {
            "time": time_format(_local(claims.valid_from), "H:i")
        }
        return _refuse("too_early", message, session, ticket)
    if now > claims.valid_until:
        message = _("Too late: check-in closed at %(time)s.") % {
            "time": time_format(_local(claims.valid_until), "H:i")
        }
        return _refuse("too_late", message, session, ticket)
    if not _claim(ticket, actor=actor, gate=gate, now=now):
        return _already(ticket, session)
    checked_in, total = session_counts(session)
    return CheckIn(
        ok=True,
        reason=OK,
        message=_("Checked in. Welcome!"),
        ticket=ticket,
        checked_in_at=now,
        checked_in=checked_in,
        tickets=total,
        **_about(ticket),
    )


def _already(ticket: Ticket, session: Session) -> CheckIn:
    at, gate = Ticket.objects.filter(pk=ticket.pk).values_list("checked_in_at", "gate").get()
    values = {"time": time_format(_local(at), "H:i") if at else "?", "gate": gate}
    if gate:
        message = _("Already checked in at %(time)s at gate %(gate)s.") % values
    else:
        message = _("Already checked in at %(time)s.") % values
    result = _refuse("already", message, session, ticket)
    return replace(result, checked_in_at=at)


def undo_check_in(ticket: Ticket, actor: User) -> bool:
    """Take back a mistaken check-in (the wrong party member scanned, say).
    Gate staff and coordinators only; logged. True if it was checked in."""
    if not actor.has_perm("visits.check_in_visitors"):
        raise PermissionDenied
    row = Ticket.objects.filter(pk=ticket.pk).values_list("checked_in_at", "gate").get()
    undone = Ticket.objects.filter(pk=ticket.pk, checked_in_at__isnull=False).update(
        checked_in_at=None, checked_in_by=None, gate=""
    )
    if undone:
        audit_record(
            action="ticket_check_in_undo",
            actor=actor,
            target=ticket,
            data={"checked_in_at": row[0].isoformat() if row[0] else None, "gate": row[1]},
        )
        ticket.checked_in_at, ticket.checked_in_by, ticket.gate = None, None, ""
    return bool(undone)
