"""Programs and sessions named in the UI's language first on staff pages;
a public description in the other language carries its `lang`."""

from __future__ import annotations

import csv
import io

from django.urls import reverse
from django.utils import translation

from headon.testing import PersonasTestCase
from headon.visits.forms import ApplicationForm
from headon.visits.models import Session
from headon.visits.tests.factories import make_program


class BilingualProgramPagesTests(PersonasTestCase):
    def test_staff_program_pages_put_the_ui_language_first(self) -> None:
        program = make_program(sessions=1)
        program.sessions.update(label_en="Morning tour", label_zh="上午参观")
        self.client.force_login(self.erin)
        for url in (
            reverse("visits_staff:home"),
            reverse("visits_staff:program", args=[program.slug]),
        ):
            chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
            self.assertIn('开放日 <span class="muted" lang="en">Open Days</span>', chinese)
            english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
            self.assertIn('Open Days <span class="muted" lang="zh-Hans">开放日</span>', english)
        self.assertIn('Morning tour <span class="muted" lang="zh-Hans">上午参观</span>', english)

    def test_a_description_only_in_chinese_is_marked_on_the_english_page(self) -> None:
        program = make_program(description_en="", description_zh="欢迎参观工厂。")
        url = reverse("visits:program", args=[program.slug])
        english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn('<p lang="zh-Hans">欢迎参观工厂。</p>', english)
        chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        self.assertIn("<p>欢迎参观工厂。</p>", chinese)


class BothLanguagesWhereOneTextShowsTests(PersonasTestCase):
    """A select's option and an export's cell cannot mark a second language
    as a page does: they name the session in both."""

    def setUp(self) -> None:
        self.program = make_program(slug="both-days", sessions=1)
        self.program.sessions.update(label_en="Lunar New Year", label_zh="春节")
        self.session = self.program.sessions.get()

    def test_the_apply_forms_choices_name_the_session_in_both_languages(self) -> None:
        for language, expected in (
            ("en", "Mon 15 Feb 2027 09:30–11:30 · Lunar New Year / 春节"),
            ("zh-hans", " 09:30–11:30 · 春节 / Lunar New Year"),
        ):
            with translation.override(language):
                form = ApplicationForm(program=self.program, sessions=[self.session])
                self.assertIn(expected + "</option>", str(form["choice_1"]))
        # One label only when the other language has none (or the same).
        Session.objects.filter(pk=self.session.pk).update(label_zh="")
        with translation.override("en"):
            self.assertEqual(
                Session.objects.get(pk=self.session.pk).both_label,
                "Mon 15 Feb 2027 09:30–11:30 · Lunar New Year",
            )

    def test_the_staff_filters_name_the_session_in_both_languages(self) -> None:
        self.client.force_login(self.erin)
        for name in ("visits_staff:applications", "visits_staff:feedback"):
            page = self.client.get(
                reverse(name, args=[self.program.slug]), HTTP_ACCEPT_LANGUAGE="en"
            )
            self.assertContains(page, "09:30–11:30 · Lunar New Year / 春节</option>")

    def test_the_gate_list_names_the_session_in_english_and_in_chinese(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:gate_list_csv", args=[self.program.slug, self.session.pk])
        text = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode("utf-8-sig")
        heading = next(csv.reader(io.StringIO(text)))
        self.assertEqual(heading[0], "Open Days · Mon 15 Feb 2027 09:30–11:30 · Lunar New Year")
        self.assertTrue(heading[1].startswith("开放日 · "))
        self.assertTrue(heading[1].endswith("09:30–11:30 · 春节"))
        self.assertIn("星期一", heading[1])
