"""Offers after the draw: confirm, decline, lapse, and promotion from the
waitlist.

Every seat decision takes the program's draw row lock first (`_lock`), so
two workers promoting at once, or an applicant confirming while a worker
lapses the same offer, run one after the other; and the unique offer per
application means a party can never be offered two places. A freed place
goes to the first party on the waitlist, in draw order, that ranked the
session and fits whole; a party that does not fit keeps its place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from headon import faults
from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.visits import later
from headon.visits.models import Draw, Offer, Program, Session, Ticket, WaitlistEntry
from headon.visits.services.draws import offer_deadline
from headon.visits.services.tickets import issue_tickets


class OfferError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _lock(program_id: int) -> None:
    Draw.objects.select_for_update().filter(program_id=program_id).get()


def offers_cancel(session: Session, *, actor: User | None = None) -> list[Offer]:
    """The session is cancelled: its offers end, their tickets are void
    (the gate refuses them), and each party is told in its language."""
    # The seat lock, as for every seat decision (none before a draw).
    list(Draw.objects.select_for_update().filter(program_id=session.program_id).values("pk"))
    cancelled = list(
        Offer.objects.filter(
            session=session, status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED]
        )
    )
    now = timezone.now()
    Offer.objects.filter(pk__in=[o.pk for o in cancelled]).update(
        status=Offer.Status.CANCELLED, responded_at=now
    )
    Ticket.objects.filter(offer__in=cancelled, void_at__isnull=True).update(void_at=now)
    for offer in cancelled:
        later.notify_cancelled(offer.pk)
    if cancelled:
        audit_record(
            action="offers_cancel",
            actor=actor,
            target=session,
            data={"offers": [o.pk for o in cancelled]},
        )
    return cancelled


def seats_held(session_ids: list[int]) -> dict[int, int]:
    return dict(
        Offer.objects.filter(
            session_id__in=session_ids,
            status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED],
        )
        .values_list("session")
        .annotate(n=Sum("seats"))
        .values_list("session", "n")
    )


@transaction.atomic
def offer_confirm(offer: Offer) -> Offer:
    _lock(offer.session.program_id)
    offer = Offer.objects.select_related("session", "application").get(pk=offer.pk)
    if offer.status == Offer.Status.CONFIRMED:
        return offer
    if offer.status != Offer.Status.OFFERED:
        raise OfferError("offer_closed")
    if timezone.now() > offer.deadline:
        raise OfferError("offer_lapsed")
    offer.status = Offer.Status.CONFIRMED
    offer.responded_at = timezone.now()
    offer.save(update_fields=["status", "responded_at"])
    issue_tickets(offer)
    audit_record(action="offer_confirm", actor=None, target=offer, data={})
    later.notify_tickets(offer.pk)
    return offer


@transaction.atomic
def offer_decline(offer: Offer) -> Offer:
    """Give the place back; the waitlist fills it (a job, after commit)."""
    _lock(offer.session.program_id)
    offer = Offer.objects.select_related("session").get(pk=offer.pk)
    if offer.status == Offer.Status.DECLINED:
        return offer
    if offer.status not in (Offer.Status.OFFERED, Offer.Status.CONFIRMED):
        raise OfferError("offer_closed")
    if offer.session.starts_at <= timezone.now():
        raise OfferError("session_started")
    offer.status = Offer.Status.DECLINED
    offer.responded_at = timezone.now()
    offer.save(update_fields=["status", "responded_at"])
    offer.tickets.update(void_at=timezone.now())
    audit_record(action="offer_decline", actor=None, target=offer, data={})
    later.promote_program(offer.session.program_id)
    return offer


@transaction.atomic
def offers_lapse(now: dt.datetime | None = None) -> int:
    """Offers past their deadline lapse; their places go to the waitlist."""
    at = now or timezone.now()
    lapsed = 0
    programs = set(
        Offer.objects.filter(status=Offer.Status.OFFERED, deadline__lt=at).values_list(
            "session__program", flat=True
        )
    )
    for program_id in sorted(programs):
        _lock(program_id)
        lapsed += Offer.objects.filter(
            session__program=program_id, status=Offer.Status.OFFERED, deadline__lt=at
        ).update(status=Offer.Status.LAPSED, responded_at=at)
        later.promote_program(program_id)
    return lapsed


def _waiting(program: Program, chunk: int = 500) -> Iterator[WaitlistEntry]:
    """The waiting parties in draw order, a chunk at a time: a freed place
    is usually taken near the head of the list."""
    after = 0
    while True:
        entries = list(
            WaitlistEntry.objects.filter(
                program=program, status=WaitlistEntry.Status.WAITING, position__gt=after
            )
            .select_related("application")
            .prefetch_related("application__choices")
            .order_by("position")[:chunk]
        )
        yield from entries
        if len(entries) < chunk:
            return
        after = entries[-1].position


@transaction.atomic
def promote(program: Program, *, now: dt.datetime | None = None) -> list[Offer]:
    """Fill every free seat of the program's sessions from the waitlist, in
    draw order, whole parties only. Safe to run any number of times."""
    at = now or timezone.now()
    _lock(program.pk)
    sessions = {
        s.pk: s
        for s in Session.objects.filter(
            program=program, status=Session.Status.SCHEDULED, starts_at__gt=at
        )
    }
    held = seats_held(list(sessions))
    free = {pk: s.capacity - held.get(pk, 0) for pk, s in sessions.items()}
    if not any(n > 0 for n in free.values()):
        return []
    made: list[Offer] = []
    for entry in _waiting(program):
        application = entry.application
        if not application.is_active:
            continue
        for choice in sorted(application.choices.all(), key=lambda c: c.rank):
            if free.get(choice.session_id, 0) >= application.party_size:
                # A party back on the waitlist after a cancellation keeps its
                # (cancelled) offer row: one offer per application.
                offer, _created = Offer.objects.update_or_create(
                    application=application,
                    defaults={
                        "session_id": choice.session_id,
                        "seats": application.party_size,
                        "status": Offer.Status.OFFERED,
                        "source": Offer.Source.WAITLIST,
                        "offered_at": at,
                        "responded_at": None,
                        "deadline": min(offer_deadline(at), sessions[choice.session_id].starts_at),
                    },
                )
                entry.status = WaitlistEntry.Status.OFFERED
                entry.save(update_fields=["status"])
                free[choice.session_id] -= application.party_size
                made.append(offer)
                break
        if not any(n > 0 for n in free.values()):
            break
    if made:
        audit_record(
            action="waitlist_promote", actor=None, target=program, data={"offers": len(made)}
        )
        for offer in made:
            later.notify_offer(offer.pk)
    faults.pause("waitlist-promote", ",".join(str(o.application_id) for o in made))  # crash tests
    return made


EXTEND_HOURS_MAX = 24 * 14


@transaction.atomic
def offer_extend(*, offer: Offer, hours: int, actor: User) -> Offer:
    """Give a party more time to confirm: the deadline moves `hours` later,
    never past the session's start. Only an offer still waiting; logged."""
    _lock(offer.session.program_id)
    offer = Offer.objects.select_related("session").get(pk=offer.pk)
    if offer.status != Offer.Status.OFFERED:
        raise OfferError("offer_closed")
    if not 1 <= hours <= EXTEND_HOURS_MAX:
        raise OfferError("extend_range")
    now = timezone.now()
    if offer.session.starts_at <= now:
        raise OfferError("session_started")
    before = offer.deadline
    offer.deadline = min(max(before, now) + dt.timedelta(hours=hours), offer.session.starts_at)
    offer.save(update_fields=["deadline"])
    audit_record(
        action="offer_extend",
        actor=actor,
        target=offer,
        data={"from": before.isoformat(), "to": offer.deadline.isoformat()},
    )
    return offer
