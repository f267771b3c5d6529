"""Linking a question to an answer covers its asks, so it is reviewed like
an approval (issue 16: a writer alone linked the rumour "发布会上的车是不是
道具车？" to the delivery-date answer, and it counted as covered)."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import override_settings
from django.urls import reverse

from headon.desk.digest import services as digests
from headon.desk.models import Channel, Question
from headon.desk.services import answered, triage
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import FULL, add_ask, published_answer
from headon.testing import PersonasTestCase

DAY = dt.date(2026, 11, 24)
CUTOFF = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
MORNING = CUTOFF - dt.timedelta(hours=10)
PROP = "发布会上的车是不是道具车？"
CLARIFICATION = {
    "question_en": "Was the car at the launch a prop?",
    "question_zh": "发布会上的车是道具车吗？",
    "body_en": "No: it was a production car, VIN on the stand.",
    "body_zh": "不是：那是一台量产车，车架号在展台上。",
    "claim_en": "The launch car was a prop.",
    "claim_zh": "发布会上的车是道具车。",
    "verdict": "false",
    "evidence_en": "The VIN and the registration.",
    "evidence_zh": "车架号和登记证书。",
}


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class LinkReviewTests(PersonasTestCase):
    def setUp(self) -> None:
        self.weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        with time_machine.travel(MORNING):
            self.delivery = published_answer(
                Question.objects.create(text="什么时候交付"), self.carol, self.dave, FULL
            )
        self.rumour = Question.objects.create(text=PROP)
        triage.question_flag(question=self.rumour, rumour=True, actor=self.bob)
        add_ask(self.weibo, 1, PROP, self.rumour, posted_at=MORNING)
        self.again = Question.objects.create(text="请问什么时候开始交付")
        add_ask(self.weibo, 2, "请问什么时候开始交付", self.again, posted_at=MORNING)

    def ledger(self) -> digests.Coverage:
        return digests.coverage(DAY, now=CUTOFF)

    def test_a_writer_cannot_link_a_rumour_to_an_answer_that_is_no_clarification(self) -> None:
        self.client.force_login(self.carol)
        response = self.client.post(
            reverse("desk_staff:question_link", args=[self.rumour.pk]),
            {"answer": self.delivery.pk},
            follow=True,
        )
        self.assertContains(response, "link it only to a clarification")
        self.rumour.refresh_from_db()
        self.assertIsNone(self.rumour.answer_id)
        self.assertIsNone(self.rumour.proposed_answer_id)
        self.assertEqual(self.ledger().questions_covered, 0)

    def test_a_writers_link_alone_covers_nothing_until_an_approver_confirms(self) -> None:
        with time_machine.travel(MORNING + dt.timedelta(hours=1)):
            answering.question_link(question=self.again, answer=self.delivery, actor=self.carol)
        self.assertEqual(self.ledger().asks_covered, 0)
        with self.assertRaisesMessage(answering.AnswerError, "other than the person who proposed"):
            answering.question_link_confirm(
                question=self.again, answer=self.delivery, actor=self.carol
            )
        with time_machine.travel(MORNING + dt.timedelta(hours=2)):
            answering.question_link_confirm(
                question=self.again, answer=self.delivery, actor=self.dave
            )
        self.again.refresh_from_db()
        self.assertEqual(self.again.answer, self.delivery)
        self.assertIsNone(self.again.proposed_answer_id)
        self.assertEqual(self.ledger().asks_covered, 1)

    def test_an_approver_cannot_confirm_their_own_link(self) -> None:
        answering.question_link(question=self.again, answer=self.delivery, actor=self.dave)
        self.client.force_login(self.dave)
        page = self.client.get(reverse("desk_staff:answers")).content.decode()
        self.assertIn("waiting for someone else to confirm", page)
        self.assertNotIn('value="confirm"', page)
        self.client.post(
            reverse("desk_staff:question_link", args=[self.again.pk]),
            {"answer": self.delivery.pk, "action": "confirm"},
        )
        self.again.refresh_from_db()
        self.assertIsNone(self.again.answer_id)

    def test_proposals_wait_in_the_approvers_queue_and_the_digest_page(self) -> None:
        answering.question_link(question=self.again, answer=self.delivery, actor=self.carol)
        self.client.force_login(self.dave)
        for url in (reverse("desk_staff:answers"), reverse("desk_staff:digest", args=[DAY])):
            response = self.client.get(url)
            self.assertContains(response, "Link to confirm (1)")
            self.assertContains(response, 'value="confirm"')
        response = self.client.post(
            reverse("desk_staff:question_link", args=[self.again.pk]),
            {"answer": self.delivery.pk, "action": "confirm", "next": "/staff/desk/answers/"},
        )
        self.assertEqual(response["Location"], "/staff/desk/answers/")
        self.again.refresh_from_db()
        self.assertEqual(self.again.answer, self.delivery)

    def test_a_link_changed_meanwhile_is_not_confirmed_unseen(self) -> None:
        other = published_answer(Question.objects.create(text="价格"), self.carol, self.dave)
        answering.question_link(question=self.again, answer=self.delivery, actor=self.carol)
        answering.question_link(question=self.again, answer=other, actor=self.bob)
        with self.assertRaisesMessage(answering.AnswerError, "changed or confirmed meanwhile"):
            answering.question_link_confirm(
                question=self.again, answer=self.delivery, actor=self.dave
            )

    def test_a_rumour_links_to_a_clarification_with_a_second_person(self) -> None:
        clarifying = Question.objects.create(text="道具车", is_rumour=True)
        clarification = published_answer(clarifying, self.carol, self.dave, CLARIFICATION)
        answering.question_link(question=self.rumour, answer=clarification, actor=self.carol)
        answering.question_link_confirm(question=self.rumour, answer=clarification, actor=self.dave)
        self.rumour.refresh_from_db()
        self.assertEqual(self.rumour.answer, clarification)
        self.assertIsNotNone(self.rumour.covered_at)

    def test_the_digest_page_lists_open_questions_that_look_answered(self) -> None:
        self.client.force_login(self.dave)
        url = reverse("desk_staff:digest", args=[DAY])
        with time_machine.travel(CUTOFF - dt.timedelta(hours=1)):
            answered.answered_check(DAY)  # the worker's job; the page reads what it stored
            page = self.client.get(url).content.decode()
            self.assertIn("Already answered? (1)", page)
            self.assertIn(f"#{self.again.pk} 请问什么时候开始交付", page)
            self.assertNotIn(f"#{self.rumour.pk} {PROP}", page)
            response = self.client.post(url, {"note": ""}, follow=True)
        self.assertContains(response, "1 open question looks already answered and is not linked")
        # One click proposes; a second person confirms; then it is not listed.
        self.client.force_login(self.carol)
        self.client.post(
            reverse("desk_staff:question_link", args=[self.again.pk]),
            {"answer": self.delivery.pk, "next": url},
        )
        self.assertEqual(answering.looks_answered(DAY), [])
        self.client.force_login(self.dave)
        with time_machine.travel(CUTOFF - dt.timedelta(minutes=30)):
            page = self.client.get(url).content.decode()
        self.assertIn("Already answered? (0)", page)
        self.assertIn("Link to confirm (1)", page)

    def test_the_way_back_after_a_link_stays_on_the_staff_pages(self) -> None:
        self.client.force_login(self.carol)
        url = reverse("desk_staff:question_link", args=[self.again.pk])
        for target in ("https://evil.example/staff/", "//evil.example/staff/", "/answers/"):
            response = self.client.post(url, {"action": "unlink", "next": target})
            self.assertEqual(response["Location"], f"/staff/desk/questions/{self.again.pk}/")
        response = self.client.post(
            url, {"answer": self.delivery.pk, "next": "/staff/desk/answers/"}
        )
        self.assertEqual(response["Location"], "/staff/desk/answers/")  # the control
