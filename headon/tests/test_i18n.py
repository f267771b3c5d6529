from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

from django.conf import settings
from django.test import TestCase
from django.urls import reverse

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), text)


def po_entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for each entry of a .po file; a small reader
    that is enough for the catalogue makemessages writes."""
    entries: list[tuple[str, str, bool]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fuzzy = "#, fuzzy" in block or ", fuzzy" in block
        parts: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            match = re.match(r'^(msgid|msgstr|msgid_plural|msgstr\[0\]) "(.*)"$', line)
            if match:
                key = match.group(1)
                parts[key] = match.group(2)
            elif line.startswith('"') and key:
                parts[key] += line[1:-1]
        if parts.get("msgid"):
            msgstr = parts.get("msgstr", parts.get("msgstr[0]", ""))
            entries.append((_unescape(parts["msgid"]), _unescape(msgstr), fuzzy))
    return entries


class CatalogueTests(TestCase):
    def test_every_string_has_a_chinese_translation_and_none_is_fuzzy(self) -> None:
        entries = po_entries(CATALOGUE / "django.po")
        self.assertGreater(len(entries), 50)
        untranslated = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
        self.assertEqual(untranslated, [])

    def test_the_shipped_compiled_catalogue_matches_the_source(self) -> None:
        with (CATALOGUE / "django.mo").open("rb") as fh:
            compiled = gettext.GNUTranslations(fh)
        stale = [
            msgid
            for msgid, msgstr, _ in po_entries(CATALOGUE / "django.po")
            if compiled.gettext(msgid) != msgstr
        ]
        self.assertEqual(stale, [], "run `headon compilemessages` in headon/")


class LanguageSwitchTests(TestCase):
    def test_the_home_page_follows_the_browser_language(self) -> None:
        response = self.client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
        self.assertContains(response, "今天的每一个问题，今晚都有回答。")
        self.assertContains(response, '<html lang="zh-Hans">')

    def test_choosing_chinese_sticks_across_pages_and_back_to_english(self) -> None:
        response = self.client.post(
            reverse("set_language"), {"language": "zh-hans", "next": "/visits/"}
        )
        self.assertRedirects(response, "/visits/")
        self.assertContains(self.client.get("/visits/"), "工厂开放日")
        self.client.post(reverse("set_language"), {"language": "en", "next": "/"})
        self.assertContains(self.client.get("/"), "Every question asked today, answered tonight.")

    def test_an_unknown_language_or_a_foreign_next_url_is_ignored(self) -> None:
        response = self.client.post(
            reverse("set_language"), {"language": "xx", "next": "https://evil.example/"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertFalse(response["Location"].startswith("https://evil.example"))
        self.assertContains(self.client.get("/"), "Every question asked today")


# A Chinese character next to ASCII punctuation: "说法: ", "(27 人)", "最高: 3".
# (Full-width marks next to a question's own "?" are the question's words.)
CJK = "[\u3400-\u9fff]"
MIXED = re.compile(f"{CJK}\\s*[:,()!?;]|[:,(!?;]\\s*{CJK}")


class ChineseTypographyTests(TestCase):
    """One style in Chinese: full-width punctuation and one form of address."""

    def test_the_catalogue_addresses_people_as_nin_and_uses_full_width_marks(self) -> None:
        entries = po_entries(CATALOGUE / "django.po")
        self.assertEqual([s for _, s, _ in entries if "你" in s], [])
        self.assertEqual([s for _, s, _ in entries if MIXED.search(s)], [])

    def test_brackets_and_colons_follow_the_language(self) -> None:
        from django.template import Context, Template
        from django.utils import translation

        template = Template("{{ name }}{{ role|paren }}{% colon %}{{ n }}")
        context = {"name": "Li", "role": "lead", "n": 3}
        with translation.override("en"):
            self.assertEqual(template.render(Context(context)), "Li (lead): 3")
        with translation.override("zh-hans"):
            self.assertEqual(template.render(Context(context)), "Li（lead）：3")

    def test_no_page_of_the_demo_mixes_ascii_punctuation_into_chinese(self) -> None:
        import html

        from django.core.management import call_command

        from headon.accounts.models import User
        from headon.desk.models import Answer, Digest
        from headon.visits.models import Application, Program
        from headon.visits.services.applications import access_token

        call_command("demo", no_serve=True, stdout=io.StringIO())
        program = Program.objects.get(slug="open-factory-days-2027")
        today = Program.objects.get(slug__startswith="open-day-")  # the open day held today
        session = today.sessions.order_by("starts_at").first()
        party = Application.objects.filter(program=today).first()
        assert session is not None
        assert party is not None
        application = Application.objects.filter(program=program).first()
        assert application is not None
        slug = program.slug
        public = ["/", "/answers/", "/answers/ask/", "/answers/search/?q=交付", "/visits/"]
        public += [f"/answers/{d.date}/" for d in Digest.objects.filter(revision__gt=0)]
        public += [f"/answers/q/{a.pk}/" for a in Answer.objects.filter(status="published")[:3]]
        public += [f"/visits/{slug}/", f"/visits/{slug}/apply/", f"/visits/{slug}/draw/"]
        public += ["/visits/open-factory-days-2024/draw/"]  # drawn: the record, the verifier
        public.append(f"/visits/{slug}/a/{application.reference}/{access_token(application)}/")
        staff = ["/staff/", "/staff/desk/", "/staff/desk/answers/", "/staff/desk/digest/"]
        staff += ["/staff/desk/dashboard/", f"/staff/visits/{slug}/", "/staff/visits/gate/"]
        staff += [f"/staff/visits/{slug}/report/", f"/staff/visits/{slug}/draw/"]
        staff += ["/staff/visits/open-factory-days-2024/draw/"]
        on = f"/staff/visits/{today.slug}"
        staff += [f"{on}/", f"{on}/applications/", f"{on}/applications/{party.reference}/"]
        staff += [f"{on}/messages/", f"{on}/feedback/", f"{on}/sessions/{session.pk}/visitors/"]
        staff += [f"/staff/visits/gate/{session.pk}/"]
        found = []
        for url, who in [(u, None) for u in public] + [(u, "demo-admin") for u in staff]:
            if who:
                self.client.force_login(User.objects.get(username=who))
            response = self.client.get(url, headers={"accept-language": "zh-hans"})
            self.assertEqual(response.status_code, 200, url)
            body = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", response.content.decode())
            text = html.unescape(re.sub(r"<[^>]+>", "\n", body))
            found += [(url, line.strip()) for line in text.splitlines() if MIXED.search(line)]
        self.assertEqual(found, [])
