"""Background jobs of the visit program. They take ids and call a
service; each can run twice and do its effect once (or harmlessly again)."""

from __future__ import annotations

from django_tasks import task

from headon import faults
from headon.visits.models import Offer, Program
from headon.visits.services import messages, moving, notices, offers, rehoming, reminders
from headon.visits.services.retention import erase_due


@task()
def notify_offer(offer_id: int) -> bool:
    """Tell the party, once, it has a place and until when to confirm."""
    return notices.offer_notice(offer_id)


@task()
def notify_tickets(offer_id: int) -> bool:
    """After confirming: the party's tickets and calendar file; once."""
    return notices.tickets_notice(offer_id)


@task()
def notify_cancelled(offer_id: int) -> bool:
    """The party's session was cancelled: say so, once."""
    return notices.cancelled_notice(offer_id)


@task()
def notify_receipt(application_id: int, event: str, nonce: str) -> bool:
    """The party's receipt with its private link; once per nonce."""
    return notices.receipt_notice(application_id, event, nonce)


@task()
def notify_companion(member_id: int, nonce: str) -> bool:
    """A named companion's invitation to confirm; once per nonce."""
    return notices.companion_invite(member_id, nonce)


@task()
def notify_offers(program_id: int) -> int:
    """After the draw: one message per offer (the waitlisted hear it too)."""
    sent = 0
    for offer_id in Offer.objects.filter(
        session__program_id=program_id, status=Offer.Status.OFFERED, source=Offer.Source.DRAW
    ).values_list("pk", flat=True):
        notify_offer.enqueue(offer_id)
        sent += 1
        faults.pause("offers-notify", str(offer_id))  # crash tests only
    return sent


@task()
def send_message(message_id: int) -> int:
    """A coordinator's message, rendered here per party by id; once each."""
    return messages.message_send(message_id)


@task()
def notify_rehomed(offer_id: int, cancelled_session_id: int) -> bool:
    """After a cancellation: the party's new offer, or its waitlist place."""
    return rehoming.rehomed_notice(offer_id, cancelled_session_id)


@task()
def notify_moved(offer_id: int, old_starts: str, old_ends: str) -> bool:
    """After a session moved: the party's old and new time; once per move."""
    return moving.moved_notice(offer_id, old_starts, old_ends)


@task()
def promote_program(program_id: int) -> int:
    """Offer free places to the waitlist, in its order."""
    return len(offers.promote(Program.objects.get(pk=program_id)))


@task()
def lapse_offers() -> int:
    """Offers past their deadline lapse; their places go to the waitlist."""
    return offers.offers_lapse()


@task()
def invite_feedback(session_id: int) -> int:
    """After a session: each party that came is asked how it went; once."""
    return notices.feedback_invites(session_id)


@task()
def erase_personal_data() -> int:
    """The retention job: erase applicants' data of programs past retention."""
    return sum(erased.people for erased in erase_due())


@task()
def remind_visits() -> int:
    """A day before the visit: each confirmed party's reminder; once."""
    return reminders.visit_reminders()


@task()
def remind_expiring_offers() -> int:
    """Offers lapsing within a day: each party's reminder; once."""
    return reminders.expiry_reminders()
