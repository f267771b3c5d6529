"""Background jobs of the visit program. They take ids and call a
service; each can run twice and do its effect once (or harmlessly again)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task

from headon.desk.formats import absolute
from headon.mail import send_email
from headon.sms import send_sms
from headon.visits.models import Application, Offer, Program
from headon.visits.services import offers


def private_url(application: Application) -> str:
    from headon.visits.services.applications import access_token

    return absolute(
        reverse(
            "visits:application",
            args=[application.program.slug, application.reference, access_token(application)],
        )
    )


def _send(application: Application, subject: str, body: str) -> None:
    if application.contact_kind == Application.ContactKind.PHONE:
        send_sms(application.contact, body)
    else:
        send_email.enqueue(to=application.contact, subject=subject, body=body)


@task()
def notify_offer(offer_id: int) -> bool:
    """Tell the party it has a place and until when to confirm."""
    offer = Offer.objects.select_related("application__program", "session").get(pk=offer_id)
    if offer.status != Offer.Status.OFFERED:
        return False
    application = offer.application
    language = "zh-hans" if application.language.startswith("zh") else "en"
    with translation.override(language):
        subject = _("%(program)s: you have a place") % {"program": application.program.title}
        body = _(
            "%(program)s: a place for your party of %(n)s on %(when)s. Confirm by %(deadline)s: %(url)s"
        ) % {
            "program": application.program.title,
            "n": offer.seats,
            "when": offer.session.label,
            "deadline": offer.deadline.strftime("%Y-%m-%d %H:%M UTC"),
            "url": private_url(application),
        }
    _send(application, subject, body)
    return True


@task()
def notify_offers(program_id: int) -> int:
    """After the draw: one message per offer (the waitlisted hear it too)."""
    sent = 0
    for offer_id in Offer.objects.filter(
        session__program_id=program_id, status=Offer.Status.OFFERED, source=Offer.Source.DRAW
    ).values_list("pk", flat=True):
        notify_offer.enqueue(offer_id)
        sent += 1
    return sent


@task()
def promote_program(program_id: int) -> int:
    return len(offers.promote(Program.objects.get(pk=program_id)))


@task()
def lapse_offers() -> int:
    return offers.offers_lapse()
