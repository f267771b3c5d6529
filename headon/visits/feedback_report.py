"""Reads for the coordinator's feedback page: every answer visitors gave,
per session, with the averages of both ratings, and where each visitor's
question went in the desk (the ask `feedback:<ticket>` and its question)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db.models import Avg, Count, Q
from django.utils.translation import gettext as _

from headon.desk.models import Ask, Channel
from headon.timezones import organiser_tz
from headon.visits.models import Feedback, Program, Session
from headon.visits.reports import spreadsheet_safe


@dataclass(frozen=True)
class SessionFeedback:
    session: Session
    answers: int
    overall: float | None
    guide: float | None
    guide_answers: int


@dataclass(frozen=True)
class FeedbackLine:
    feedback: Feedback
    question_id: int | None  # the desk question the visitor's question is under


def session_summaries(program: Program) -> list[SessionFeedback]:
    """Each session with feedback: how many answered, the average overall
    and guide ratings (the guide is optional: its own count). One query."""
    rows = {
        row["session"]: row
        for row in Feedback.objects.filter(session__program=program)
        .values("session")
        .annotate(
            n=Count("id"),
            overall=Avg("rating"),
            guide=Avg("rating_guide"),
            guided=Count("id", filter=Q(rating_guide__isnull=False)),
        )
    }
    return [
        SessionFeedback(
            s, rows[s.pk]["n"], rows[s.pk]["overall"], rows[s.pk]["guide"], rows[s.pk]["guided"]
        )
        for s in program.sessions.filter(pk__in=rows).order_by("starts_at")
    ]


def feedback_lines(program: Program, session_id: int | None = None) -> list[FeedbackLine]:
    """Every feedback of the program (or one session), newest first, with
    the desk question its visitor's question sits under. Two queries."""
    rows = list(
        Feedback.objects.filter(session__program=program)
        .filter(Q(session_id=session_id) if session_id else Q())
        .select_related("session")
        .order_by("session__starts_at", "-created_at", "-id")
    )
    asked = [f"feedback:{f.ticket_id}" for f in rows if f.question]
    questions = dict(
        Ask.objects.filter(channel__kind=Channel.Kind.FEEDBACK, external_id__in=asked).values_list(
            "external_id", "question_id"
        )
    )
    return [FeedbackLine(f, questions.get(f"feedback:{f.ticket_id}")) for f in rows]


def feedback_csv(lines: list[FeedbackLine]) -> str:
    """A BOM, a heading row, one row per feedback; formulas neutralised."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Session"),
            _("Session (English)"),
            _("Session (Chinese)"),
            _("Submitted at"),
            _("Overall"),
            _("The guide"),
            _("Language"),
            _("Comments"),
            _("Question"),
            _("Desk question"),
        ]
    )
    for line in lines:
        f = line.feedback
        writer.writerow(
            [
                spreadsheet_safe(cell)
                for cell in (
                    f.session.starts_at.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M"),
                    f.session.full_label_in("en"),
                    f.session.full_label_in("zh-hans"),
                    f.created_at.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M"),
                    f.rating,
                    f.rating_guide if f.rating_guide is not None else "",
                    f.language,
                    f.comment,
                    f.question,
                    line.question_id or "",
                )
            ]
        )
    return out.getvalue()
