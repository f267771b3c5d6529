"""What the visit program tells a party, by SMS or e-mail: its offer, its
tickets, the invitation to give feedback. Each message is sent once: an audit
row, written in the transaction that sends, marks it sent, and a second run
(a job retried after its worker died) finds the row and sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headon.accounts.models import AuditEvent
from headon.accounts.services import audit_record
from headon.antibot.ratelimit import hit
from headon.links import absolute
from headon.sms import send_sms
from headon.timezones import organiser_tz
from headon.visits.models import Application, Offer, PartyMember, Ticket


def private_url(application: Application, page: str = "visits:application") -> str:
    """An absolute link to one of the party's private pages."""
    from headon.visits.services.applications import access_token

    return absolute(
        reverse(
            page, args=[application.program.slug, application.reference, access_token(application)]
        )
    )


def _send(application: Application, subject: str, body: str) -> None:
    """Send now: every notice runs in a job already. Queued as a job of its
    own, an e-mail kept its address and private link in the job table, past
    the retention that erases the application."""
    if application.contact_kind == Application.ContactKind.PHONE:
        send_sms(application.contact, body)
    else:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [application.contact])


def _tell(application: Application, compose: Callable[[], tuple[str, str]]) -> None:
    """Send (subject, body) as `compose` words them in the party's language."""
    language = "zh-hans" if application.language.startswith("zh") else "en"
    with translation.override(language):
        subject, body = compose()
    _send(application, subject, body)


def _place(offer: Offer) -> str:
    """When and where, in the active language: every message names the day."""
    venue = offer.session.program.venue
    return f"{offer.session.full_label} · {venue}" if venue else offer.session.full_label


OFFER_NOTIFIED = "offer_notified"
TICKETS_NOTIFIED = "tickets_notified"


def _first_notice(
    offer_id: int, status: str, action: str, *, before_deadline: bool = False
) -> Offer | None:
    """The offer, locked, if it has `status` (and, with `before_deadline`,
    its deadline is still ahead) and `action` was not yet recorded for it;
    records it.

    Call in the transaction that sends: a second run of the job (a worker
    killed after enqueuing only some of `notify_offers`' jobs, whose rerun
    enqueues them all again) waits on the lock, then finds the audit row
    and sends nothing. Found by headon/tests/test_kill.py."""
    Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk").get()
    offer = Offer.objects.select_related("application__program", "session__program").get(
        pk=offer_id
    )
    if (
        offer.status != status
        or (before_deadline and offer.deadline <= timezone.now())
        or AuditEvent.objects.filter(
            action=action, target_type=Offer._meta.label_lower, target_id=str(offer_id)
        ).exists()
    ):
        return None
    audit_record(action=action, target=offer, data={"status": offer.status})
    return offer


@transaction.atomic
def offer_notice(offer_id: int) -> bool:
    """Tell the party, once, it has a place and until when to confirm."""
    # Past its deadline there is nothing left to confirm (a draw run after
    # its sessions began, a worker back late): no "confirm by" a past time.
    offer = _first_notice(offer_id, Offer.Status.OFFERED, OFFER_NOTIFIED, before_deadline=True)
    if offer is None:
        return False
    application = offer.application

    def compose() -> tuple[str, str]:
        subject = _("%(program)s: you have a place") % {"program": application.program.title}
        body = _(
            "%(program)s: a place for your party of %(n)s on %(when)s. Confirm by %(deadline)s: %(url)s"
        ) % {
            "program": application.program.title,
            "n": offer.seats,
            "when": _place(offer),
            "deadline": offer.deadline.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M"),
            "url": private_url(application),
        }
        return subject, body

    _tell(application, compose)
    return True


@transaction.atomic
def tickets_notice(offer_id: int) -> bool:
    """After confirming: the link to the party's tickets (QR codes) and
    calendar file, so they are in the message as well as on the page; once."""
    offer = _first_notice(offer_id, Offer.Status.CONFIRMED, TICKETS_NOTIFIED)
    if offer is None:
        return False
    application = offer.application

    def compose() -> tuple[str, str]:
        subject = _("%(program)s: your tickets") % {"program": application.program.title}
        body = _("%(program)s on %(when)s: your %(n)s tickets (show them at the gate): %(url)s") % {
            "program": application.program.title,
            "when": _place(offer),
            "n": offer.seats,
            "url": private_url(application, "visits:tickets"),
        }
        return subject, body

    _tell(application, compose)
    return True


RECEIPT_SENT = "application_receipt_sent"


def _receipt_text(application: Application, event: str) -> str:
    values = {
        "program": application.program.title,
        "reference": application.reference,
        "url": private_url(application),
    }
    if event == "companion_left":
        text = _(
            "%(program)s: a companion left your party %(reference)s or declined to come. "
            "See who is in it now: %(url)s"
        )
    elif event == "companions_dropped":
        text = _(
            "%(program)s: applications are closed, and companions who had not confirmed are no "
            "longer in your party %(reference)s: %(url)s"
        )
    elif event == "changed":
        text = _("%(program)s: your application %(reference)s was changed. See it here: %(url)s")
    elif event == "withdrawn":
        text = _("%(program)s: your application %(reference)s was withdrawn. %(url)s")
    elif event == "relinked":
        text = _(
            "%(program)s: a new private link to your application %(reference)s; "
            "the old one no longer works: %(url)s"
        )
    else:
        text = _(
            "%(program)s: we have your application %(reference)s. Your private link, to see, "
            "change or withdraw it (keep it to yourself): %(url)s"
        )
    return text % values


@transaction.atomic
def receipt_notice(application_id: int, event: str, nonce: str) -> bool:
    """Send the party's receipt with its private link, once per nonce: the
    row lock makes a second run wait, then find the audit row."""
    Application.objects.select_for_update().filter(pk=application_id).values_list("pk").get()
    application = Application.objects.select_related("program").get(pk=application_id)
    if AuditEvent.objects.filter(
        action=RECEIPT_SENT,
        target_type=Application._meta.label_lower,
        target_id=str(application_id),
        data__nonce=nonce,
    ).exists():
        return False
    audit_record(action=RECEIPT_SENT, target=application, data={"event": event, "nonce": nonce})
    _tell(
        application,
        lambda: (
            _("%(program)s: your application") % {"program": application.program.title},
            _receipt_text(application, event),
        ),
    )
    return True


COMPANION_INVITED = "companion_invite_sent"
# A lead writes the name in the message, and a change names companions
# afresh: a stranger's phone gets a handful a day, not a stream.
INVITES_PER_DESTINATION = (5, 24 * 3600)


@transaction.atomic
def companion_invite(member_id: int, nonce: str) -> bool:
    """SMS a named companion their link to confirm or decline, in the
    party's language; once per nonce, and never to someone no longer
    waiting. The phone is unsealed here, in the worker: the job's
    arguments hold only the member's id."""
    from headon.visits.services.companions import companion_token
    from headon.visits.services.people import unseal

    member = (
        PartyMember.objects.select_for_update()
        .select_related("application__program")
        .filter(pk=member_id, status=PartyMember.Status.WAITING)
        .first()
    )
    if member is None or not member.phone_sealed:
        return False
    application = member.application
    if (
        not application.is_active
        or AuditEvent.objects.filter(
            action=COMPANION_INVITED,
            target_type=Application._meta.label_lower,
            target_id=str(application.pk),
            data__nonce=nonce,
        ).exists()
    ):
        return False
    audit_record(
        action=COMPANION_INVITED,
        target=application,
        data={"position": member.position, "nonce": nonce},
    )
    url = absolute(
        reverse(
            "visits:companion",
            args=[application.program.slug, member.pk, companion_token(member)],
        )
    )
    language = "zh-hans" if application.language.startswith("zh") else "en"
    with translation.override(language):
        deadline = application.program.applications_close_at
        body = _(
            "%(program)s: %(lead)s named you as a companion in their party. If you agree to come, "
            "confirm by %(deadline)s; if not, decline: %(url)s"
        ) % {
            "program": application.program.title,
            "lead": application.members.get(position=0).name,
            "deadline": deadline.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M")
            if deadline
            else "",
            "url": url,
        }
    phone = unseal(member.phone_sealed)
    limit, window = INVITES_PER_DESTINATION
    if not hit("visits-invite-to", phone, limit=limit, window_seconds=window).allowed:
        return False
    send_sms(phone, body)
    return True


CANCEL_NOTIFIED = "offer_cancel_notified"


@transaction.atomic
def cancelled_notice(offer_id: int) -> bool:
    """Tell the party, once, its session is cancelled and its tickets void."""
    offer = _first_notice(offer_id, Offer.Status.CANCELLED, CANCEL_NOTIFIED)
    if offer is None:
        return False
    application = offer.application

    def compose() -> tuple[str, str]:
        subject = _("%(program)s: your visit is cancelled") % {"program": application.program.title}
        body = _(
            "%(program)s: we are sorry, the visit on %(when)s is cancelled and its tickets are no longer valid: %(url)s"
        ) % {
            "program": application.program.title,
            "when": _place(offer),
            "url": private_url(application),
        }
        return subject, body

    _tell(application, compose)
    return True


FEEDBACK_INVITED = "visit_feedback_invite"


def _invite_message(application: Application, tickets: list[Ticket]) -> tuple[str, str]:
    from headon.visits.services.feedback import feedback_url

    language = "zh-hans" if application.language.startswith("zh") else "en"
    with translation.override(language):
        program = application.program.title
        subject = _("%(program)s: how was your visit?") % {"program": program}
        lines = [
            _("%(program)s: thank you for coming. Tell us how it went, one link per visitor:")
            % {"program": program}
        ]
        lines += [f"{ticket.member.name}: {feedback_url(ticket)}" for ticket in tickets]
    return subject, "\n".join(lines)


def feedback_invites(session_id: int) -> int:
    """After a session: one message per party that came, with each checked-in
    visitor's feedback link. An audit row per application marks it invited,
    written in the transaction that sends, so a rerun skips the party (an SMS
    gateway that fails after sending is the one case that sends twice)."""
    tickets = (
        Ticket.objects.filter(
            session_id=session_id, checked_in_at__isnull=False, void_at__isnull=True
        )
        .select_related("offer__application__program", "member")
        .order_by("offer__application_id", "member__position")
    )
    sent = 0
    for application_id, group in groupby(tickets, key=lambda t: t.offer.application_id):
        party = list(group)
        application = party[0].offer.application
        with transaction.atomic():
            # The row lock makes a second worker wait, then see the audit row.
            Application.objects.select_for_update().filter(pk=application_id).get()
            if AuditEvent.objects.filter(
                action=FEEDBACK_INVITED,
                target_type=Application._meta.label_lower,
                target_id=str(application_id),
            ).exists():
                continue
            audit_record(
                action=FEEDBACK_INVITED,
                target=application,
                data={"session": session_id, "tickets": [t.pk for t in party]},
            )
            _send(application, *_invite_message(application, party))
        sent += 1
    return sent
