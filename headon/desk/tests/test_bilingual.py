"""Staff pages name each bilingual field in the UI's language first, the
other beside it with its `lang`; public pages mark a fallback with `lang`."""

from __future__ import annotations

import re

from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from headon import bilingual
from headon.desk.models import Answer, Question, Tag
from headon.desk.services import answers as answering
from headon.testing import PersonasTestCase

EN = "When do deliveries start?"
ZH = "什么时候开始交付？"


def _link_text(html: str, answer: Answer) -> str:
    """The inner HTML of the answers list's first link to `answer`."""
    url = reverse("desk_staff:answer", args=[answer.pk])
    found = re.search(rf'<a href="{re.escape(url)}">(.*?)</a>', html, re.S)
    assert found, html
    return found.group(1)


@override_settings(HEADON_EMBEDDER=["none"])
class BilingualStaffPagesTests(PersonasTestCase):
    def setUp(self) -> None:
        self.question = Question.objects.create(text="什么时候交付")
        self.answer = answering.answer_create(
            question=self.question,
            actor=self.carol,
            fields={"question_en": EN, "question_zh": ZH, "body_en": "Soon.", "body_zh": "很快。"},
        )
        self.client.force_login(self.carol)

    def test_the_answers_list_names_each_answer_in_the_ui_language_first(self) -> None:
        url = reverse("desk_staff:answers")
        english = _link_text(
            self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), self.answer
        )
        self.assertLess(english.index(EN), english.index(ZH))
        self.assertIn(f'<span class="muted" lang="zh-Hans">{ZH}</span>', english)
        self.assertNotIn('lang="en"', english)

        chinese = _link_text(
            self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode(), self.answer
        )
        self.assertLess(chinese.index(ZH), chinese.index(EN))
        self.assertIn(f'<span class="muted" lang="en">{EN}</span>', chinese)
        self.assertNotIn('lang="zh-Hans"', chinese)

    def test_an_answer_with_one_title_shows_it_marked_when_it_is_the_other_language(self) -> None:
        Answer.objects.filter(pk=self.answer.pk).update(question_en="")
        url = reverse("desk_staff:answers")
        english = _link_text(
            self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), self.answer
        )
        self.assertIn(f'<span lang="zh-Hans">{ZH}</span>', english)
        self.assertNotIn("muted", english)
        chinese = _link_text(
            self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode(), self.answer
        )
        self.assertNotIn("lang=", chinese)
        self.assertIn(ZH, chinese)

    def test_the_answer_page_heads_with_both_titles(self) -> None:
        url = reverse("desk_staff:answer", args=[self.answer.pk])
        page = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
        assert heading
        self.assertEqual(heading.group(1), f'{EN} <span class="muted" lang="zh-Hans">{ZH}</span>')

    def test_the_answer_forms_tags_are_named_in_the_ui_language(self) -> None:
        Tag.objects.create(slug="delivery", name_en="Delivery", name_zh="交付")
        fresh = Question.objects.create(text="交付在哪里")
        url = reverse("desk_staff:question_answer", args=[fresh.pk])
        chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        label = re.search(r'<label for="id_tags_0">(.*?)</label>', chinese, re.S)
        assert label, chinese
        self.assertIn('交付 <span class="muted" lang="en">Delivery</span>', label.group(1))
        english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        label = re.search(r'<label for="id_tags_0">(.*?)</label>', english, re.S)
        assert label
        self.assertIn('Delivery <span class="muted" lang="zh-Hans">交付</span>', label.group(1))

    def test_text_is_escaped_and_shortened(self) -> None:
        fields = {"title_en": "<b>x</b>" + "a" * 100, "title_zh": ""}
        with translation.override("zh-hans"):
            shown = bilingual.both(fields, "title", 20)
            self.assertNotIn("<b>", shown)
            self.assertIn("&lt;b&gt;", shown)
            self.assertTrue(shown.startswith('<span lang="en">'))
            self.assertEqual(
                len(re.sub("<[^>]+>", "", shown).replace("&lt;", "<").replace("&gt;", ">")), 20
            )
            self.assertEqual(bilingual.lang_attr(fields, "title"), ' lang="en"')
        with translation.override("en"):
            self.assertEqual(bilingual.lang_attr(fields, "title"), "")
            self.assertEqual(bilingual.both({}, "title"), "")


@override_settings(HEADON_EMBEDDER=["none"])
class BilingualPublicPagesTests(PersonasTestCase):
    def test_a_public_question_in_the_other_language_carries_its_lang(self) -> None:
        question = Question.objects.create(text="什么时候交付")
        answer = answering.answer_create(
            question=question,
            actor=self.carol,
            fields={"question_en": EN, "question_zh": ZH, "body_zh": "很快。", "body_en": "Soon."},
        )
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        answer = answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        answer = answering.answer_publish(answer=answer, actor=self.dave)
        # Publishing asks for both; a copy from before that rule has one.
        published = {**(answer.published or {}), "question_en": ""}
        Answer.objects.filter(pk=answer.pk).update(published=published)
        url = reverse("desk:question", args=[answer.pk])
        english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn(f'<h1 lang="zh-Hans">{ZH}</h1>', english)
        self.assertIn('<div class="answer-body">', english)  # English body: no lang
        chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        self.assertIn(f"<h1>{ZH}</h1>", chinese)
