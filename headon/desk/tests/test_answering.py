from __future__ import annotations

import datetime as dt
from unittest import mock

import time_machine
from django.test import override_settings
from django.urls import reverse

from headon.desk.merging.normalise import exact_key
from headon.desk.models import Answer, AnswerRevision, Ask, Channel, Question
from headon.desk.services import answers as answering
from headon.testing import PersonasTestCase
from headon.timezones import organiser_today

DAY = dt.date(2026, 11, 24)
AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai

FULL = {
    "question_en": "When do deliveries start?",
    "question_zh": "什么时候开始交付？",
    "body_en": "Deliveries start on **1 December** in every city.",
    "body_zh": "**12月1日**起全国各城市同时开始交付。",
}


def add_ask(channel: Channel, n: int, text: str, question: Question | None, **extra) -> Ask:
    return Ask.objects.create(
        channel=channel,
        external_id=f"t{n}",
        text=text,
        author=f"user{n}",
        author_key=f"user{n}",
        posted_at=extra.pop("posted_at", AT + dt.timedelta(minutes=n)),
        day=extra.pop("day", DAY),
        match_key=exact_key(text),
        question=question,
        **extra,
    )


def published_answer(question: Question, writer, approver, fields=None) -> Answer:
    answer = answering.answer_create(question=question, actor=writer, fields=fields or FULL)
    answer = answering.answer_submit(answer=answer, actor=writer, version=answer.version)
    answer = answering.answer_approve(answer=answer, actor=approver, version=answer.version)
    return answering.answer_publish(answer=answer, actor=approver)


@override_settings(HEADON_EMBEDDER=["none"])
class AnswerFlowTests(PersonasTestCase):
    def setUp(self) -> None:
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.question = Question.objects.create(text="什么时候交付")
        for n in range(3):
            add_ask(self.channel, n, "什么时候交付", self.question)

    def test_draft_review_approve_publish(self) -> None:
        answer = answering.answer_create(
            question=self.question, actor=self.carol, fields={"question_zh": "什么时候交付？"}
        )
        self.question.refresh_from_db()
        self.assertEqual(self.question.answer, answer)
        with self.assertRaisesMessage(answering.AnswerError, "both languages"):
            answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        answer = answering.answer_edit(
            answer=answer, actor=self.carol, fields=FULL, version=answer.version
        )
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        self.assertEqual(answer.status, Answer.Status.REVIEW)
        answer = answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        answer = answering.answer_publish(answer=answer, actor=self.dave)
        self.assertEqual(answer.status, Answer.Status.PUBLISHED)
        self.assertEqual((answer.published or {})["body_en"], FULL["body_en"])
        self.assertEqual(answer.asked_by, 3)
        self.question.refresh_from_db()
        self.assertEqual(self.question.covered_at, answer.first_published_at)
        kinds = list(answer.revisions.order_by("id").values_list("kind", flat=True))
        self.assertEqual(kinds, ["create", "edit", "submit", "approve", "publish"])

    def test_nobody_approves_their_own_last_edit(self) -> None:
        answer = answering.answer_create(question=self.question, actor=self.carol, fields=FULL)
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        # The approver fixes a typo while reviewing: someone else must approve.
        answer = answering.answer_edit(
            answer=answer,
            actor=self.dave,
            fields={"body_en": "Deliveries start on 1 December."},
            version=answer.version,
        )
        self.assertEqual(answer.status, Answer.Status.REVIEW)
        with self.assertRaisesMessage(answering.AnswerError, "other than its last writer"):
            answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        answering.answer_approve(answer=answer, actor=self.alice, version=answer.version)

    def test_a_stale_version_is_refused(self) -> None:
        answer = answering.answer_create(question=self.question, actor=self.carol, fields=FULL)
        stale = answer.version
        answering.answer_edit(
            answer=answer, actor=self.carol, fields={"body_en": "A"}, version=stale
        )
        with self.assertRaisesMessage(answering.AnswerError, "Someone else changed"):
            answering.answer_edit(
                answer=answer, actor=self.carol, fields={"body_en": "B"}, version=stale
            )
        answer.refresh_from_db()
        self.assertEqual(answer.body_en, "A")

    def test_editing_a_published_answer_leaves_the_public_copy_until_corrected(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        answer = answering.answer_edit(
            answer=answer,
            actor=self.carol,
            fields={"body_en": "Deliveries start on 3 December."},
            version=answer.version,
        )
        self.assertEqual(answer.status, Answer.Status.DRAFT)
        self.assertEqual((answer.published or {})["body_en"], FULL["body_en"])
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        answer = answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        with self.assertRaisesMessage(answering.AnswerError, "correction"):
            answering.answer_publish(answer=answer, actor=self.dave)
        answer = answering.answer_publish(
            answer=answer, actor=self.dave, note="The date moved to 3 December."
        )
        self.assertEqual((answer.published or {})["body_en"], "Deliveries start on 3 December.")
        self.assertEqual(
            (answer.published or {})["corrections"][0]["note"], "The date moved to 3 December."
        )
        self.assertTrue(answer.revisions.filter(kind=AnswerRevision.Kind.CORRECT).exists())

    def test_a_confirmed_link_covers_a_question_at_once(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        other = Question.objects.create(text="When do deliveries start")
        add_ask(self.channel, 10, "When do deliveries start", other)
        answering.question_link(question=other, answer=answer, actor=self.carol)
        with time_machine.travel(AT + dt.timedelta(hours=2)):
            # Covered once a second person confirms (four eyes).
            answering.question_link_confirm(question=other, answer=answer, actor=self.dave)
        other.refresh_from_db()
        self.assertEqual(other.covered_at, AT + dt.timedelta(hours=2))
        answer.refresh_from_db()
        self.assertEqual(answer.asked_by, 4)
        answering.question_unlink(question=other, actor=self.carol)
        other.refresh_from_db()
        self.assertIsNone(other.covered_at)
        self.assertIsNone(other.answer)

    def test_search_finds_chinese_traditional_and_english(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        battery = Question.objects.create(text="电池保修多久")
        published_answer(
            battery,
            self.carol,
            self.dave,
            {
                "question_en": "How long is the battery warranty?",
                "question_zh": "电池保修多久？",
                "body_en": "Eight years or 160,000 km.",
                "body_zh": "八年或十六万公里。",
            },
        )
        self.assertEqual(answering.search("什麼時候交付")[0][0], answer.pk)  # traditional
        self.assertEqual(answering.search("when will deliveries start")[0][0], answer.pk)
        top, score = answering.search("电池保修")[0]
        self.assertNotEqual(top, answer.pk)
        self.assertGreater(score, 0.5)
        self.assertEqual(answering.search("🙂 !!!"), [])

    def test_suggestions_offer_published_answers_for_a_similar_question(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        similar = Question.objects.create(text="请问什么时候开始交付")
        add_ask(self.channel, 20, "请问什么时候开始交付", similar)
        self.assertEqual([a.pk for a, _score in answering.suggestions_for(similar)], [answer.pk])

    def test_warnings_for_a_draft_that_repeats_or_differs(self) -> None:
        published_answer(self.question, self.carol, self.dave)
        again = Question.objects.create(text="什么时候交付呀")
        repeat = answering.answer_create(question=again, actor=self.carol, fields=FULL)
        self.assertEqual([w["kind"] for w in answering.warnings_for(repeat)], ["repeats"])
        third = Question.objects.create(text="交付什么时候开始")
        differs = answering.answer_create(
            question=third,
            actor=self.carol,
            fields=FULL | {"body_en": "Not before March.", "body_zh": "明年三月之前不会交付。"},
        )
        self.assertEqual([w["kind"] for w in answering.warnings_for(differs)], ["differs"])

    def test_markdown_is_sanitised_on_the_public_page(self) -> None:
        answer = published_answer(
            self.question,
            self.carol,
            self.dave,
            FULL
            | {
                "body_en": '<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror="alert(3)">',
                "question_en": "<b>bold?</b>",
            },
        )
        self.client.cookies.load({"django_language": "en"})
        response = self.client.get(reverse("desk:question", args=[answer.pk]))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertNotIn("<script>alert", html)
        self.assertNotIn('href="javascript:', html)
        self.assertNotIn("<img", html)
        self.assertNotIn("<b>bold", html)


@override_settings(HEADON_EMBEDDER=["none"])
class AnswerPageTests(PersonasTestCase):
    def setUp(self) -> None:
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.question = Question.objects.create(text="什么时候交付")
        add_ask(self.channel, 1, "什么时候交付", self.question)

    def test_writer_drafts_and_sends_for_review_through_the_pages(self) -> None:
        self.client.force_login(self.carol)
        url = reverse("desk_staff:question_answer", args=[self.question.pk])
        response = self.client.post(url, FULL)
        answer = Answer.objects.get()
        self.assertRedirects(response, reverse("desk_staff:answer", args=[answer.pk]))
        step = reverse("desk_staff:answer_step", args=[answer.pk])
        self.client.post(step, {"step": "submit", "version": answer.version})
        answer.refresh_from_db()
        self.assertEqual(answer.status, Answer.Status.REVIEW)
        # Writers cannot approve.
        response = self.client.post(step, {"step": "approve", "version": answer.version})
        self.assertEqual(response.status_code, 403)
        self.client.force_login(self.dave)
        self.client.post(step, {"step": "approve", "version": answer.version})
        self.client.post(step, {"step": "publish", "version": answer.version})
        answer.refresh_from_db()
        self.assertEqual(answer.status, Answer.Status.PUBLISHED)

    def test_a_triager_cannot_write_answers(self) -> None:
        self.client.force_login(self.bob)
        url = reverse("desk_staff:question_answer", args=[self.question.pk])
        self.assertEqual(self.client.get(url).status_code, 403)
        self.assertEqual(self.client.post(url, FULL).status_code, 403)

    def test_the_public_question_page_takes_few_queries(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        url = reverse("desk:question", args=[answer.pk])
        with self.assertNumQueries(1):  # the answer (it has no related answers)
            self.assertEqual(self.client.get(url).status_code, 200)

    def test_helpful_counts_once_per_person(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        url = reverse("desk:helpful", args=[answer.pk])
        self.client.post(url)
        self.client.post(url)
        answer.refresh_from_db()
        self.assertEqual(answer.helpful, 1)
        self.client.cookies.clear()
        self.client.post(url)
        answer.refresh_from_db()
        self.assertEqual(answer.helpful, 2)
        # A forged cookie is replaced, not trusted as an identity.
        self.client.cookies.load({"headon_voter": "<script>"})
        response = self.client.post(url)
        self.assertNotEqual(response.cookies["headon_voter"].value, "<script>")

    def test_a_limited_search_is_a_429_that_says_when_to_come_back(self) -> None:
        """It answered 200 with a message: a script could not tell."""
        url = reverse("desk:search")
        with (
            time_machine.travel(dt.datetime(2026, 12, 3, 12, 0, 5, tzinfo=dt.UTC), tick=False),
            mock.patch("headon.desk.views.public.SEARCHES_PER_ADDRESS", (2, 60)),
        ):
            statuses = [self.client.get(url, {"q": "交付"}).status_code for _ in range(3)]
            refused = self.client.get(url, {"q": "交付"})
            htmx = self.client.get(url, {"q": "交付"}, headers={"hx-request": "true"})
        self.assertEqual(statuses, [200, 200, 429])
        self.assertEqual(int(refused["Retry-After"]), 55)
        self.assertContains(refused, "Too many searches", status_code=429)
        self.assertContains(htmx, "Too many searches")  # htmx swaps only 2xx

    def test_an_empty_draft_is_refused_and_an_empty_day_is_not_100_percent(self) -> None:
        self.client.force_login(self.carol)
        url = reverse("desk_staff:question_answer", args=[self.question.pk])
        response = self.client.post(url, {"question_en": " ", "question_zh": "", "body_en": ""})
        self.assertContains(response, "Write the question or the answer")
        self.assertFalse(Answer.objects.exists())
        self.client.force_login(self.bob)
        empty = reverse("desk_staff:digest", args=["2026-01-05"])
        self.assertContains(self.client.get(empty), "No asks on this day")

    def test_search_page_and_answered_already(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        response = self.client.get(reverse("desk:search"), {"q": "交付时间"})
        self.assertContains(response, reverse("desk:question", args=[answer.pk]))
        response = self.client.get(reverse("desk:answered_already"), {"text": "什么时候开始交付"})
        self.assertContains(response, reverse("desk:question", args=[answer.pk]))
        response = self.client.get(reverse("desk:answered_already"), {"text": "完全无关的问题"})
        self.assertNotContains(response, "<li>")


@override_settings(HEADON_EMBEDDER=["none"])
class StaffPagesTests(PersonasTestCase):
    def setUp(self) -> None:
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.question = Question.objects.create(text="<script>alert(1)</script>什么时候交付")
        add_ask(self.channel, 1, "什么时候交付", self.question)

    def test_every_desk_page_answers_each_role_as_it_should(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        other = Question.objects.create(text="请问什么时候交付")
        add_ask(self.channel, 2, "请问什么时候交付", other)
        pages = [
            reverse("desk_staff:answers"),
            reverse("desk_staff:answer", args=[answer.pk]),
            reverse("desk_staff:question", args=[other.pk]),
            reverse("desk_staff:digest_today"),
            reverse("desk_staff:dashboard"),
        ]
        for user in (self.alice, self.bob, self.carol, self.dave):
            self.client.force_login(user)
            for url in pages:
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200, (user, url))
                self.assertNotIn(b"<script>alert(1)", response.content, url)
        for user in (self.erin, self.gus, self.oscar):
            self.client.force_login(user)
            for url in pages:
                self.assertEqual(self.client.get(url).status_code, 403, (user, url))
        self.client.logout()
        for url in pages:
            self.assertEqual(self.client.get(url).status_code, 302, url)

    def test_the_question_page_offers_a_one_click_link(self) -> None:
        answer = published_answer(self.question, self.carol, self.dave)
        other = Question.objects.create(text="请问什么时候交付")
        add_ask(self.channel, 2, "请问什么时候交付", other)
        self.client.force_login(self.carol)
        response = self.client.get(reverse("desk_staff:question", args=[other.pk]))
        self.assertContains(response, "Link to this answer")
        self.client.post(
            reverse("desk_staff:question_link", args=[other.pk]), {"answer": answer.pk}
        )
        other.refresh_from_db()
        self.assertEqual(other.proposed_answer, answer)
        self.assertIsNone(other.covered_at)
        self.client.force_login(self.dave)
        self.client.post(
            reverse("desk_staff:question_link", args=[other.pk]),
            {"answer": answer.pk, "action": "confirm"},
        )
        other.refresh_from_db()
        self.assertEqual(other.answer, answer)
        self.assertIsNotNone(other.covered_at)

    def test_the_dashboard_draws_its_charts_in_few_queries(self) -> None:
        published_answer(self.question, self.carol, self.dave)
        self.client.force_login(self.dave)
        # On the test day: on a day with no asks the figures skip their queries.
        with (
            time_machine.travel(AT + dt.timedelta(hours=2)),
            self.assertNumQueries(14),  # session, user, two for perms, ten for the figures
        ):
            response = self.client.get(reverse("desk_staff:dashboard"))
        self.assertEqual(response.content.count(b"<svg"), 5)


@override_settings(HEADON_EMBEDDER=["none"])
class RumourTests(PersonasTestCase):
    def test_a_new_ask_repeating_the_claim_gets_the_clarification(self) -> None:
        from headon.desk.intake.sources import channel_token_issue
        from headon.desk.services import merging

        merging._embedder_state.clear()
        self.addCleanup(merging._embedder_state.clear)
        channel = Channel.objects.create(slug="dealer", name="Dealer", kind="webhook")
        token = channel_token_issue(channel)
        rumour = Question.objects.create(text="听说电池是二手的，是真的吗？", is_rumour=True)
        add_ask(channel, 1, "听说电池是二手的，是真的吗？", rumour, day=organiser_today())
        clarification = published_answer(
            rumour,
            self.carol,
            self.dave,
            {
                "question_en": "Are the batteries second-hand?",
                "question_zh": "电池是二手的吗？",
                "body_en": "No: every cell is new.",
                "body_zh": "不是，每一个电芯都是全新的。",
                "claim_en": "The batteries are second-hand.",
                "claim_zh": "电池是二手的。",
                "verdict": "false",
                "evidence_en": "Cell production dates.",
                "evidence_zh": "电芯生产日期。",
            },
        )
        self.assertTrue(clarification.is_clarification)
        response = self.client.post(
            "/api/v1/asks",
            {"text": "听说电池是二手的，是真的吗？？", "external_id": "x1"},
            content_type="application/json",
            headers={"authorization": f"Bearer {token}"},
        )
        self.assertEqual(response.status_code, 201)
        answered = response.json()["answered"]
        self.assertEqual(len(answered), 1)
        self.assertTrue(answered[0]["clarification"])
        self.assertTrue(answered[0]["url"].endswith(f"/answers/q/{clarification.pk}/"))
        # The worker places it in the rumour question, which is covered already.
        ask = Ask.objects.get(external_id="x1")
        merging.assign_unassigned(ask.day)
        ask.refresh_from_db()
        self.assertEqual(ask.question, rumour)
