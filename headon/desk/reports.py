"""The staff dashboard's figures and charts: asks per day and channel,
distinct questions, coverage, time to answer, rising questions."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Min
from django.utils.formats import number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from headon import charts
from headon.desk.digest.services import coverage
from headon.desk.models import Ask, DigestRevision, Question
from headon.desk.selectors import day_overview
from headon.punctuation import chart_wording
from headon.timezones import day_bounds, organiser_today, organiser_tz


def _count(value: float) -> str:
    return number_format(round(value), force_grouping=True)


def _safe(svg: str) -> SafeString:
    return mark_safe(svg)  # noqa: S308 - charts escapes every label it draws  # nosec B308 B703


def trend_sparkline(question_pk: int, hourly: Sequence[int]) -> SafeString:
    """A question's asks per hour through the day, as a small inline chart."""
    return _safe(
        charts.sparkline(
            list(hourly),
            title=_("Asks per hour"),
            id_prefix=f"spark{question_pk}",
            wording=chart_wording(),
        )
    )


def dashboard(days: int = 30, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the dashboard shows. Ten queries whatever the volume."""
    last = today or organiser_today()
    first = last - dt.timedelta(days=days - 1)
    dates = [first + dt.timedelta(days=n) for n in range(days)]
    labels = [d.strftime("%m-%d") for d in dates]
    index = {d: n for n, d in enumerate(dates)}

    per_channel: dict[str, list[float | None]] = defaultdict(lambda: [0.0] * days)
    for day, channel, n in (
        Ask.objects.filter(day__gte=first, day__lte=last)
        .values_list("day", "channel__name")
        .annotate(n=Count("id"))
    ):
        per_channel[channel][index[day]] = n
    questions = [0.0] * days
    for day, n in (
        Ask.objects.filter(day__gte=first, day__lte=last, question__isnull=False)
        .values_list("day")
        .annotate(n=Count("question", distinct=True))
    ):
        questions[index[day]] = n

    # Coverage by the cut-off, as each digest published it; today as it stands.
    shares: list[float | None] = [None] * days
    for revision in DigestRevision.objects.filter(
        digest__date__gte=first, digest__date__lte=last, number=1
    ).select_related("digest"):
        shares[index[revision.digest.date]] = 100 * revision.snapshot["coverage"]["share"]
    now = coverage(last)
    if now.asks:
        shares[-1] = 100 * now.share

    # Hours from a question's first ask to its answer, by the day it was covered.
    start, _end = day_bounds(first)
    waits: dict[dt.date, list[float]] = defaultdict(list)
    for covered_at, first_ask in (
        Question.objects.filter(covered_at__gte=start)
        .annotate(first_ask=Min("asks__posted_at"))
        .values_list("covered_at", "first_ask")
    ):
        if first_ask is not None and covered_at is not None:
            day = covered_at.astimezone(organiser_tz()).date()
            waits[day].append(max((covered_at - first_ask).total_seconds() / 3600, 0.0))
    medians: list[float | None] = [
        statistics.median(waits[d]) if waits.get(d) else None for d in dates
    ]

    overview = day_overview(last, limit=200, samples=0)
    rising = sorted(
        (q for q in overview.questions if q.ranked.rising_since is not None),
        key=lambda q: -q.ranked.growth,
    )[:8]
    wording = chart_wording()
    return {
        "today": last,
        "coverage_now": now,
        "asks_chart": _safe(
            charts.bar_chart(
                labels,
                [charts.Series(name, values) for name, values in sorted(per_channel.items())],
                title=_("Asks per day, by channel"),
                value_format=_count,
                wording=wording,
                id_prefix="asks",
            )
        ),
        "questions_chart": _safe(
            charts.line_chart(
                labels,
                [charts.Series(_("Distinct questions"), questions)],
                title=_("Distinct questions per day"),
                value_format=_count,
                wording=wording,
                id_prefix="questions",
            )
        ),
        "coverage_chart": _safe(
            charts.line_chart(
                labels,
                [charts.Series(_("Coverage by the cut-off"), shares, colour_index=2)],
                title=_("Coverage by the cut-off (%)"),
                y_min=0,
                y_max=100,
                value_format=lambda v: f"{v:.0f}%",
                wording=wording,
                id_prefix="coverage",
            )
        ),
        "wait_chart": _safe(
            charts.line_chart(
                labels,
                [charts.Series(_("Median hours"), medians, colour_index=4)],
                title=_("Hours from first ask to answer (median)"),
                value_format=lambda v: f"{v:.1f}",
                wording=wording,
                id_prefix="wait",
            )
        ),
        "rising_chart": _safe(
            charts.horizontal_bar_chart(
                [q.question.text for q in rising],
                [q.ranked.figures.asks for q in rising],
                title=_("Rising questions today (asks)"),
                value_format=_count,
                wording=wording,
                id_prefix="rising",
            )
        ),
        "rising": [
            {
                "question": q.question,
                "growth": q.ranked.growth,
                "since": q.ranked.rising_since,
                "sparkline": trend_sparkline(q.question.pk, q.ranked.figures.hourly),
            }
            for q in rising
        ],
    }
