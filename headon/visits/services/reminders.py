"""Reminders the worker's clock sends: a day before the visit, and before
an offer's deadline. Each is sent once: an audit row on the offer, written
in the transaction that sends under the offer's row lock, marks it sent;
a second run (a retried job, a second worker's clock) waits on the lock,
finds the row and sends nothing. The row names the session and its start
(or the deadline), so an offer row reused for another session, a session
moved to another time, or a deadline a coordinator extended, is reminded
again, once, for what holds now."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from headon.accounts.models import AuditEvent
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits.models import Application, Offer, Session
from headon.visits.services.notices import _place, _tell, private_url

VISIT_REMINDED = "visit_reminder_sent"
EXPIRY_REMINDED = "offer_expiry_reminder_sent"
# Sessions starting between 24 and 36 hours from now: the clock runs every
# minute, so each confirmed party hears once, about a day before.
VISIT_WINDOW = (dt.timedelta(hours=24), dt.timedelta(hours=36))
EXPIRY_WINDOW = dt.timedelta(hours=24)
# An offer made less than this long ago is not reminded: its own message
# named the deadline (a waitlist offer near the session has a short one).
EXPIRY_QUIET = dt.timedelta(hours=12)


def _visits_due(now: dt.datetime) -> QuerySet[Offer]:
    start, end = VISIT_WINDOW
    return Offer.objects.filter(
        status=Offer.Status.CONFIRMED,
        application__status=Application.Status.SUBMITTED,
        session__status=Session.Status.SCHEDULED,
        session__starts_at__gte=now + start,
        session__starts_at__lt=now + end,
    )


def _expiring(now: dt.datetime) -> QuerySet[Offer]:
    return Offer.objects.filter(
        status=Offer.Status.OFFERED,
        application__status=Application.Status.SUBMITTED,
        session__status=Session.Status.SCHEDULED,
        deadline__gt=now,
        deadline__lte=now + EXPIRY_WINDOW,
        offered_at__lte=now - EXPIRY_QUIET,
    )


# A visit reminder recorded before its row named the start (the session
# only) counts as sent for that session at any time: a party reminded in the
# hours around the upgrade is not reminded twice.
LEGACY = None


def _unsent(offers: QuerySet[Offer], action: str, keys: dict[str, str]) -> list[int]:
    """The ids of `offers` with no `action` row for their values of `keys`
    (name in the row -> the offer's field)."""
    rows = {
        offer_id: tuple(_text(value) for value in values)
        for offer_id, *values in offers.values_list("pk", *keys.values())
    }
    sent: dict[str, list[tuple[str | None, ...]]] = {}
    for target_id, data in AuditEvent.objects.filter(
        action=action, target_type=Offer._meta.label_lower, target_id__in=map(str, rows)
    ).values_list("target_id", "data"):
        sent.setdefault(target_id, []).append(tuple(data.get(name, LEGACY) for name in keys))
    return [
        offer_id
        for offer_id, wanted in rows.items()
        if not any(_covers(row, wanted) for row in sent.get(str(offer_id), []))
    ]


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _covers(recorded: tuple[str | None, ...], wanted: tuple[str, ...]) -> bool:
    return all(r is LEGACY or r == w for r, w in zip(recorded, wanted, strict=True))


def visits_unreminded(now: dt.datetime | None = None) -> list[int]:
    """Confirmed offers of sessions starting in 24 to 36 hours not yet reminded."""
    return _unsent(
        _visits_due(now or timezone.now()),
        VISIT_REMINDED,
        {"session": "session_id", "starts_at": "session__starts_at"},
    )


def expiring_unreminded(now: dt.datetime | None = None) -> list[int]:
    """Offers lapsing within 24 hours whose party was not yet reminded."""
    return _unsent(_expiring(now or timezone.now()), EXPIRY_REMINDED, {"deadline": "deadline"})


def _first(offer_id: int, status: str, action: str, key: dict[str, str]) -> Offer | None:
    """The offer, locked, if it still has `status` and no `action` row with
    `key` was recorded for it; records one."""
    Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk").get()
    offer = Offer.objects.select_related("application__program", "session__program").get(
        pk=offer_id
    )
    recorded = Q()
    for name, value in key.items():
        # A row without the key (written before it was part of the key) matches.
        recorded &= Q(**{f"data__{name}": value}) | ~Q(data__has_key=name)
    if (
        offer.status != status
        or offer.session.status != Session.Status.SCHEDULED
        or AuditEvent.objects.filter(
            recorded, action=action, target_type=Offer._meta.label_lower, target_id=str(offer_id)
        ).exists()
    ):
        return None
    audit_record(action=action, target=offer, data=key)
    return offer


@transaction.atomic
def visit_reminder(offer_id: int) -> bool:
    """Remind a confirmed party, once, of its visit: when, where, and the
    link to its tickets, in its language."""
    # Keyed by the session's start too: a session moved after its reminder
    # (to another day, or later the same day) is reminded again for the new
    # time; one moved before its reminder is reminded once, for the new time.
    session_id, starts_at = Offer.objects.values_list("session_id", "session__starts_at").get(
        pk=offer_id
    )
    key = {"session": str(session_id), "starts_at": starts_at.isoformat()}
    offer = _first(offer_id, Offer.Status.CONFIRMED, VISIT_REMINDED, key)
    if offer is None:
        return False
    application = offer.application

    def compose() -> tuple[str, str]:
        program = application.program.title
        subject = _("%(program)s: a reminder of your visit") % {"program": program}
        body = _(
            "%(program)s: a reminder of your visit on %(when)s for your party of %(n)s. "
            "Your tickets (show them at the gate): %(url)s"
        ) % {
            "program": program,
            "when": _place(offer),
            "n": offer.seats,
            "url": private_url(application, "visits:tickets"),
        }
        return subject, body

    _tell(application, compose)
    return True


def _deadline_text(deadline: dt.datetime) -> str:
    """Weekday, date and time in the organiser's zone and the active language."""
    local = timezone.localtime(deadline, organiser_tz())
    return f"{date_format(local, 'D')} {date_format(local, 'DATE_FORMAT')} {local:%H:%M}"


@transaction.atomic
def expiry_reminder(offer_id: int) -> bool:
    """Remind a party, once per deadline, that its offer lapses soon."""
    deadline = Offer.objects.values_list("deadline", flat=True).get(pk=offer_id)
    offer = _first(
        offer_id, Offer.Status.OFFERED, EXPIRY_REMINDED, {"deadline": deadline.isoformat()}
    )
    if offer is None:
        return False
    application = offer.application

    def compose() -> tuple[str, str]:
        program = application.program.title
        subject = _("%(program)s: confirm your place") % {"program": program}
        body = _(
            "%(program)s: your place on %(when)s is held until %(deadline)s. "
            "Confirm or decline before then, or it goes to the next party waiting: %(url)s"
        ) % {
            "program": program,
            "when": _place(offer),
            "deadline": _deadline_text(offer.deadline),
            "url": private_url(application),
        }
        return subject, body

    _tell(application, compose)
    return True


def visit_reminders(now: dt.datetime | None = None) -> int:
    """Remind each confirmed party of a session starting in 24 to 36 hours."""
    return sum(visit_reminder(offer_id) for offer_id in visits_unreminded(now))


def expiry_reminders(now: dt.datetime | None = None) -> int:
    """Remind each party whose offer lapses within 24 hours."""
    return sum(expiry_reminder(offer_id) for offer_id in expiring_unreminded(now))
