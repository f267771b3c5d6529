"""The coordinator reads what visitors said: both ratings (the guide's
too), comments and questions per session, as a page and a CSV; a visitor's
question links to the desk question it sits under."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from headon.desk.models import Ask, Question
from headon.testing import PersonasTestCase
from headon.visits.models import Program, Session, Ticket
from headon.visits.services import feedback as service
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_gate import confirmed_party


class FeedbackReadingTests(PersonasTestCase):
    program: Program
    first: Session
    second: Session
    question: Question

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="fb-days", sessions=2)
        cls.first, cls.second = cls.program.sessions.order_by("starts_at")
        a, b = confirmed_party(cls.first, size=2)
        (c,) = confirmed_party(cls.second)
        Ticket.objects.filter(pk__in=[a.pk, b.pk, c.pk]).update(checked_in_at=cls.first.starts_at)
        for ticket in (a, b, c):
            ticket.refresh_from_db()
        service.feedback_submit(ticket=a, rating=5, rating_guide=4, comment="Great robots")
        service.feedback_submit(
            ticket=b, rating=3, comment="=1+1", question="Can children under 12 come?"
        )
        service.feedback_submit(ticket=c, rating=2, rating_guide=1, comment="Too short")
        cls.question = Question.objects.create(text="Can I visit the factory?")
        Ask.objects.filter(external_id=f"feedback:{b.pk}").update(question=cls.question)

    def test_the_page_shows_every_rating_comment_and_question_per_session(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:feedback", args=[self.program.slug])
        page = self.client.get(url)
        summaries = {s.session.pk: s for s in page.context["summaries"]}
        self.assertEqual(summaries[self.first.pk].answers, 2)
        self.assertEqual(summaries[self.first.pk].overall, 4.0)
        self.assertEqual(
            (summaries[self.first.pk].guide, summaries[self.first.pk].guide_answers), (4.0, 1)
        )
        self.assertEqual(summaries[self.second.pk].guide, 1.0)
        for text in ("Great robots", "Too short", "Can children under 12 come?"):
            self.assertContains(page, text)
        # The coordinator has no desk rights: the question is named, not linked.
        self.assertContains(page, f"In the desk as question #{self.question.pk}")
        self.assertNotContains(page, reverse("desk_staff:question", args=[self.question.pk]))
        one = self.client.get(url, {"session": self.second.pk})
        self.assertContains(one, "Too short")
        self.assertNotContains(one, "Great robots")

    def test_the_admin_who_reads_the_desk_gets_the_link(self) -> None:
        self.client.force_login(self.alice)
        page = self.client.get(reverse("visits_staff:feedback", args=[self.program.slug]))
        self.assertContains(page, reverse("desk_staff:question", args=[self.question.pk]))

    def test_the_csv_has_both_ratings_and_neutralises_formulas(self) -> None:
        self.client.force_login(self.erin)
        response = self.client.get(reverse("visits_staff:feedback_csv", args=[self.program.slug]))
        rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
        self.assertEqual(
            rows[0][:6],
            [
                "Session",
                "Session (English)",
                "Session (Chinese)",
                "Submitted at",
                "Overall",
                "The guide",
            ],
        )
        body = {r[7]: r for r in rows[1:]}
        self.assertEqual(body["Great robots"][4:6], ["5", "4"])
        # The session in each language, a column each.
        self.assertTrue(body["Great robots"][1].startswith("Mon 15 Feb 2027 09:30–11:30"))
        for part in ("2027年2月15日", "星期一", "09:30–11:30"):
            self.assertIn(part, body["Great robots"][2])
        self.assertEqual(body["'=1+1"][5], "")
        self.assertEqual(body["'=1+1"][9], str(self.question.pk))

    def test_the_gate_reads_no_feedback(self) -> None:
        self.client.force_login(self.gus)
        url = reverse("visits_staff:feedback", args=[self.program.slug])
        self.assertEqual(self.client.get(url).status_code, 403)
