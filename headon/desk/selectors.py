from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Sum, Window
from django.db.models.functions import ExtractHour, RowNumber

from headon.desk.models import Ask, Channel, ImportRun, LearnedTransform, Question, TriageAction
from headon.desk.ranking import QuestionDay, Ranked, Weights, rank
from headon.desk.spam import list_title
from headon.timezones import organiser_now, organiser_tz


def active_channels() -> QuerySet[Channel]:
    return Channel.objects.filter(is_active=True).order_by("name")


@dataclass(frozen=True)
class DayQuestion:
    question: Question
    ranked: Ranked
    samples: list[Ask]


@dataclass(frozen=True)
class DayOverview:
    day: dt.date
    asks: int
    unassigned: int
    questions: list[DayQuestion]
    distinct: int = 0  # all the day's questions; `questions` may be one page of them
    offset: int = 0  # the rank of the first one shown, less one
    to_review: int = 0  # suggested placements waiting in the review queue


def _hours_so_far(day: dt.date) -> int:
    now = organiser_now()
    if day < now.date():
        return 24
    return now.hour + 1 if day == now.date() else 0


def listed_asks() -> QuerySet[Ask]:
    """Asks that may appear on the lists: neither they nor their question
    set aside (an ask with no question yet is listed)."""
    return Ask.objects.filter(set_aside="").exclude(question__set_aside__gt="")


def set_aside_asks() -> QuerySet[Ask]:
    """Asks off the lists: set aside themselves or through their question."""
    return Ask.objects.filter(Q(set_aside__gt="") | Q(question__set_aside__gt=""))


def set_aside_counts(day: dt.date) -> dict[str, int]:
    """The day's set-aside asks by reason (SetAside values), for the
    ledger: an ask set aside through its question counts under the
    question's reason when it has none of its own."""
    counts: dict[str, int] = {}
    for own, through in (
        set_aside_asks().filter(day=day).values_list("set_aside", "question__set_aside")
    ):
        reason = own or through
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def public_titles(questions: Iterable[Question]) -> dict[int, str]:
    """What the public lists print for each question: the title a person
    approved, else its text tidied (spam.list_title), else the tidied text
    of its most liked listed ask that is not likely spam (one query for
    all the questions that need it), else "" (awaiting review)."""
    titles: dict[int, str] = {}
    missing: list[int] = []
    for question in questions:
        titles[question.pk] = question.title or list_title(question.text)
        if not titles[question.pk]:
            missing.append(question.pk)
    if missing:
        for question_id, text in (
            listed_asks()
            .filter(question_id__in=missing)
            .order_by("question_id", "-likes", "id")
            .values_list("question_id", "text")[: 20 * len(missing)]
        ):
            if not titles[question_id]:
                titles[question_id] = list_title(text)
    return titles


def day_overview(
    day: dt.date,
    *,
    limit: int | None = 50,
    offset: int = 0,
    samples: int = 3,
    listed: bool | None = None,
) -> DayOverview:
    """The day as distinct questions, best first. Five queries whatever the
    number of asks: totals, per-question figures, per-hour counts, the
    questions shown, and a few asks of each (a window function).
    `listed`: True for what the lists show (nothing set aside), False for
    only what is set aside, None for everything."""
    asks = Ask.objects.filter(day=day)
    if listed is not None:
        asks = asks & (listed_asks() if listed else set_aside_asks())
    totals = asks.aggregate(
        asks=Count("id"),
        unassigned=Count("id", filter=Q(question__isnull=True)),
        # A suggestion moves a question's asks together: one decision each.
        to_review=Count("question", distinct=True, filter=Q(suggested__isnull=False, set_aside="")),
    )
    placed = asks.filter(question__isnull=False)
    figures = placed.values("question").annotate(
        n=Count("id"),
        named=Count("author_key", distinct=True, filter=~Q(author_key="")),
        anonymous=Count("id", filter=Q(author_key="")),
        channels=Count("channel", distinct=True),
        likes=Sum("likes"),
        replies=Sum("replies"),
        shares=Sum("shares"),
    )
    hours = max(_hours_so_far(day), 1)
    hourly: dict[int, list[int]] = {}
    for row in (
        placed.annotate(hour=ExtractHour("posted_at", tzinfo=organiser_tz()))
        .values("question", "hour")
        .annotate(n=Count("id"))
    ):
        if row["hour"] < hours:
            hourly.setdefault(row["question"], [0] * hours)[row["hour"]] += row["n"]
    rows = list(figures)
    rumours = set(
        Question.objects.filter(pk__in=[r["question"] for r in rows], is_rumour=True).values_list(
            "pk", flat=True
        )
    )
    ranked = rank(
        (
            QuestionDay(
                question_id=r["question"],
                people=r["named"] + r["anonymous"],
                asks=r["n"],
                channels=r["channels"],
                likes=r["likes"] or 0,
                replies=r["replies"] or 0,
                shares=r["shares"] or 0,
                hourly=hourly.get(r["question"], [0] * hours),
                is_rumour=r["question"] in rumours,
            )
            for r in rows
        ),
        Weights.from_mapping(settings.HEADON_RANK_WEIGHTS),
    )
    distinct = len(ranked)
    ranked = ranked[offset:] if limit is None else ranked[offset : offset + limit]
    shown = [r.question_id for r in ranked]
    questions = Question.objects.in_bulk(shown)
    sampled: dict[int, list[Ask]] = {}
    window = Window(
        RowNumber(), partition_by=[F("question_id")], order_by=[F("likes").desc(), F("id").asc()]
    )
    for ask in (
        ()
        if not samples
        else (
            placed.filter(question_id__in=shown)
            .annotate(row=window)
            .filter(row__lte=samples)
            .select_related("channel")
        )
    ):
        sampled.setdefault(ask.question_id, []).append(ask)  # type: ignore[arg-type]
    return DayOverview(
        day=day,
        asks=totals["asks"],
        unassigned=totals["unassigned"],
        questions=[
            DayQuestion(questions[r.question_id], r, sampled.get(r.question_id, [])) for r in ranked
        ],
        distinct=distinct,
        offset=offset,
        to_review=totals["to_review"],
    )


@dataclass(frozen=True)
class ReviewItem:
    """One suggested placement: the asks of one question (a single ask when
    it arrived on its own) that the engine would move into another."""

    source: Question
    ask_ids: list[int]
    samples: list[Ask]
    score: float | None


@dataclass(frozen=True)
class ReviewGroup:
    """The suggested placements into one question, waiting for a person."""

    question: Question
    items: list[ReviewItem]


REVIEW_LIMIT = 100  # suggestions on one page of the queue; deciding them brings the next


@dataclass(frozen=True)
class ReviewQueue:
    groups: list[ReviewGroup]
    suggestions: int  # waiting in all (a page shows up to REVIEW_LIMIT)
    asks: int  # the asks they would move


def review_queue(day: dt.date, *, limit: int = REVIEW_LIMIT) -> ReviewQueue:
    """The day's suggested placements, the surest first, grouped by the
    question suggested, and how many wait in all. Six queries: two counts,
    the placements, their asks' ids, a few asks of each, the questions."""
    waiting = Ask.objects.filter(day=day, suggested__isnull=False, set_aside="")
    asks = waiting.count()
    suggestions = waiting.values("question", "suggested").distinct().count()
    placements = list(
        waiting.values("suggested", "question")
        .annotate(score=Max("suggested_score"))
        .order_by(F("score").desc(nulls_last=True), "question")[:limit]
    )
    sources = {p["question"] for p in placements}
    ids: dict[tuple[int, int], list[int]] = {}
    for pk, question_id, suggested_id in (
        waiting.filter(question__in=sources)
        .order_by("pk")
        .values_list("pk", "question", "suggested")
    ):
        ids.setdefault((question_id, suggested_id), []).append(pk)
    window = Window(
        RowNumber(),
        partition_by=[F("question_id"), F("suggested_id")],
        order_by=[F("likes").desc(), F("id").asc()],
    )
    samples: dict[tuple[int, int], list[Ask]] = {}
    for ask in (
        waiting.filter(question__in=sources).annotate(row=window).filter(row__lte=3)
    ).select_related("channel"):
        key = (ask.question_id, ask.suggested_id)
        samples.setdefault(key, []).append(ask)  # type: ignore[arg-type]
    questions = Question.objects.in_bulk(sources | {p["suggested"] for p in placements})
    groups: dict[int, ReviewGroup] = {}
    for p in placements:
        key = (p["question"], p["suggested"])
        group = groups.setdefault(p["suggested"], ReviewGroup(questions[p["suggested"]], []))
        group.items.append(
            ReviewItem(questions[p["question"]], ids.get(key, []), samples.get(key, []), p["score"])
        )
    return ReviewQueue(list(groups.values()), suggestions, asks)


def learned_transform() -> LearnedTransform | None:
    """The transform the engine learned last, without its bytes."""
    return LearnedTransform.objects.defer("data").order_by("-fitted_at", "-id").first()


def recent_imports(limit: int = 10) -> QuerySet[ImportRun]:
    return ImportRun.objects.select_related("channel").order_by("-started_at")[:limit]


def recent_actions(limit: int = 30) -> QuerySet[TriageAction]:
    return TriageAction.objects.select_related("actor").order_by("-at")[:limit]


def links_to_confirm() -> QuerySet[Question]:
    """Links proposed by one person, waiting for a second, oldest first:
    the approver's queue and the digest's pre-publish list."""
    return (
        Question.objects.filter(proposed_answer__isnull=False, merged_into__isnull=True)
        .select_related("proposed_answer", "proposed_by")
        .order_by("proposed_at", "pk")
    )
