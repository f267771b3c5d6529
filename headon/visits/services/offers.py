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
from django.db.models import Q, Sum
from django.utils import timezone

from headon import faults
from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.visits import later
from headon.visits.models import (
    Application,
    Draw,
    Offer,
    Program,
    Session,
    Ticket,
    WaitlistEntry,
)
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


# A walk-in from the waitlist: at the gate, once the session has started (or
# starts within this many minutes), seats nobody holds go to a waiting party
# that ranked the session and is there in person. Tests switch _WALK_IN_LOCKED
# off to show the race harness then overbooks (STYLE.md rule 14).
WALK_IN_EARLY = dt.timedelta(minutes=30)
_WALK_IN_LOCKED = True


def walk_in_open(session: Session, now: dt.datetime) -> bool:
    """Whether the gate may admit walk-ins to `session` now."""
    return (
        session.status == Session.Status.SCHEDULED
        and session.starts_at - WALK_IN_EARLY <= now <= session.ends_at
    )


def walk_in_free(session: Session, now: dt.datetime) -> int:
    """Seats nobody holds: the capacity less confirmed places (walk-ins
    admitted so far included) and offers still inside their deadline."""
    held = Offer.objects.filter(session=session).filter(
        Q(status=Offer.Status.CONFIRMED) | Q(status=Offer.Status.OFFERED, deadline__gte=now)
    )
    return session.capacity - (held.aggregate(n=Sum("seats"))["n"] or 0)


def walk_in_waiting(session: Session, now: dt.datetime, limit: int = 20) -> list[WaitlistEntry]:
    """The waiting parties that ranked `session` and fit in its free seats,
    in waitlist order; none unless the gate may admit walk-ins now."""
    if not walk_in_open(session, now):
        return []
    free = walk_in_free(session, now)
    if free <= 0:
        return []
    return list(
        WaitlistEntry.objects.filter(
            program_id=session.program_id,
            status=WaitlistEntry.Status.WAITING,
            application__status=Application.Status.SUBMITTED,
            application__choices__session=session,
            application__party_size__lte=free,
        )
        .select_related("application")
        .prefetch_related("application__members")
        .order_by("position")[:limit]
    )


def _walk_in_refusal(session: Session, entry: WaitlistEntry | None, now: dt.datetime) -> str:
    """Why this party cannot walk in now, or "" if it can."""
    if not walk_in_open(session, now):
        return "walk_in_closed"
    if (
        entry is None
        or entry.status != WaitlistEntry.Status.WAITING
        or not entry.application.is_active
        or not entry.application.choices.filter(session=session).exists()
    ):
        return "walk_in_not_waiting"
    if entry.application.party_size > walk_in_free(session, now):
        return "walk_in_no_room"
    return ""


def _walk_in_entry(session: Session, application_id: int) -> WaitlistEntry | None:
    return (
        WaitlistEntry.objects.select_related("application")
        .filter(program_id=session.program_id, application_id=application_id)
        .first()
    )


def walk_in_admit(
    *,
    session: Session,
    application_id: int,
    actor: User,
    gate: str = "",
    now: dt.datetime | None = None,
) -> Offer:
    """Admit a waiting party whose whole party fits the free seats: a
    confirmed offer and tickets for the session, checked in, logged, and
    the tickets sent. Raises OfferError with the reason it no longer fits.

    The check is made once to refuse early, then again under the program's
    seat lock: two gates admitting the last seats at once run one after the
    other, and the second finds no room."""
    at = now or timezone.now()
    reason = _walk_in_refusal(session, _walk_in_entry(session, application_id), at)
    if reason:
        raise OfferError(reason)
    return _walk_in_commit(
        session=session, application_id=application_id, actor=actor, gate=gate, now=at
    )


def _walk_in_lock(program_id: int) -> None:
    """The seat lock (the draw's row). A program with no draw, whose
    waitlist was written by hand (the demo's open day today), locks its own
    row instead: there only walk-ins give out seats, one gate at a time."""
    if not list(Draw.objects.select_for_update().filter(program_id=program_id).values("pk")):
        list(Program.objects.select_for_update().filter(pk=program_id).values("pk"))


@transaction.atomic
def _walk_in_commit(
    *, session: Session, application_id: int, actor: User, gate: str, now: dt.datetime
) -> Offer:
    if _WALK_IN_LOCKED:
        _walk_in_lock(session.program_id)
        session = Session.objects.get(pk=session.pk)
        entry = _walk_in_entry(session, application_id)
        reason = _walk_in_refusal(session, entry, now)
        if reason:
            raise OfferError(reason)
    else:  # the control case: write what the early check saw
        entry = _walk_in_entry(session, application_id)
    if entry is None:
        raise OfferError("walk_in_not_waiting")
    application = entry.application
    offer, _created = Offer.objects.update_or_create(
        application=application,
        defaults={
            "session": session,
            "seats": application.party_size,
            "status": Offer.Status.CONFIRMED,
            "source": Offer.Source.WAITLIST,
            "offered_at": now,
            "responded_at": now,
            "deadline": now,
        },
    )
    entry.status = WaitlistEntry.Status.OFFERED
    entry.save(update_fields=["status"])
    issued = issue_tickets(offer)
    Ticket.objects.filter(pk__in=[t.pk for t in issued]).update(
        checked_in_at=now, checked_in_by=actor, gate=gate.strip()[:40], no_show_at=None
    )
    audit_record(
        action="gate_walk_in",
        actor=actor,
        target=offer,
        data={"session": session.pk, "seats": offer.seats, "position": entry.position},
    )
    later.notify_tickets(offer.pk)
    return offer
