"""Feedback from visitors who came: the private link per ticket, and the
submission, whose question (if any) becomes an ask in the desk.

The link needs no account: its token is an HMAC of the ticket id under the
site's secret key, so it cannot be guessed from the id and needs no column.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from headon.desk.intake.sources import ask_receive
from headon.desk.models import Channel
from headon.links import absolute
from headon.visits.models import Feedback, Ticket

SALT = "headon.visits.feedback"
TOKEN_LENGTH = 24
MAX_TEXT = 2000  # the desk takes asks up to 2,000 characters
CHANNEL_SLUG = "visit-feedback"
CHANNEL_NAME = "Visit feedback · 参观反馈"


class FeedbackError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Submitted:
    feedback: Feedback
    created: bool


def feedback_token(ticket: Ticket) -> str:
    return salted_hmac(SALT, str(ticket.pk)).hexdigest()[:TOKEN_LENGTH]


def feedback_url(ticket: Ticket) -> str:
    """The visitor's private feedback link, absolute (it goes out by SMS or e-mail)."""
    return absolute(reverse("visits:feedback", args=[ticket.pk, feedback_token(ticket)]))


def ticket_for_token(ticket_id: int, token: str) -> Ticket | None:
    """The ticket the link names, or None when the token does not match."""
    ticket = (
        Ticket.objects.select_related("session__program", "member")
        .filter(pk=ticket_id, void_at__isnull=True)
        .first()
    )
    if ticket is None or not constant_time_compare(feedback_token(ticket), token):
        return None
    return ticket


def feedback_channel() -> Channel:
    """The desk channel that visitors' questions arrive through: the first
    active feedback channel, else the demo's slug, created on first use."""
    channel = (
        Channel.objects.filter(kind=Channel.Kind.FEEDBACK, is_active=True).order_by("pk").first()
    )
    if channel is not None:
        return channel
    channel, _created = Channel.objects.get_or_create(
        slug=CHANNEL_SLUG, defaults={"name": CHANNEL_NAME, "kind": Channel.Kind.FEEDBACK}
    )
    return channel


def _check(rating: int, rating_guide: int | None, comment: str, question: str) -> None:
    if not 1 <= rating <= 5:
        raise FeedbackError("rating")
    if rating_guide is not None and not 1 <= rating_guide <= 5:
        raise FeedbackError("rating_guide")
    if len(comment) > MAX_TEXT:
        raise FeedbackError("comment")
    if len(question) > MAX_TEXT or "\x00" in question:
        raise FeedbackError("question")


@transaction.atomic
def feedback_submit(
    *,
    ticket: Ticket,
    rating: int,
    rating_guide: int | None = None,
    comment: str = "",
    question: str = "",
    language: str = "en",
) -> Submitted:
    """Store one visitor's feedback, once per ticket; a second submission
    changes nothing and returns the first. A question becomes one ask in the
    feedback channel, in the same transaction: both are kept or neither."""
    comment, question = comment.strip(), question.strip()
    _check(rating, rating_guide, comment, question)
    if ticket.checked_in_at is None:
        raise FeedbackError("not_visited")
    existing = Feedback.objects.filter(ticket=ticket).first()
    if existing is not None:
        return Submitted(existing, False)
    try:
        # The one-to-one on ticket decides a race between two submissions.
        with transaction.atomic():
            feedback = Feedback.objects.create(
                ticket=ticket,
                session_id=ticket.session_id,
                rating=rating,
                rating_guide=rating_guide,
                comment=comment,
                question=question,
                language=language[:10],
            )
    except IntegrityError:
        return Submitted(Feedback.objects.get(ticket=ticket), False)
    if question:
        # The external id makes a retried delivery find this ask, not add one.
        ask_receive(
            channel=feedback_channel(),
            text=question,
            external_id=f"feedback:{ticket.pk}",
            author=f"visitor:{ticket.pk}",
        )
    return Submitted(feedback, True)
