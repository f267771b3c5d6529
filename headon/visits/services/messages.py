"""A coordinator's message to a group of parties: a session's confirmed
visitors, the waitlist, or those not selected.

Written once in both languages; each party reads it in its own, with the
placeholders filled in and its private link added by the worker. The job
gets the message's id only: no address, no link, no text in the job table.
The recipients are fixed when the message is written, so the number the
preview showed is the number sent to; each party gets it once (an audit
row per party, written in the transaction that sends, as the notices do).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headon.accounts.models import AuditEvent, User
from headon.accounts.services import audit_record
from headon.visits import later
from headon.visits.models import Application, Message, Offer, Program, Session, WaitlistEntry
from headon.visits.services.notices import _send, private_url

SENT = "party_message_sent"
PLACEHOLDERS = ("{program}", "{reference}", "{session}")


class MessageError(ValueError):
    pass


@dataclass(frozen=True)
class Draft:
    audience: str
    session: Session | None
    subject_en: str
    subject_zh: str
    body_en: str
    body_zh: str


def audience(program: Program, kind: str, session: Session | None) -> QuerySet[Application]:
    """The parties a message to `kind` reaches now."""
    active = Application.objects.filter(program=program, status=Application.Status.SUBMITTED)
    if kind == Message.Audience.CONFIRMED:
        if session is None:
            raise MessageError(_("Choose the session whose visitors to write to."))
        return active.filter(offer__session=session, offer__status=Offer.Status.CONFIRMED)
    if kind == Message.Audience.WAITLIST:
        return active.filter(waitlist__status=WaitlistEntry.Status.WAITING).order_by(
            "waitlist__position"
        )
    if kind == Message.Audience.NOT_SELECTED:
        # After the draw: no place and no longer waiting (visitors.py's rule).
        return active.filter(program__draw__stage="done", offer__isnull=True).exclude(
            waitlist__status=WaitlistEntry.Status.WAITING
        )
    raise MessageError(_("Choose who the message is for."))


def _fill(text: str, application: Application, session: Session | None) -> str:
    """The placeholders, replaced literally: a coordinator's braces are text."""
    offer = getattr(application, "offer", None)
    when = (offer.session if offer is not None else session) or None
    values = {
        "{program}": application.program.title,
        "{reference}": application.reference,
        "{session}": when.full_label if when is not None else "",
    }
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def render(
    draft: Draft | Message, application: Application, *, link: bool = True
) -> tuple[str, str]:
    """(subject, body) as this party reads it, in its language."""
    chinese = application.language.startswith("zh")
    with translation.override("zh-hans" if chinese else "en"):
        subject = draft.subject_zh if chinese else draft.subject_en
        body = draft.body_zh if chinese else draft.body_en
        body = _fill(body, application, draft.session)
        if link:
            body += "\n" + _("Your application: %(url)s") % {"url": private_url(application)}
        return _fill(subject, application, draft.session), body


@transaction.atomic
def message_create(*, program: Program, draft: Draft, actor: User) -> Message:
    """Fix the recipients, log the message, and hand it to the worker."""
    recipients = list(audience(program, draft.audience, draft.session).values_list("pk", flat=True))
    if not recipients:
        raise MessageError(_("Nobody would receive this message."))
    message = Message.objects.create(
        program=program,
        audience=draft.audience,
        session=draft.session if draft.audience == Message.Audience.CONFIRMED else None,
        subject_en=draft.subject_en,
        subject_zh=draft.subject_zh,
        body_en=draft.body_en,
        body_zh=draft.body_zh,
        recipients=recipients,
        created_by=actor,
    )
    audit_record(
        action="party_message_create",
        actor=actor,
        target=message,
        data={"audience": draft.audience, "recipients": len(recipients)},
    )
    later.send_message(message.pk)
    return message


def message_send(message_id: int) -> int:
    """Send the message to each recipient that has not had it; a rerun
    after a killed worker sends the rest. Returns how many were sent now."""
    message = Message.objects.select_related("program", "session").get(pk=message_id)
    sent = 0
    for application_id in message.recipients:
        with transaction.atomic():
            application = (
                Application.objects.select_for_update()
                .select_related("program")
                .filter(pk=application_id, status=Application.Status.SUBMITTED)
                .first()
            )
            if (
                application is None
                or AuditEvent.objects.filter(
                    action=SENT,
                    target_type=Application._meta.label_lower,
                    target_id=str(application_id),
                    data__message=message.pk,
                ).exists()
            ):
                continue
            audit_record(action=SENT, target=application, data={"message": message.pk})
            _send(application, *render(message, application))
        sent += 1
    Message.objects.filter(pk=message.pk).update(
        sent=AuditEvent.objects.filter(action=SENT, data__message=message.pk).count(),
        finished_at=timezone.now(),
    )
    return sent
