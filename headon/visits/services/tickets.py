"""headon's ticket key and the tickets of a confirmed offer: the Django
side of `headon.visits.tickets`."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from functools import cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from headon.visits import tickets
from headon.visits.models import Offer, ReplacedTicketCode, Ticket


@cache
def private_key() -> Ed25519PrivateKey:
    seed = hashlib.sha256(b"headon.visits.ticket-key\x00" + settings.TICKET_KEY.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


@cache
def public_keys() -> dict[int, Ed25519PublicKey]:
    return tickets.public_keys_by_id([public_key()])


@cache
def short_key() -> bytes:
    return tickets.short_code_key(private_key())


def short_code(ticket: Ticket) -> str:
    """The code a person types when the QR code will not scan."""
    return tickets.format_short_code(
        tickets.short_code(ticket_id=ticket.pk, session_id=ticket.session_id, key=short_key())
    )


def validity(offer: Offer) -> tuple[dt.datetime, dt.datetime]:
    session = offer.session
    start = session.starts_at - dt.timedelta(minutes=settings.HEADON_GATE_OPENS_MINUTES)
    end = session.ends_at + dt.timedelta(minutes=settings.HEADON_GATE_CLOSES_MINUTES)
    return start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)


def issue_tickets(offer: Offer) -> list[Ticket]:
    """One signed ticket per person in the party; none twice (the member is
    unique on Ticket). Call inside the transaction that confirms the offer."""
    existing = {t.member_id: t for t in Ticket.objects.filter(offer=offer)}
    start, end = validity(offer)
    issued = []
    for member in offer.application.members.order_by("position"):
        ticket = existing.get(member.pk)
        if ticket is not None and ticket.void_at is None and ticket.session_id == offer.session_id:
            issued.append(ticket)
            continue
        if ticket is not None:
            # Voided when its session was cancelled; the party confirmed a
            # place elsewhere (services/rehoming.py): the same row, signed
            # again for the new session, so the old code stops working.
            ticket.session, ticket.void_at = offer.session, None
            ticket.save(update_fields=["session", "void_at"])
        else:
            ticket = Ticket.objects.create(
                offer=offer,
                member=member,
                session=offer.session,
                code=f"pending:{uuid.uuid4().hex}",
            )
        _sign(ticket, offer, member.position, start, end)
        issued.append(ticket)
    return issued


def _sign(
    ticket: Ticket, offer: Offer, position: int, start: dt.datetime, end: dt.datetime
) -> None:
    ticket.code = tickets.sign_ticket(
        tickets.TicketClaims(
            program_id=offer.session.program_id,
            session_id=offer.session_id,
            ticket_id=ticket.pk,
            visitor=position,
            valid_from=start,
            valid_until=end,
        ),
        private_key(),
    )
    ticket.save(update_fields=["code"])


def reissue_tickets(offer: Offer) -> int:
    """The offer's session moved: sign its valid tickets again for the new
    time. Each old code is kept as replaced, so the gate refuses it with a
    reason rather than as unknown. Call in the transaction that moves."""
    start, end = validity(offer)
    renewed = 0
    for ticket in Ticket.objects.filter(
        offer=offer, void_at__isnull=True, checked_in_at__isnull=True
    ).select_related("member"):
        ReplacedTicketCode.objects.create(ticket=ticket, code=ticket.code)
        _sign(ticket, offer, ticket.member.position, start, end)
        renewed += 1
    return renewed
