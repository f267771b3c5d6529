"""The coordinator's report: figures against a hand-counted program, its
query count, the role matrix, hostile labels and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import time_machine
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from headon.testing import PersonasTestCase
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Feedback,
    Offer,
    PartyMember,
    Program,
    Session,
)
from headon.visits.reports import Figures, program_report, spreadsheet_safe
from headon.visits.services.tickets import issue_tickets
from headon.visits.tests.factories import make_program

# After the first two sessions (15 and 22 February), before the third (1 March).
NOW = dt.datetime(2027, 2, 23, 4, 0, tzinfo=dt.UTC)
HOSTILE_LABEL = '<script>alert("x")</script>'
FORMULA_LABEL = "=cmd|' /C calc'!A0"
_references = itertools.count(1)


def make_party(
    program: Program,
    *,
    size: int,
    choices: list[Session],
    offer: tuple[Session, str, str] | None = None,
    checked_in: int = 0,
    status: str = Application.Status.SUBMITTED,
) -> Application:
    """An application built with the ORM; `offer` is (session, status, source).
    A confirmed offer gets its tickets, the first `checked_in` of them used."""
    application = Application.objects.create(
        program=program,
        reference=f"R{next(_references):07d}",
        status=status,
        contact_kind=Application.ContactKind.PHONE,
        contact="+8613800000000",
        party_size=size,
        consented_at=timezone.now(),
    )
    for position in range(size):
        PartyMember.objects.create(
            application=application, position=position, name=f"Visitor {position}"
        )
    for rank, session in enumerate(choices, start=1):
        ApplicationChoice.objects.create(application=application, session=session, rank=rank)
    if offer is not None:
        session, offer_status, source = offer
        made = Offer.objects.create(
            application=application,
            session=session,
            seats=size,
            status=offer_status,
            source=source,
            deadline=timezone.now() + dt.timedelta(days=2),
        )
        if offer_status == Offer.Status.CONFIRMED:
            for ticket in issue_tickets(made)[:checked_in]:
                ticket.checked_in_at = session.starts_at
                ticket.save(update_fields=["checked_in_at"])
    return application


def rate(session: Session, *ratings: int) -> None:
    """Feedback from the session's first checked-in visitors."""
    tickets = session.tickets.filter(checked_in_at__isnull=False).order_by("pk")
    for ticket, rating in zip(tickets, ratings, strict=False):
        Feedback.objects.create(ticket=ticket, session=session, rating=rating)


def build_program() -> tuple[Program, list[Session]]:
    """The program counted by hand in `ReportFiguresTests`."""
    program = make_program(slug="report-days", sessions=3, capacity=10)
    s1, s2, s3 = program.sessions.order_by("starts_at")
    s2.label_en = HOSTILE_LABEL
    s2.save()
    s3.label_en, s3.capacity = FORMULA_LABEL, 8
    s3.save()
    draw, waitlist = Offer.Source.DRAW, Offer.Source.WAITLIST
    confirmed, declined, lapsed = (
        Offer.Status.CONFIRMED,
        Offer.Status.DECLINED,
        Offer.Status.LAPSED,
    )
    make_party(program, size=3, choices=[s1, s2], offer=(s1, confirmed, draw), checked_in=2)
    make_party(program, size=2, choices=[s1], offer=(s1, declined, draw))
    make_party(program, size=4, choices=[s2, s1], offer=(s2, lapsed, draw))
    make_party(program, size=2, choices=[s2], offer=(s2, confirmed, waitlist), checked_in=2)
    make_party(program, size=1, choices=[s3, s1], offer=(s3, confirmed, draw))
    make_party(program, size=5, choices=[s1], status=Application.Status.WITHDRAWN)
    make_party(program, size=2, choices=[s1, s2, s3], offer=(s3, Offer.Status.OFFERED, draw))
    rate(s1, 5, 4)
    rate(s2, 3)
    return program, [s1, s2, s3]


@time_machine.travel(NOW, tick=False)
class ReportFiguresTests(TestCase):
    program: Program
    sessions: list[Session]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program, cls.sessions = build_program()

    def test_each_session_matches_the_hand_count(self) -> None:
        rows = program_report(self.program).rows
        self.assertEqual(
            rows[0].figures,
            Figures(
                capacity=10,
                first_choice_demand=7,  # 3 + 2 + 2; the withdrawn party of 5 does not count
                all_choice_demand=12,
                offers_draw=2,
                confirmed=1,
                declined=1,
                seats_taken=3,
                tickets=3,
                checked_in=2,
                no_shows=1,
                feedback=2,
                rating_sum=9,
            ),
        )
        self.assertEqual(
            rows[1].figures,
            Figures(
                capacity=10,
                first_choice_demand=6,
                all_choice_demand=11,
                offers_draw=1,
                offers_waitlist=1,
                confirmed=1,
                lapsed=1,
                seats_taken=2,
                tickets=2,
                checked_in=2,
                feedback=1,
                rating_sum=3,
            ),
        )
        # The third session is still to come: its unused ticket is no no-show yet.
        self.assertEqual(
            rows[2].figures,
            Figures(
                capacity=8,
                first_choice_demand=1,
                all_choice_demand=3,
                offers_draw=2,
                confirmed=1,
                seats_taken=1,
                tickets=1,
            ),
        )
        self.assertEqual([row.past for row in rows], [True, True, False])

    def test_the_ratios_follow_from_the_counts(self) -> None:
        first, second, third = (row.figures for row in program_report(self.program).rows)
        self.assertAlmostEqual(first.oversubscription or 0, 0.7)
        self.assertAlmostEqual(first.fill_rate or 0, 0.3)
        self.assertAlmostEqual(first.mean_rating or 0, 4.5)
        self.assertAlmostEqual(second.oversubscription or 0, 0.6)
        self.assertAlmostEqual(third.oversubscription or 0, 0.125)
        self.assertAlmostEqual(third.fill_rate or 0, 0.125)
        self.assertIsNone(third.mean_rating)

    def test_the_program_totals_add_the_sessions(self) -> None:
        totals = program_report(self.program).totals
        self.assertEqual(
            (totals.capacity, totals.first_choice_demand, totals.all_choice_demand),
            (28, 14, 26),
        )
        self.assertEqual((totals.offers_draw, totals.offers_waitlist, totals.offers), (5, 1, 6))
        self.assertEqual((totals.confirmed, totals.declined, totals.lapsed), (3, 1, 1))
        self.assertEqual((totals.seats_taken, totals.tickets, totals.checked_in), (6, 6, 4))
        self.assertEqual((totals.no_shows, totals.feedback), (1, 3))
        self.assertAlmostEqual(totals.oversubscription or 0, 0.5)
        self.assertAlmostEqual(totals.fill_rate or 0, 6 / 28)
        self.assertAlmostEqual(totals.mean_rating or 0, 4.0)

    def test_a_cancelled_session_leaves_the_total_capacity(self) -> None:
        Session.objects.filter(pk=self.sessions[2].pk).update(status=Session.Status.CANCELLED)
        report = program_report(self.program)
        self.assertEqual(report.totals.capacity, 20)
        self.assertEqual(report.rows[2].figures.capacity, 8)

    def test_it_takes_five_queries_whatever_the_number_of_applications(self) -> None:
        with self.assertNumQueries(5):
            program_report(self.program)
        _s1, s2, s3 = self.sessions
        for _n in range(20):
            make_party(
                self.program,
                size=2,
                choices=[s2, s3],
                offer=(s2, Offer.Status.CONFIRMED, Offer.Source.WAITLIST),
                checked_in=1,
            )
        with self.assertNumQueries(5):
            report = program_report(self.program)
        self.assertEqual(report.rows[1].figures.checked_in, 22)
        self.assertEqual(report.rows[1].figures.no_shows, 20)


class SpreadsheetSafeTests(TestCase):
    def test_it_quotes_what_a_spreadsheet_would_run(self) -> None:
        for text in ["=1+1", "+1", "-2", "@SUM(A1)", "\t=x"]:
            self.assertEqual(spreadsheet_safe(text), "'" + text)

    def test_it_leaves_plain_text_and_numbers(self) -> None:
        self.assertEqual(spreadsheet_safe("开放日 1+1"), "开放日 1+1")
        self.assertEqual(spreadsheet_safe(12), "12")
        self.assertEqual(spreadsheet_safe(None), "")


@time_machine.travel(NOW, tick=False)
class ReportPageTests(PersonasTestCase):
    program: Program

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program, _sessions = build_program()

    def url(self, name: str = "visits_staff:report") -> str:
        return reverse(name, kwargs={"slug": self.program.slug})

    def test_only_coordinators_open_the_report_and_its_csv(self) -> None:
        for user, expected in [
            (self.erin, 200),
            (self.alice, 200),
            (self.gus, 403),
            (self.bob, 403),
            (self.oscar, 403),
        ]:
            self.client.force_login(user)
            for name in ["visits_staff:report", "visits_staff:report_csv"]:
                with self.subTest(user=user.username, page=name):
                    self.assertEqual(self.client.get(self.url(name)).status_code, expected)

    def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(self) -> None:
        response = self.client.get(self.url("visits_staff:report_csv"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("accounts:login"), response["Location"])

    def test_the_page_shows_the_figures_and_four_charts(self) -> None:
        self.client.force_login(self.erin)
        response = self.client.get(self.url())
        self.assertContains(response, "<svg", count=4)
        self.assertContains(response, "<td>0.70</td>")  # first session's demand per seat
        self.assertContains(response, "<td>30%</td>")  # its fill rate
        self.assertContains(response, "<dd>4.0</dd>")  # the mean rating overall

    def test_a_hostile_session_label_stays_text(self) -> None:
        self.client.force_login(self.erin)
        response = self.client.get(self.url())
        self.assertNotContains(response, HOSTILE_LABEL)
        self.assertContains(response, "&lt;script&gt;")

    def test_the_page_costs_the_same_queries_with_more_applications(self) -> None:
        self.client.force_login(self.erin)
        self.client.get(self.url())  # the first request fills the permission cache
        with CaptureQueriesContext(connection) as before:
            self.client.get(self.url())
        s1 = self.program.sessions.order_by("starts_at").first()
        assert s1 is not None
        for _n in range(15):
            make_party(self.program, size=1, choices=[s1])
        with CaptureQueriesContext(connection) as after:
            self.client.get(self.url())
        self.assertEqual(len(after), len(before))

    def test_the_csv_has_a_bom_parses_and_neutralises_formulas(self) -> None:
        self.client.force_login(self.erin)
        response = self.client.get(self.url("visits_staff:report_csv"))
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn("attachment;", response["Content-Disposition"])
        body = response.content
        self.assertTrue(body.startswith(b"\xef\xbb\xbf"))
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        self.assertEqual(len(rows), 5)  # the header, three sessions, the total
        self.assertEqual({len(row) for row in rows}, {20})
        self.assertEqual(
            rows[0][:4],
            ["Starts (Asia/Shanghai)", "Session (English)", "Session (Chinese)", "Status"],
        )
        self.assertEqual(rows[1][:2], ["2027-02-15 09:30", "Mon 15 Feb 2027 09:30–11:30"])
        self.assertEqual(rows[1][2], self.in_chinese(rows[1][2]))
        self.assertEqual(rows[1][3:8], ["Scheduled", "10", "7", "12", "0.70"])
        # CSV is data: no escaping needed; a label follows the time, so it
        # never starts a cell (where a formula would run).
        self.assertTrue(rows[2][1].endswith(" · " + HOSTILE_LABEL))
        self.assertTrue(rows[3][1].endswith(" · " + FORMULA_LABEL))
        self.assertEqual(rows[4][0], "Total")
        self.assertEqual(rows[4][4:8], ["28", "14", "26", "0.50"])
        self.assertFalse(
            [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@"))]
        )

    def in_chinese(self, cell: str) -> str:
        """`cell`, if it names Monday 15 February 2027 09:30-11:30 in Chinese."""
        for part in ("2027年2月15日", "星期一", "09:30–11:30"):
            self.assertIn(part, cell)
        return cell

    def test_chinese_labels_survive_the_round_trip(self) -> None:
        Session.objects.filter(program=self.program).update(label_en="", label_zh="春节 · 上午")
        self.client.force_login(self.erin)
        body = self.client.get(self.url("visits_staff:report_csv")).content
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        self.assertEqual(rows[1][2], self.in_chinese(rows[1][2]))
        self.assertTrue(rows[1][2].endswith("09:30–11:30 · 春节 · 上午"))
        # An English reader's column falls back to the Chinese label.
        self.assertEqual(rows[1][1], "Mon 15 Feb 2027 09:30–11:30 · 春节 · 上午")
        self.assertIn("春节 · 上午".encode(), body)  # UTF-8 bytes, as the BOM announces
