"""Reminders the worker's clock sends: a day before the visit, and before
an offer's deadline. Each is sent once: an audit row on the offer, written
in the transaction that sends under the offer's row lock, marks it sent;
a second run (a retried job, a second worker's clock) waits on the lock,
finds the row and sends nothing. The row names the session (or the
deadline), so an offer row reused for another session, or a deadline a
coordinator extended, is reminded again."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet
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


def _unsent(offers: QuerySet[Offer], action: str, key: str) -> list[int]:
    """The ids of `offers` with no `action` row for their session or deadline."""
    rows = {
        offer_id: value.isoformat() if isinstance(value, dt.datetime) else str(value)
        for offer_id, value in offers.values_list("pk", "session_id" if key == "session" else key)
    }
    sent = {
        (target_id, data.get(key))
        for target_id, data in AuditEvent.objects.filter(
            action=action, target_type=Offer._meta.label_lower, target_id__in=map(str, rows)
        ).values_list("target_id", "data")
    }
    return [offer_id for offer_id, value in rows.items() if (str(offer_id), value) not in sent]


def visits_unreminded(now: dt.datetime | None = None) -> list[int]:
    """Confirmed offers of sessions starting in 24 to 36 hours not yet reminded."""
    return _unsent(_visits_due(now or timezone.now()), VISIT_REMINDED, "session")


def expiring_unreminded(now: dt.datetime | None = None) -> list[int]:
    """Offers lapsing within 24 hours whose party was not yet reminded."""
    return _unsent(_expiring(now or timezone.now()), EXPIRY_REMINDED, "deadline")


def _first(offer_id: int, status: str, action: str, key: dict[str, str]) -> Offer | None:
    """The offer, locked, if it still has `status` and no `action` row with
    `key` was recorded for it; records one."""
    Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk").get()
    offer = Offer.objects.select_related("application__program", "session__program").get(
        pk=offer_id
    )
    lookup = {f"data__{name}": value for name, value in key.items()}
    if (
        offer.status != status
        or offer.session.status != Session.Status.SCHEDULED
        or AuditEvent.objects.filter(
            action=action, target_type=Offer._meta.label_lower, target_id=str(offer_id), **lookup
        ).exists()
    ):
        return None
    audit_record(action=action, target=offer, data=key)
    return offer


@transaction.atomic
def visit_reminder(offer_id: int) -> bool:
    """Remind a confirmed party, once, of its visit: when, where, and the
    link to its tickets, in its language."""
    session_id = Offer.objects.values_list("session_id", flat=True).get(pk=offer_id)
    offer = _first(offer_id, Offer.Status.CONFIRMED, VISIT_REMINDED, {"session": str(session_id)})
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
