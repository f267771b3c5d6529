"""After a session's time changes: the confirmed parties' tickets are signed
again for the new time (the old codes are refused at the gate, with the
reason), and every party holding a place is told the old and the new time
with its private link, in its language, by a job (`later.notify_moved`).

The job carries the offer's id and the old start and end (no address, no
link); the notice is worded in the worker. An audit row per offer and old
start, written in the transaction that sends, makes a retried job send
nothing more.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from headon.accounts.models import AuditEvent, User
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits import later
from headon.visits.models import Offer, Session, session_when
from headon.visits.services.notices import _place, _tell, private_url
from headon.visits.services.tickets import reissue_tickets

MOVED_NOTIFIED = "session_moved_notified"


def session_moved(
    session: Session, old_starts: dt.datetime, old_ends: dt.datetime, *, actor: User | None = None
) -> int:
    """Re-issue the tickets of the session's confirmed parties and queue a
    notice for each party holding a place. Call in the transaction that
    saved the new time. Returns the number of parties told."""
    holders = list(
        Offer.objects.select_for_update()
        .filter(session=session, status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED])
        .select_related("session")
    )
    renewed = 0
    for offer in holders:
        if offer.status == Offer.Status.CONFIRMED:
            renewed += reissue_tickets(offer)
        elif offer.deadline > session.starts_at:
            # Moved earlier than the party's deadline: it must answer first.
            offer.deadline = session.starts_at
            offer.save(update_fields=["deadline"])
        later.notify_moved(offer.pk, old_starts.isoformat(), old_ends.isoformat())
    audit_record(
        action="session_move",
        actor=actor,
        target=session,
        data={"offers": [o.pk for o in holders], "tickets_renewed": renewed},
    )
    return len(holders)


@transaction.atomic
def moved_notice(offer_id: int, old_starts: str, old_ends: str) -> bool:
    """Tell the party, once per move, the old and the new time."""
    Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk").get()
    offer = Offer.objects.select_related("application__program", "session__program").get(
        pk=offer_id
    )
    if offer.status not in (Offer.Status.OFFERED, Offer.Status.CONFIRMED):
        return False
    if AuditEvent.objects.filter(
        action=MOVED_NOTIFIED,
        target_type=Offer._meta.label_lower,
        target_id=str(offer.pk),
        data__from=old_starts,
    ).exists():
        return False
    audit_record(action=MOVED_NOTIFIED, target=offer, data={"from": old_starts})
    application = offer.application
    before = (dt.datetime.fromisoformat(old_starts), dt.datetime.fromisoformat(old_ends))

    def compose() -> tuple[str, str]:
        title = application.program.title
        values = {
            "program": title,
            "old": session_when(*before),
            "new": _place(offer),
            "url": private_url(application),
        }
        subject = _("%(program)s: your visit has a new time") % {"program": title}
        if offer.status == Offer.Status.CONFIRMED:
            body = _(
                "%(program)s: your visit moved from %(old)s to %(new)s. Your tickets are renewed; the old ones no longer work at the gate: %(url)s"
            )
        else:
            values["deadline"] = offer.deadline.astimezone(organiser_tz()).strftime(
                "%Y-%m-%d %H:%M"
            )
            body = _(
                "%(program)s: the session you are offered moved from %(old)s to %(new)s. Confirm by %(deadline)s: %(url)s"
            )
        return subject, body % values

    _tell(application, compose)
    return True
