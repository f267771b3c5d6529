"""After a session is cancelled: each party that held a place in it is
offered its next ranked choice that still has seats for the whole party,
or goes back on the waitlist in draw order.

Runs in the transaction that cancelled the offers, under the program's seat
lock (`offers._lock`), so no promotion can take the seats in between. The
parties are served in draw order (the published record's "order"), so the
one the lottery put first gets the first pick, as in the draw itself. The
party's offer row is reused (one offer per application): it points at the
new session with its own deadline; its void tickets are signed again for
the new session when it confirms (`services.tickets.issue_tickets`).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from headon.accounts.models import AuditEvent, User
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits import later
from headon.visits.models import Draw, Offer, Program, Session, WaitlistEntry
from headon.visits.services.draws import offer_deadline
from headon.visits.services.notices import _place, _tell, private_url
from headon.visits.services.offers import seats_held

MOVED = "offer_moved"
RETURNED = "offer_returned_to_waitlist"
# Positions are moved out of the way before renumbering, so the unique
# (program, position) index never sees two rows at one place.
_OUT_OF_THE_WAY = 10_000_000


def draw_order(program: Program) -> dict[str, int]:
    """Each party's place in the lottery's order, by reference."""
    record = Draw.objects.filter(program=program).values_list("record", flat=True).first()
    order = (record or {}).get("order", []) if isinstance(record, dict) else []
    return {ref: index for index, ref in enumerate(order)}


def rehome(cancelled: list[Offer], *, actor: User | None = None) -> tuple[int, int]:
    """Offer each party of `cancelled` (offers just cancelled, same program)
    its next choice with seats, or put it back on the waitlist. Returns
    (moved, returned to the waitlist)."""
    if not cancelled:
        return 0, 0
    now = timezone.now()
    program = Program.objects.get(pk=cancelled[0].session.program_id)
    order = draw_order(program)
    offers = sorted(
        Offer.objects.filter(pk__in=[o.pk for o in cancelled]).select_related("application"),
        key=lambda o: (order.get(o.application.reference, len(order)), o.pk),
    )
    sessions = {
        s.pk: s
        for s in Session.objects.filter(
            program=program, status=Session.Status.SCHEDULED, starts_at__gt=now
        )
    }
    held = seats_held(list(sessions))
    free = {pk: s.capacity - held.get(pk, 0) for pk, s in sessions.items()}
    moved, returned = [], []
    for offer in offers:
        target = next(
            (
                c.session_id
                for c in offer.application.choices.order_by("rank")
                if c.session_id != offer.session_id and free.get(c.session_id, 0) >= offer.seats
            ),
            None,
        )
        if target is None:
            returned.append(offer)
            continue
        free[target] -= offer.seats
        _move(offer, sessions[target], now)
        moved.append(offer)
    _back_to_waitlist(program, returned, order)
    for offer in moved + returned:
        later.notify_rehomed(offer.pk, offer.session_id if offer in returned else 0)
    audit_record(
        action="offers_rehome",
        actor=actor,
        target=program,
        data={"moved": [o.pk for o in moved], "waitlisted": [o.pk for o in returned]},
    )
    return len(moved), len(returned)


def _move(offer: Offer, session: Session, now: dt.datetime) -> None:
    cancelled_session = offer.session_id
    offer.session = session
    offer.status = Offer.Status.OFFERED
    offer.source = Offer.Source.MOVED
    offer.offered_at = now
    offer.responded_at = None
    offer.deadline = min(offer_deadline(now), session.starts_at)
    offer.save(
        update_fields=["session", "status", "source", "offered_at", "responded_at", "deadline"]
    )
    audit_record(action=MOVED, target=offer, data={"from": cancelled_session, "to": session.pk})


def _back_to_waitlist(program: Program, offers: list[Offer], order: dict[str, int]) -> None:
    """Put the parties on the waitlist (again), then renumber it in draw
    order: a party that held a place was drawn, so it lands where the
    lottery put it, not at the end."""
    if not offers:
        return
    top = WaitlistEntry.objects.filter(program=program).aggregate(n=Max("position"))["n"] or 0
    for n, offer in enumerate(offers, start=1):
        WaitlistEntry.objects.update_or_create(
            application=offer.application,
            defaults={
                "program": program,
                "status": WaitlistEntry.Status.WAITING,
                "position": top + _OUT_OF_THE_WAY + n,
            },
        )
    entries = list(WaitlistEntry.objects.filter(program=program).select_related("application"))
    entries.sort(key=lambda e: (order.get(e.application.reference, len(order)), e.position))
    WaitlistEntry.objects.filter(program=program).update(position=F("position") + _OUT_OF_THE_WAY)
    for position, entry in enumerate(entries, start=1):
        WaitlistEntry.objects.filter(pk=entry.pk).update(position=position)


@transaction.atomic
def rehomed_notice(offer_id: int, cancelled_session_id: int) -> bool:
    """Tell the party, once, its new offer (cancelled_session_id 0) or that
    it is back on the waitlist and where."""
    Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk").get()
    offer = Offer.objects.select_related("application__program", "session__program").get(
        pk=offer_id
    )
    application = offer.application
    moving = cancelled_session_id == 0
    if moving and (offer.status != Offer.Status.OFFERED or offer.source != Offer.Source.MOVED):
        return False
    entry = WaitlistEntry.objects.filter(
        application=application, status=WaitlistEntry.Status.WAITING
    ).first()
    if not moving and entry is None:
        return False
    action = f"{MOVED if moving else RETURNED}_notified"
    key = offer.session_id if moving else cancelled_session_id
    if AuditEvent.objects.filter(
        action=action, target_type="visits.offer", target_id=str(offer.pk), data__session=key
    ).exists():
        return False
    audit_record(action=action, target=offer, data={"session": key})

    def compose() -> tuple[str, str]:
        title = application.program.title
        if moving:
            subject = _("%(program)s: a place in another session") % {"program": title}
            body = _(
                "%(program)s: your session was cancelled. We offer your party of %(n)s your next choice, %(when)s. Confirm by %(deadline)s: %(url)s"
            ) % {
                "program": title,
                "n": offer.seats,
                "when": _place(offer),
                "deadline": offer.deadline.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M"),
                "url": private_url(application),
            }
            return subject, body
        subject = _("%(program)s: back on the waitlist") % {"program": title}
        body = _(
            "%(program)s: your session was cancelled and no other session you chose has seats. You are back on the waitlist, No. %(position)s: %(url)s"
        ) % {
            "program": title,
            "position": entry.position if entry else "",
            "url": private_url(application),
        }
        return subject, body

    _tell(application, compose)
    return True
