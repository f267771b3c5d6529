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

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.antibot import ratelimit
from headon.timezones import organiser_tz
from headon.visits import tickets
from headon.visits.models import Offer, ReplacedTicketCode, Session, Ticket
from headon.visits.services.tickets import public_keys, short_key, validity

# Tests switch this off to run the naive check-then-write and show that the
# race harness catches a double check-in (STYLE.md rule 14). Never in code.
_GUARDED = True

OK = "checked_in"


@dataclass(frozen=True)
class CheckIn:
    """What the gate shows after one scan. ``reason`` is stable
    (checked_in, invalid, unknown, void, not_confirmed, wrong_session,
    too_early, too_late, already, replaced); ``message`` is translated."""

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
        ticket.no_show_at = None
        ticket.save(update_fields=["checked_in_at", "checked_in_by", "gate", "no_show_at"])
        return True
    # A late visitor marked a no-show comes after all: the check-in wins.
    claimed = Ticket.objects.filter(pk=ticket.pk, checked_in_at__isnull=True).update(
        checked_in_at=now, checked_in_by=actor, gate=gate, no_show_at=None
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
    found = _find(code or "", session=session, actor=actor)
    if isinstance(found, CheckIn):
        return found
    ticket, claimed_session, valid_from, valid_until = found
    return _admit(
        ticket,
        session=session,
        claimed_session=claimed_session,
        valid_from=valid_from,
        valid_until=valid_until,
        actor=actor,
        gate=gate,
        now=now,
    )


INVALID = "invalid"


def _invalid(session: Session) -> CheckIn:
    return _refuse(
        INVALID, _("Not a valid ticket: forged or mistyped. Try typing it again."), session
    )


def _find(
    code: str, *, session: Session, actor: User
) -> CheckIn | tuple[Ticket, int, dt.datetime, dt.datetime]:
    """The ticket a long or short code names, with the session and window
    it claims; or the refusal."""
    plain = tickets.normalise_typed_code(code)
    if tickets.parse_short_code(plain) is not None:
        return _find_short(plain, session=session, actor=actor)
    try:
        claims = tickets.verify_ticket(plain, public_keys())
    except tickets.TicketError:
        return _invalid(session)
    try:
        # The unique index on code finds it; the id is the signed claim.
        ticket = Ticket.objects.select_related("offer", "member").get(
            code=plain, pk=claims.ticket_id
        )
    except Ticket.DoesNotExist:
        replaced = (
            ReplacedTicketCode.objects.select_related("ticket__session")
            .filter(code=plain, ticket_id=claims.ticket_id)
            .first()
        )
        if replaced is not None:
            # Its session moved; the party was sent the ticket signed again.
            message = _(
                "This ticket was replaced when its session moved to %(session)s. Ask for the new ticket."
            ) % {"session": session_name(replaced.ticket.session)}
            return _refuse("replaced", message, session, replaced.ticket)
        return _refuse("unknown", _("No such ticket."), session)
    return ticket, claims.session_id, claims.valid_from, claims.valid_until


def typed_code_limit(actor: User) -> ratelimit.RateLimitResult:
    """One hit of the per-account limit on short codes and look-ups: what a
    gate account, or whoever took its phone, can try in a window."""
    return ratelimit.hit(
        "gate-typed",
        str(actor.pk),
        limit=settings.HEADON_GATE_TYPED_LIMIT,
        window_seconds=settings.HEADON_GATE_TYPED_WINDOW,
    )


def _limited(session: Session, limit: ratelimit.RateLimitResult) -> CheckIn:
    return _refuse("rate_limited", ratelimit.wait_message(limit.retry_after), session)


def _find_short(
    plain: str, *, session: Session, actor: User
) -> CheckIn | tuple[Ticket, int, dt.datetime, dt.datetime]:
    """A short code: counted against the account's limit, then checked
    against the row's own ticket and session ids. An unknown ticket id and
    a wrong check give the same answer, so guessing reveals nothing."""
    limit = typed_code_limit(actor)
    if not limit.allowed:
        return _limited(session, limit)
    parsed = tickets.parse_short_code(plain)
    ticket_id = parsed[0] if parsed is not None else 0
    ticket = Ticket.objects.select_related("offer__session", "member").filter(pk=ticket_id).first()
    if ticket is None or (
        tickets.short_code_matches(plain, session_id=ticket.session_id, key=short_key())
        != ticket.pk
    ):
        return _invalid(session)
    valid_from, valid_until = validity(ticket.offer)
    return ticket, ticket.session_id, valid_from, valid_until


def _admit(
    ticket: Ticket,
    *,
    session: Session,
    claimed_session: int,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    actor: User,
    gate: str,
    now: dt.datetime,
) -> CheckIn:
    """The checks every way in shares (a scan, a typed code, a look-up)."""
    if session.status == Session.Status.CANCELLED:
        return _refuse("session_cancelled", _("This session was cancelled."), session, ticket)
    if ticket.void_at is not None:
        return _refuse("void", _("This ticket was cancelled."), session, ticket)
    if ticket.offer.status != Offer.Status.CONFIRMED:
        return _refuse("not_confirmed", _("This place was not confirmed."), session, ticket)
    if claimed_session != session.pk or ticket.session_id != session.pk:
        message = _("This ticket is for another session: %(session)s.") % {
            "session": session_name(ticket.session)
        }
        return _refuse("wrong_session", message, session, ticket)
    if now < valid_from:
        message = _("Too early: check-in opens at %(time)s.") % {
            "time": time_format(_local(valid_from), "H:i")
        }
        return _refuse("too_early", message, session, ticket)
    if now > valid_until:
        message = _("Too late: check-in closed at %(time)s.") % {
            "time": time_format(_local(valid_until), "H:i")
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


LOOKUP_MAX = 10
LOOKUP_MIN_NAME = 2


@dataclass(frozen=True)
class Lookup:
    """What a look-up by reference or name found in one session."""

    tickets: list[Ticket]
    message: str = ""


def gate_is_open(session: Session, now: dt.datetime) -> bool:
    opens = session.starts_at - dt.timedelta(minutes=settings.HEADON_GATE_OPENS_MINUTES)
    closes = session.ends_at + dt.timedelta(minutes=settings.HEADON_GATE_CLOSES_MINUTES)
    return opens <= now <= closes


def lookup(*, query: str, session: Session, actor: User, now: dt.datetime | None = None) -> Lookup:
    """The session's confirmed visitors whose party reference is `query`, or
    whose name contains it, for when a code will not scan.

    What a gate account could learn by looking people up is kept to the gate
    at work: only this session, only while its gate is open, at least two
    characters of a name, at most ten answers (more asks for more of the
    name, and shows none), each look-up counted against the account's limit
    and logged (how many were found, never the name typed)."""
    now = now or timezone.now()
    text = " ".join(query.replace("\x00", "").split())[:100]
    if not gate_is_open(session, now):
        return Lookup([], _("Look-up works only while this session's gate is open."))
    if len(text) < LOOKUP_MIN_NAME:
        return Lookup([], _("Type a reference or at least two characters of a name."))
    limit = typed_code_limit(actor)
    if not limit.allowed:
        return Lookup([], ratelimit.wait_message(limit.retry_after))
    found = list(
        Ticket.objects.filter(
            Q(member__application__reference__iexact=text.replace(" ", ""))
            | Q(member__name__icontains=text),
            session=session,
            void_at__isnull=True,
            offer__status=Offer.Status.CONFIRMED,
        )
        .select_related("member__application", "offer")
        .order_by("member__application__reference", "member__position")[: LOOKUP_MAX + 1]
    )
    audit_record(action="gate_lookup", actor=actor, target=session, data={"results": len(found)})
    if len(found) > LOOKUP_MAX:
        return Lookup([], _("More than ten visitors match: type more of the name."))
    if not found:
        return Lookup([], _("Nobody in this session matches."))
    return Lookup(found)


def check_in_found(
    *, ticket: Ticket, session: Session, actor: User, gate: str = "", now: dt.datetime | None = None
) -> CheckIn:
    """Check in a ticket found by look-up (no code): the same checks as a
    scan, from the row; logged, since no code vouched for it."""
    now = now or timezone.now()
    limit = typed_code_limit(actor)
    if not limit.allowed:
        return _limited(session, limit)
    if not gate_is_open(session, now):
        # Without this, posting ticket ids at a session whose gate is shut
        # read back each visitor's name from the "too early" refusal: the
        # look-up's own rule, kept for the check-in it leads to.
        return _refuse(
            "gate_closed", _("Look-up works only while this session's gate is open."), session
        )
    valid_from, valid_until = validity(ticket.offer)
    result = _admit(
        ticket,
        session=session,
        claimed_session=ticket.session_id,
        valid_from=valid_from,
        valid_until=valid_until,
        actor=actor,
        gate=gate.strip()[:40],
        now=now,
    )
    if result.ok:
        audit_record(action="ticket_check_in_lookup", actor=actor, target=ticket, data={})
    return result


def mark_no_shows(*, session: Session, actor: User, now: dt.datetime | None = None) -> int:
    """Mark every confirmed visitor of a started session who has not checked
    in as a no-show; a later check-in clears the mark. Returns how many."""
    now = now or timezone.now()
    if now < session.starts_at:
        return 0
    marked = Ticket.objects.filter(
        session=session,
        void_at__isnull=True,
        offer__status=Offer.Status.CONFIRMED,
        checked_in_at__isnull=True,
        no_show_at__isnull=True,
    ).update(no_show_at=now)
    if marked:
        audit_record(
            action="session_no_shows", actor=actor, target=session, data={"tickets": marked}
        )
    return marked


def no_show_count(session: Session) -> int:
    return Ticket.objects.filter(
        session=session, void_at__isnull=True, no_show_at__isnull=False
    ).count()
