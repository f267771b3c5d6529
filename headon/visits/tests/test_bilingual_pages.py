"""Programs and sessions named in the UI's language first on staff pages;
a public description in the other language carries its `lang`."""

from __future__ import annotations

from django.urls import reverse

from headon.testing import PersonasTestCase
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
