"""Work the visit services hand to the background jobs.

The jobs (`headon.visits.jobs`) are thin entry points that call the
services. A service that wants a job run once its transaction commits asks
for it here, by the job's path, rather than importing the jobs module back:
imports run one way, views and jobs -> services -> this module.
"""

from __future__ import annotations

import uuid

from headon.jobs import enqueue_named

JOBS = "headon.visits.jobs"


def notify_offer(offer_id: int) -> None:
    """Tell the party of a new offer (from the waitlist) it has a place."""
    enqueue_named(f"{JOBS}.notify_offer", offer_id)


def notify_offers(program_id: int) -> None:
    """Tell every party the draw gave a place or a waitlist place."""
    enqueue_named(f"{JOBS}.notify_offers", program_id)


def notify_tickets(offer_id: int) -> None:
    """Send a party that confirmed the link to its tickets."""
    enqueue_named(f"{JOBS}.notify_tickets", offer_id)


def notify_cancelled(offer_id: int) -> None:
    """Tell a party its session is cancelled and its tickets void."""
    enqueue_named(f"{JOBS}.notify_cancelled", offer_id)


def notify_receipt(application_id: int, event: str) -> None:
    """Send the party its receipt, with its private link: applied, changed,
    withdrawn, or a new link. The nonce makes a retried job send it once."""
    enqueue_named(f"{JOBS}.notify_receipt", application_id, event, uuid.uuid4().hex)


def notify_companion(member_id: int) -> None:
    """Ask a named companion, by SMS to their own phone, to confirm. The
    nonce makes a retried job send it once; a resend is a new nonce."""
    enqueue_named(f"{JOBS}.notify_companion", member_id, uuid.uuid4().hex)


def notify_rehomed(offer_id: int, cancelled_session_id: int) -> None:
    """Tell a party of a cancelled session its new offer (0) or that it is
    back on the waitlist (the cancelled session's id)."""
    enqueue_named(f"{JOBS}.notify_rehomed", offer_id, cancelled_session_id)


def promote_program(program_id: int) -> None:
    """Offer the places given back to the waitlist."""
    enqueue_named(f"{JOBS}.promote_program", program_id)


def send_message(message_id: int) -> None:
    """Send a coordinator's message to each of its recipients, once."""
    enqueue_named(f"{JOBS}.send_message", message_id)


def notify_moved(offer_id: int, old_starts: str, old_ends: str) -> None:
    """Tell a party its session moved: the old time (ISO) and, read in the
    worker, the new one."""
    enqueue_named(f"{JOBS}.notify_moved", offer_id, old_starts, old_ends)
