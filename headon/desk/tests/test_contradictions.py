"""A draft whose figures differ from a published answer to a similar
question is shown beside it, the figures marked, to the writer and the
approver (issue 16: "3 years or 60,000 km" against a published 5 years,
199,800 against a published 229,800, showed no warning)."""

from __future__ import annotations

from unittest import mock

from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from headon.desk.models import Channel, Question
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import add_ask, published_answer
from headon.desk.views import answers as answer_views
from headon.testing import PersonasTestCase

WARRANTY = {
    "question_en": "How long is the warranty?",
    "question_zh": "整车质保多久？",
    "body_en": "The whole car is under warranty for **5 years or 150,000 km**, whichever comes first.",
    "body_zh": "整车质保 **5 年或 15 万公里**，以先到者为准。",
}
PRICE = {
    "question_en": "What is the price?",
    "question_zh": "售价是多少？",
    "body_en": "The launch edition costs 229,800 yuan.",
    "body_zh": "首发版售价 229,800 元。",
}


@override_settings(HEADON_EMBEDDER=["none"])
class ContradictionTests(PersonasTestCase):
    def setUp(self) -> None:
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.warranty = published_answer(
            Question.objects.create(text="质保多久"), self.carol, self.dave, WARRANTY
        )
        self.price = published_answer(
            Question.objects.create(text="售价多少"), self.carol, self.dave, PRICE
        )

    def _draft(self, text: str, fields: dict[str, str]):
        question = Question.objects.create(text=text)
        add_ask(self.channel, question.pk + 100, text, question)
        return answering.answer_create(question=question, actor=self.carol, fields=fields)

    def test_a_shorter_warranty_is_a_contradiction_with_both_figures(self) -> None:
        draft = self._draft(
            "保修期是多久",
            {
                "question_en": "How long is the warranty?",
                "question_zh": "保修期是多久？",
                "body_en": "The warranty is 3 years or 60,000 km.",
                "body_zh": "质保 3 年或 6 万公里。",
            },
        )
        with translation.override("en"):
            warnings = answering.warnings_for(draft)
        self.assertEqual(warnings[0]["kind"], "contradicts")
        self.assertEqual(warnings[0]["answer"], self.warranty)
        by_family = {d["family"]: d for d in warnings[0]["figures"]}
        self.assertEqual(by_family["Duration"]["mine"], ["3 years", "3 年"])
        self.assertEqual(by_family["Duration"]["theirs"], ["5 years", "5 年"])
        self.assertEqual(by_family["Distance"]["mine"], ["60,000 km", "6 万公里"])
        self.assertEqual(by_family["Distance"]["theirs"], ["150,000 km", "15 万公里"])
        marks = [p for p, is_mark in warnings[0]["theirs_marked"]["zh"] if is_mark]
        self.assertEqual(marks, ["5 年", "15 万公里"])

    def test_a_lower_price_is_a_contradiction(self) -> None:
        draft = self._draft(
            "多少钱",
            {
                "question_en": "What is the price?",
                "question_zh": "售价是多少？",
                "body_en": "It costs 199,800 yuan.",
                "body_zh": "售价 199,800 元。",
            },
        )
        (warning,) = [w for w in answering.warnings_for(draft) if w["kind"] == "contradicts"]
        self.assertEqual(warning["answer"], self.price)
        self.assertEqual(warning["figures"][0]["mine"], ["199,800 yuan", "199,800 元"])
        self.assertEqual(warning["figures"][0]["theirs"], ["229,800 yuan", "229,800 元"])

    def test_the_same_figures_in_other_units_are_no_contradiction(self) -> None:
        draft = self._draft(
            "质保多少年",
            {
                "question_en": "How long is the warranty?",
                "question_zh": "质保多少年？",
                "body_en": "Five-year cover: 60 months or 150,000 km.",
                "body_zh": "整车质保五年或十五万公里。",
            },
        )
        self.assertNotIn("contradicts", [w["kind"] for w in answering.warnings_for(draft)])

    def test_the_writer_is_told_on_save_and_the_approver_sees_it_marked(self) -> None:
        question = Question.objects.create(text="保修期是多久")
        add_ask(self.channel, 500, "保修期是多久", question)
        self.client.force_login(self.carol)
        self.client.cookies.load({"django_language": "zh-hans"})
        response = self.client.post(
            reverse("desk_staff:question_answer", args=[question.pk]),
            {
                "question_en": "How long is the warranty?",
                "question_zh": "保修期是多久？",
                "body_en": "The warranty is 8 years.",
                "body_zh": "质保 8 年。",
            },
            follow=True,
        )
        html = response.content.decode()
        self.assertIn("这份草稿与相似问题的已发布回答相矛盾", html)
        self.assertIn("<mark>8 年</mark>", html)
        self.assertIn("<mark>5 年</mark>", html)
        question.refresh_from_db()
        answer = question.answer
        assert answer is not None
        answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        self.client.force_login(self.dave)
        self.client.cookies.load({"django_language": "en"})
        html = self.client.get(reverse("desk_staff:answer", args=[answer.pk])).content.decode()
        self.assertIn("This draft contradicts a published answer", html)
        self.assertIn("this draft says <mark>8 years, 8 年</mark>", html.replace("\n", ""))


@override_settings(HEADON_EMBEDDER=["none"])
class CheckWhileTypingTests(PersonasTestCase):
    """The draft form asks `answer_check` for the warnings as the writer
    types (htmx, after a 700 ms pause); saving still shows them without
    JavaScript."""

    def setUp(self) -> None:
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.warranty = published_answer(
            Question.objects.create(text="质保多久"), self.carol, self.dave, WARRANTY
        )
        self.question = Question.objects.create(text="保修期是多久")
        add_ask(self.channel, 700, "保修期是多久", self.question)
        self.url = f"{reverse('desk_staff:answer_check')}?question={self.question.pk}"

    def check(self, body_en: str, client=None, **extra):
        return (client or self.client).post(
            self.url,
            {"question_en": "How long is the warranty?", "body_en": body_en, "body_zh": ""},
            **extra,
        )

    def test_the_draft_form_checks_the_bodies_as_the_writer_types(self) -> None:
        self.client.force_login(self.carol)
        page = self.client.get(reverse("desk_staff:question_answer", args=[self.question.pk]))
        html = page.content.decode()
        self.assertIn(f'data-hx-post="{self.url}"', html.replace("&amp;", "&"))
        self.assertIn('data-hx-trigger="input changed delay:700ms"', html)
        self.assertIn('id="draft-warnings"', html)

    def test_three_years_against_a_published_five_is_a_contradiction_before_saving(self) -> None:
        self.client.force_login(self.carol)
        for lang, heading in (
            ("en", "This draft contradicts a published answer to a similar question"),
            ("zh-hans", "这份草稿与相似问题的已发布回答相矛盾"),
        ):
            self.client.cookies.load({"django_language": lang})
            html = self.check("The warranty is 3 years.").content.decode()
            self.assertIn(heading, html)
            self.assertIn("<mark>3 years</mark>", html)
            self.assertIn("<mark>5 年</mark>", html)
        self.assertIsNone(Question.objects.get(pk=self.question.pk).answer_id)  # nothing saved
        self.assertNotIn("contradiction", self.check("The warranty is 5 years.").content.decode())

    def test_editing_leaves_the_answer_itself_out(self) -> None:
        self.client.force_login(self.dave)
        url = reverse("desk_staff:answer_check")
        draft = {**WARRANTY, "body_en": "3 years."}
        html = self.client.post(url, draft).content.decode()
        self.assertIn("contradiction", html)  # the control: as a new answer, it would clash
        html = self.client.post(f"{url}?answer={self.warranty.pk}", draft).content.decode()
        self.assertNotIn("contradiction", html)  # its own published copy is not "another"

    def test_only_writers_and_approvers_may_check(self) -> None:
        self.client.force_login(self.bob)
        self.assertEqual(self.check("3 years").status_code, 403)
        self.client.force_login(self.carol)
        self.assertEqual(self.check("3 years").status_code, 200)  # the control

    def test_a_forged_request_without_the_csrf_token_is_refused(self) -> None:
        forger = Client(enforce_csrf_checks=True)
        forger.force_login(self.carol)
        self.assertEqual(self.check("3 years", client=forger).status_code, 403)
        # The control: the token the form carries lets the same request through.
        forger.get(reverse("desk_staff:question_answer", args=[self.question.pk]))
        token = forger.cookies["csrftoken"].value
        response = self.check("3 years", client=forger, HTTP_X_CSRFTOKEN=token)
        self.assertEqual(response.status_code, 200)

    def test_a_body_over_the_limit_is_refused_with_a_message(self) -> None:
        self.client.force_login(self.carol)
        response = self.check("3 years " + "x" * answering.BODY_LIMIT)
        self.assertEqual(response.status_code, 413)
        self.assertIn("Too long to check as you type", response.content.decode())
        at_limit = "3 years." + "x" * (answering.BODY_LIMIT - 8)
        self.assertEqual(self.check(at_limit).status_code, 200)  # the control

    def test_a_script_checking_in_a_loop_is_slowed_down(self) -> None:
        self.client.force_login(self.carol)
        with mock.patch.object(answer_views, "CHECKS_PER_MINUTE", 2):
            self.assertEqual([self.check("3 years").status_code for _ in range(3)], [200, 200, 429])
