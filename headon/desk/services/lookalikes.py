"""The stored "Already answered?" list of a day, and asking for it again.

The list is worked out by the worker (`answered.answered_check`): it needs
the sentence model, which takes up to a minute to load and to encode the
published side in a cold process. The digest page and the publish message
read what was stored here, and never load the model. This module stays
light on purpose: the merge, link and publish services ask for a check
through it without importing the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from headon.desk import later
from headon.desk.models import AnsweredCheck, AnsweredLookalike, Ask, LinkRefusal
from headon.timezones import organiser_tz

# A check queued this long ago and still not started is taken for lost (its
# job failed, or the queue was cleared): a new request queues another.
LOST_AFTER = AnsweredCheck.LOST_AFTER


def check_requested(day: dt.date, *, now: dt.datetime | None = None) -> bool:
    """Queue a check of `day` unless one is waiting already; True if queued.

    The conditional UPDATE is the guard: of two requests at once (two
    clicks, a merge and a publish), only the one that finds `queued_at`
    empty changes the row and queues the job; the other matches nothing.
    The job clears `queued_at` when it starts, so a change made while it
    runs (which it may not have read) queues the next one."""
    at = now or timezone.now()
    with transaction.atomic():
        AnsweredCheck.objects.get_or_create(day=day)
        waiting = Q(queued_at__isnull=True) | Q(queued_at__lt=at - LOST_AFTER)
        if not AnsweredCheck.objects.filter(waiting, day=day).update(queued_at=at):
            return False
        later.check_answered(day.isoformat())
    return True


def questions_changed(question_ids: Iterable[int]) -> None:
    """The questions' asks changed (a merge, a split, a move, a suggestion
    accepted), so their wordings did: the checked days they are asked on
    are checked again. A day never checked is left to its first view."""
    days = AnsweredCheck.objects.filter(
        day__in=Ask.objects.filter(question__in=list(question_ids)).values("day")
    ).values_list("day", flat=True)
    for day in days:
        check_requested(day)


def questions_reopened(question_ids: Iterable[int]) -> None:
    """A link was refused or undone, or a question put back from the set
    aside: it may look answered again, so the checked days it was asked on
    are checked again. (A link or a set-aside only takes a question off
    the list, and the page leaves such rows out without a new check.)"""
    questions_changed(question_ids)


def published_outside_digest(at: dt.datetime) -> None:
    """An answer was published, or corrected, on its own page (not with a
    digest, which asks for its own checks): the published side every list
    is worked out against changed. Today's list is checked again, and
    yesterday's (its digest may still be to come after midnight), each
    only if it was checked: a day never checked is left to its first view,
    and older days to the page's button."""
    today = at.astimezone(organiser_tz()).date()
    days = AnsweredCheck.objects.filter(day__in=[today - dt.timedelta(days=1), today])
    for day in days.values_list("day", flat=True):
        check_requested(day)


@dataclass(frozen=True)
class Stored:
    """A day's stored list, as the digest page shows it. `check` is None
    when the day was never checked."""

    check: AnsweredCheck | None
    rows: list[AnsweredLookalike]


def stored(day: dt.date) -> Stored:
    """The day's stored list, without the questions linked (or proposed
    for a link), set aside or answered since it was worked out, nor a
    pair a person refused since. Two queries."""
    check = AnsweredCheck.objects.filter(day=day).first()
    refused = LinkRefusal.objects.filter(question=OuterRef("question"), answer=OuterRef("answer"))
    rows = list(
        AnsweredLookalike.objects.filter(
            ~Exists(refused),
            day=day,
            question__answer__isnull=True,
            question__proposed_answer__isnull=True,
            question__set_aside="",
            question__merged_into__isnull=True,
        )
        .select_related("question", "answer")
        .order_by("-score", "question_id")
    )
    # A question flagged a rumour since links to a clarification only.
    rows = [r for r in rows if not r.question.is_rumour or r.answer.is_clarification]
    return Stored(check, rows)
