"""The coordinator's report on a program: demand, offers, fill, no-shows and
satisfaction per session, with program totals, charts and a CSV export.

Five queries whatever the number of applications: the sessions, then one
grouped aggregate each over choices, offers, tickets and feedback.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from headon import charts
from headon.punctuation import chart_wording
from headon.timezones import organiser_tz
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Feedback,
    Offer,
    Program,
    Session,
    Ticket,
)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """One row of the report: a session's figures, or the program's totals."""

    capacity: int = 0
    first_choice_demand: int = 0  # people whose party put the session first
    all_choice_demand: int = 0  # people whose party ranked it at all
    offers_draw: int = 0
    offers_waitlist: int = 0
    confirmed: int = 0  # offers
    declined: int = 0
    lapsed: int = 0
    seats_taken: int = 0  # seats of confirmed offers
    tickets: int = 0
    checked_in: int = 0
    no_shows: int = 0
    feedback: int = 0
    rating_sum: int = 0

    @property
    def offers(self) -> int:
        return self.offers_draw + self.offers_waitlist

    @property
    def oversubscription(self) -> float | None:
        return _ratio(self.first_choice_demand, self.capacity)

    @property
    def fill_rate(self) -> float | None:
        return _ratio(self.seats_taken, self.capacity)

    @property
    def mean_rating(self) -> float | None:
        return _ratio(self.rating_sum, self.feedback)

    def add(self, other: Figures) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclass
class SessionRow:
    session: Session
    figures: Figures
    past: bool

    @property
    def label(self) -> str:
        return session_name(self.session)


@dataclass
class ProgramReport:
    program: Program
    rows: list[SessionRow]
    totals: Figures


def session_name(session: Session) -> str:
    start = session.starts_at.astimezone(organiser_tz())
    text = f"{date_format(start, 'SHORT_DATE_FORMAT')} {start:%H:%M}"
    return f"{text} · {session.label}" if session.label else text


def _add_demand(program: Program, figures: dict[int, Figures]) -> None:
    active = Q(application__status=Application.Status.SUBMITTED)
    for row in (
        ApplicationChoice.objects.filter(active, session__program=program)
        .values("session")
        .annotate(
            first=Sum("application__party_size", filter=Q(rank=1)),
            all=Sum("application__party_size"),
        )
    ):
        f = figures[row["session"]]
        f.first_choice_demand, f.all_choice_demand = row["first"] or 0, row["all"] or 0


def _add_offers(program: Program, figures: dict[int, Figures]) -> None:
    confirmed = Q(status=Offer.Status.CONFIRMED)
    for row in (
        Offer.objects.filter(session__program=program)
        .values("session")
        .annotate(
            draw=Count("id", filter=Q(source=Offer.Source.DRAW)),
            waitlist=Count("id", filter=Q(source=Offer.Source.WAITLIST)),
            confirmed=Count("id", filter=confirmed),
            declined=Count("id", filter=Q(status=Offer.Status.DECLINED)),
            lapsed=Count("id", filter=Q(status=Offer.Status.LAPSED)),
            seats=Sum("seats", filter=confirmed),
        )
    ):
        f = figures[row["session"]]
        f.offers_draw, f.offers_waitlist = row["draw"], row["waitlist"]
        f.confirmed, f.declined, f.lapsed = row["confirmed"], row["declined"], row["lapsed"]
        f.seats_taken = row["seats"] or 0


def _add_tickets(program: Program, figures: dict[int, Figures], now: dt.datetime) -> None:
    # A voided ticket, or one of an offer no longer confirmed, is nobody's seat.
    valid = Q(void_at__isnull=True, offer__status=Offer.Status.CONFIRMED)
    for row in (
        Ticket.objects.filter(valid, session__program=program)
        .values("session")
        .annotate(
            tickets=Count("id"),
            checked_in=Count("id", filter=Q(checked_in_at__isnull=False)),
            absent=Count("id", filter=Q(checked_in_at__isnull=True, session__ends_at__lt=now)),
        )
    ):
        f = figures[row["session"]]
        f.tickets, f.checked_in, f.no_shows = row["tickets"], row["checked_in"], row["absent"]


def _add_feedback(program: Program, figures: dict[int, Figures]) -> None:
    for row in (
        Feedback.objects.filter(session__program=program)
        .values("session")
        .annotate(n=Count("id"), total=Sum("rating"))
    ):
        f = figures[row["session"]]
        f.feedback, f.rating_sum = row["n"], row["total"] or 0


def program_report(program: Program, now: dt.datetime | None = None) -> ProgramReport:
    """Every figure of the report, in five queries (see the module docstring).
    No-shows count only sessions that have ended; totals leave out the
    capacity of cancelled sessions, which nobody could fill."""
    now = now or timezone.now()
    sessions = list(program.sessions.order_by("starts_at"))
    figures: dict[int, Figures] = defaultdict(Figures)
    _add_demand(program, figures)
    _add_offers(program, figures)
    _add_tickets(program, figures, now)
    _add_feedback(program, figures)
    rows, totals = [], Figures()
    for session in sessions:
        f = figures[session.pk]
        f.capacity = session.capacity
        rows.append(SessionRow(session, f, past=session.ends_at < now))
        totals.add(f)
        if not session.is_open:
            totals.capacity -= session.capacity
    return ProgramReport(program, rows, totals)


# -- the page's charts ----------------------------------------------------------


def _safe(svg: str) -> SafeString:
    return mark_safe(svg)  # noqa: S308 - charts escapes every label it draws  # nosec B308 B703


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def report_charts(report: ProgramReport) -> dict[str, SafeString]:
    labels = [row.label for row in report.rows]
    figures = [row.figures for row in report.rows]
    wording = chart_wording()

    def percent(values: Iterable[float | None]) -> list[float | None]:
        return [None if v is None else 100 * v for v in values]

    return {
        "demand": _safe(
            charts.bar_chart(
                labels,
                [
                    charts.Series(
                        _("First choice (people)"), [f.first_choice_demand for f in figures]
                    ),
                    charts.Series(_("Seats"), [f.capacity for f in figures], colour_index=2),
                ],
                title=_("Demand and seats per session"),
                stacked=False,
                wording=wording,
                id_prefix="report-demand",
            )
        ),
        "fill": _safe(
            charts.horizontal_bar_chart(
                labels,
                percent(f.fill_rate for f in figures),
                title=_("Fill rate (confirmed seats per seat, %)"),
                value_format=_percent,
                colour_index=2,
                wording=wording,
                id_prefix="report-fill",
                scale_max=100,
            )
        ),
        "no_shows": _safe(
            charts.bar_chart(
                labels,
                [
                    charts.Series(_("Checked in"), [f.checked_in for f in figures], colour_index=2),
                    charts.Series(_("No-shows"), [f.no_shows for f in figures], colour_index=3),
                ],
                title=_("Checked in and no-shows per session"),
                wording=wording,
                id_prefix="report-no-shows",
            )
        ),
        "satisfaction": _safe(
            charts.horizontal_bar_chart(
                labels,
                [f.mean_rating for f in figures],
                title=_("Mean overall rating (1–5)"),
                value_format=lambda v: f"{v:.1f}",
                colour_index=4,
                wording=wording,
                id_prefix="report-satisfaction",
            )
        ),
    }


# -- CSV --------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """The cell's text, with a leading quote if a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _csv_columns() -> list[str]:
    return [
        _("Starts (%(zone)s)") % {"zone": organiser_tz().key},
        _("Session (English)"),
        _("Session (Chinese)"),
        _("Status"),
        _("Seats"),
        _("First-choice demand (people)"),
        _("Any-choice demand (people)"),
        _("First-choice demand per seat"),
        _("Offers from the draw"),
        _("Offers from the waitlist"),
        _("Confirmed"),
        _("Declined"),
        _("Lapsed"),
        _("Seats taken"),
        _("Fill rate"),
        _("Tickets"),
        _("Checked in"),
        _("No-shows"),
        _("Feedback"),
        _("Mean rating"),
    ]


def _csv_cells(f: Figures) -> list[Any]:
    return [
        f.capacity,
        f.first_choice_demand,
        f.all_choice_demand,
        _number(f.oversubscription),
        f.offers_draw,
        f.offers_waitlist,
        f.confirmed,
        f.declined,
        f.lapsed,
        f.seats_taken,
        _number(f.fill_rate),
        f.tickets,
        f.checked_in,
        f.no_shows,
        f.feedback,
        _number(f.mean_rating),
    ]


def report_csv(report: ProgramReport) -> str:
    """The table as CSV text starting with a BOM, so Excel reads the Chinese
    labels as UTF-8. Every cell goes through `spreadsheet_safe`: a session
    label is typed by staff and could be a formula."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(_csv_columns())
    for row in report.rows:
        session = row.session
        start = session.starts_at.astimezone(organiser_tz()).strftime("%Y-%m-%d %H:%M")
        # The session in each language, a column each (weekday, times and
        # label): a spreadsheet filters on one, and the export is passed on.
        both = [session.full_label_in("en"), session.full_label_in("zh-hans")]
        head = [start, *both, session.get_status_display()]
        writer.writerow([spreadsheet_safe(cell) for cell in head + _csv_cells(row.figures)])
    total = [_("Total"), "", "", ""]
    writer.writerow([spreadsheet_safe(cell) for cell in total + _csv_cells(report.totals)])
    return out.getvalue()
