"""Feedback after the visit: the private link, the form, the question that
becomes an ask, and the job that invites visitors."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import time_machine
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from headon import sms
from headon.desk.intake.sources import ask_receive
from headon.desk.models import Ask, Channel
from headon.visits import jobs
from headon.visits.models import Application, Feedback, Offer, PartyMember, Program, Ticket
from headon.visits.services import feedback as service
from headon.visits.services.tickets import issue_tickets
from headon.visits.tests.factories import make_program

# Two days after the first session (15 February 2027).
NOW = dt.datetime(2027, 2, 17, 2, 0, tzinfo=dt.UTC)
_references = itertools.count(1)


def confirmed_party(
    program: Program, *, size: int, checked_in: int, phone: str = "+8613800000001"
) -> list[Ticket]:
    """A party with a confirmed offer in the first session and its tickets;
    the first `checked_in` visitors have come through the gate."""
    session = program.sessions.order_by("starts_at")[0]
    application = Application.objects.create(
        program=program,
        reference=f"F{next(_references):07d}",
        contact_kind=Application.ContactKind.PHONE,
        contact=phone,
        party_size=size,
        consented_at=timezone.now(),
    )
    for position in range(size):
        PartyMember.objects.create(
            application=application, position=position, name=f"Li {position}"
        )
    offer = Offer.objects.create(
        application=application,
        session=session,
        seats=size,
        status=Offer.Status.CONFIRMED,
        deadline=timezone.now(),
    )
    tickets = issue_tickets(offer)
    for ticket in tickets[:checked_in]:
        ticket.checked_in_at = session.starts_at
        ticket.save(update_fields=["checked_in_at"])
    return tickets


@time_machine.travel(NOW, tick=False)
class FeedbackPageTests(TestCase):
    program: Program
    came: Ticket
    stayed_home: Ticket

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="feedback-days")
        cls.came, cls.stayed_home = confirmed_party(cls.program, size=2, checked_in=1)

    def url(self, ticket: Ticket, token: str | None = None) -> str:
        return reverse("visits:feedback", args=[ticket.pk, token or service.feedback_token(ticket)])

    def post(self, ticket: Ticket, **data: str) -> Any:
        return self.client.post(self.url(ticket), {"rating": "4", **data})

    def test_the_token_is_24_hex_characters_tied_to_the_ticket(self) -> None:
        token = service.feedback_token(self.came)
        self.assertRegex(token, r"^[0-9a-f]{24}$")
        self.assertNotEqual(token, service.feedback_token(self.stayed_home))
        self.assertTrue(service.feedback_url(self.came).startswith("http"))
        self.assertTrue(service.feedback_url(self.came).endswith(f"/{self.came.pk}/{token}/"))

    def test_a_wrong_or_borrowed_token_is_not_found(self) -> None:
        other = service.feedback_token(self.stayed_home)
        for url in [
            self.url(self.came, "0" * 24),
            self.url(self.came, other),
            self.url(self.came, service.feedback_token(self.came)[:-1]),
            reverse("visits:feedback", args=[999999, "0" * 24]),
        ]:
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)
                self.assertEqual(self.client.post(url, {"rating": "5"}).status_code, 404)
        self.assertFalse(Feedback.objects.exists())

    def test_a_visitor_not_yet_checked_in_is_asked_to_come_back_after_the_visit(self) -> None:
        response = self.client.get(self.url(self.stayed_home))
        self.assertContains(response, "After your visit")
        self.assertNotContains(response, 'name="rating"')
        self.post(self.stayed_home)
        self.assertFalse(Feedback.objects.exists())

    def test_a_visitor_who_came_sees_the_form(self) -> None:
        response = self.client.get(self.url(self.came))
        self.assertContains(response, 'name="rating"', count=5)
        self.assertContains(response, 'name="rating_guide"', count=5)
        self.assertEqual(response["Cache-Control"].count("no-store"), 1)

    def test_feedback_is_stored_once_and_a_second_submit_changes_nothing(self) -> None:
        response = self.post(self.came, rating="5", rating_guide="4", comment="Great tour.")
        self.assertRedirects(response, self.url(self.came))
        self.assertContains(self.client.get(self.url(self.came)), "We have your feedback")
        response = self.post(self.came, rating="1", comment="Changed my mind.")
        self.assertContains(response, "We have your feedback")
        feedback = Feedback.objects.get()
        self.assertEqual((feedback.rating, feedback.rating_guide), (5, 4))
        self.assertEqual(feedback.comment, "Great tour.")
        self.assertEqual(feedback.session_id, self.came.session_id)

    def test_bad_input_is_explained_and_what_was_typed_is_kept(self) -> None:
        response = self.client.post(
            self.url(self.came), {"rating": "", "comment": "Loved the robots", "question": "x"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Please choose a rating from 1 to 5.")
        self.assertContains(response, "Loved the robots")
        response = self.post(self.came, rating="9", comment="y" * 2001)
        self.assertContains(response, "Select a valid choice")
        self.assertContains(response, "at most 2000 characters")
        self.assertContains(response, "y" * 2001)
        self.assertFalse(Feedback.objects.exists())

    def test_the_guide_and_the_texts_are_optional(self) -> None:
        self.post(self.came, rating="3")
        feedback = Feedback.objects.get()
        self.assertEqual(
            (feedback.rating_guide, feedback.comment, feedback.question), (None, "", "")
        )
        self.assertFalse(Ask.objects.exists())


@time_machine.travel(NOW, tick=False)
class QuestionBecomesAskTests(TestCase):
    program: Program
    ticket: Ticket

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="question-days")
        cls.ticket = confirmed_party(cls.program, size=1, checked_in=1)[0]

    def submit(self, question: str = "Can I bring my dog next time?") -> service.Submitted:
        return service.feedback_submit(ticket=self.ticket, rating=4, question=question)

    def test_a_question_becomes_one_ask_in_the_feedback_channel(self) -> None:
        self.submit()
        ask = Ask.objects.get()
        self.assertEqual(ask.text, "Can I bring my dog next time?")
        self.assertEqual(ask.channel.kind, Channel.Kind.FEEDBACK)
        self.assertEqual(ask.channel.slug, "visit-feedback")
        self.assertEqual(ask.external_id, f"feedback:{self.ticket.pk}")
        self.assertEqual(ask.author, f"visitor:{self.ticket.pk}")

    def test_a_retry_adds_no_ask(self) -> None:
        first = self.submit()
        again = self.submit("Another question")
        self.assertTrue(first.created)
        self.assertFalse(again.created)
        received = ask_receive(
            channel=service.feedback_channel(),
            text="Can I bring my dog next time?",
            external_id=f"feedback:{self.ticket.pk}",
        )
        self.assertFalse(received.created)
        self.assertEqual(Ask.objects.count(), 1)
        self.assertEqual(Feedback.objects.get().question, "Can I bring my dog next time?")

    def test_the_first_active_feedback_channel_gets_the_question(self) -> None:
        Channel.objects.create(slug="old", name="Old", kind=Channel.Kind.FEEDBACK, is_active=False)
        chosen = Channel.objects.create(slug="gate", name="Gate", kind=Channel.Kind.FEEDBACK)
        self.submit()
        self.assertEqual(Ask.objects.get().channel, chosen)
        self.assertFalse(Channel.objects.filter(slug="visit-feedback").exists())

    def test_a_hostile_question_is_stored_as_text(self) -> None:
        self.submit('<script>alert("x")</script>')
        self.assertEqual(Ask.objects.get().text, '<script>alert("x")</script>')

    def test_a_ticket_not_checked_in_cannot_give_feedback(self) -> None:
        Ticket.objects.filter(pk=self.ticket.pk).update(checked_in_at=None)
        self.ticket.refresh_from_db()
        with self.assertRaises(service.FeedbackError) as caught:
            self.submit()
        self.assertEqual(caught.exception.code, "not_visited")
        self.assertFalse(Ask.objects.exists())

    def test_an_ask_that_cannot_be_stored_leaves_no_feedback(self) -> None:
        with self.assertRaises(service.FeedbackError):
            self.submit("x" * 2001)
        self.assertFalse(Feedback.objects.exists())
        self.assertFalse(Ask.objects.exists())


@time_machine.travel(NOW, tick=False)
class InviteFeedbackTests(TestCase):
    program: Program

    @classmethod
    def setUpTestData(cls) -> None:
        cls.program = make_program(slug="invite-days")
        confirmed_party(cls.program, size=3, checked_in=2, phone="+8613800000001")
        confirmed_party(cls.program, size=1, checked_in=0, phone="+8613800000002")

    def setUp(self) -> None:
        sms.outbox.clear()
        self.session = self.program.sessions.order_by("starts_at")[0]

    def test_each_party_that_came_gets_one_message_with_each_visitors_link(self) -> None:
        self.assertEqual(jobs.invite_feedback.call(self.session.pk), 1)
        [(to, body)] = sms.outbox
        self.assertEqual(to, "+8613800000001")
        came = Ticket.objects.filter(session=self.session, checked_in_at__isnull=False)
        for ticket in came:
            self.assertIn(f"{ticket.member.name}: {service.feedback_url(ticket)}", body)
        absent = Ticket.objects.filter(session=self.session, checked_in_at__isnull=True)
        for ticket in absent:
            self.assertNotIn(service.feedback_token(ticket), body)

    def test_a_second_run_sends_nothing(self) -> None:
        jobs.invite_feedback.call(self.session.pk)
        self.assertEqual(jobs.invite_feedback.call(self.session.pk), 0)
        self.assertEqual(len(sms.outbox), 1)
