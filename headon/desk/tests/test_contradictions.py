"""A draft whose figures differ from a published answer to a similar
question is shown beside it, the figures marked, to the writer and the
approver (issue 16: "3 years or 60,000 km" against a published 5 years,
199,800 against a published 229,800, showed no warning)."""

from __future__ import annotations

from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from headon.desk.models import Channel, Question
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import add_ask, published_answer
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
