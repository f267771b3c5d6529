"""Hostile text in every field a person can write, checked everywhere it is
shown: every page of the role × URL matrix (as the admin and as a visitor),
the admin, the Atom feeds, the digest's JSON, text and PNG, the report's CSV
and the calendar files.

The fixtures are the access matrix's (one of each thing a URL names), with
their words replaced by payloads and more brought in through the real
doors: the ask form, the webhook, a CSV import, the answer workflow, an
application, feedback. A page passes when a parser finds no element,
attribute or link that the payloads could have made.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import time_machine
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from headon.accounts.services import staff_create
from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.desk.digest.image import TextOp, lay_out_digest
from headon.desk.models import Answer, Channel, DigestRevision, Question, Tag
from headon.desk.services import answers as answering
from headon.desk.services import merging, triage
from headon.desk.services.imports import import_file
from headon.desk.tests.test_answering import add_ask
from headon.tests.test_access_matrix import (
    ANON,
    CUTOFF,
    DAY,
    MORNING,
    NOW,
    MatrixFixtures,
    Row,
)
from headon.visits.models import (
    Application,
    PartyMember,
    Program,
    ScheduleExclusion,
    Session,
)
from headon.visits.services import applications as apps
from headon.visits.services.feedback import feedback_submit
from headon.visits.tests.factories import contact, id_number, solved_pow

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
# Fits the 60-character tag names; the rest of the fields get LONG.
SHORT = SCRIPT + IMG
LONG = (
    f"{SCRIPT}{IMG}' onmouseover='alert(1)' javascript:alert(1) "
    "[click](javascript:alert(1)) {{ 7|add:7 }} {% debug %} "
    "%(code)s {0} ${7*7} \u202egnp.exe"
)
MARKDOWN = (
    f"{SCRIPT}\n\n[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) "
    '<a href="javascript:alert(1)">a</a> ![img](x onerror=alert(1)) '
    '[t](https://example.org "a\\" onmouseover=\\"alert(1)") <img src=x onerror=alert(1)>\n\n'
    '<iframe src="javascript:alert(1)"></iframe> <svg onload=alert(1)> {{ 7|add:7 }} \u202e'
)
FORMULA = "=cmd|' /C calc'!A0"
# A label that would add a line (an attendee, a second event) to a calendar.
CALENDAR = "Visit\r\nATTENDEE:mailto:evil@example.org\nBEGIN:VEVENT\rX-EVIL:1;x,y\\"

# What a payload leaves behind when it gets through.
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload", "<iframe")
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text")
LINK_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}
FORBIDDEN_TAGS = {"iframe", "object", "embed", "base", "svg:script"}
# Words that appear only where the payloads are shown escaped.
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class _Checker(HTMLParser):
    """Every element and attribute an injection could have produced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        src = values.get("src") or ""
        external = src.startswith("/") and not src.startswith("//")  # same origin
        if tag == "script" and not external and values.get("type") != "application/json":
            self.problems.append(f"<script {values}>")
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append("<img src=x>")
        for name, value in attrs:
            if name.startswith(("on", "hx-on", "data-hx-on")):
                self.problems.append(f"<{tag} {name}=...>")
            scheme = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name in LINK_ATTRIBUTES and scheme.startswith(DANGEROUS_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def html_problems(html: str) -> list[str]:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    problems = checker.problems
    problems += [f"raw {marker!r}" for marker in RAW_MARKERS if marker in html]
    return problems


@time_machine.travel(NOW, tick=False)
@override_settings(HEADON_EMBEDDER=["none"])
class HostileFixtures(MatrixFixtures):
    """The matrix's fixtures with payloads in every field a person writes."""

    clarification: ClassVar[Answer]
    draft: ClassVar[Answer]
    hostile_application: ClassVar[Application]
    export_dir: ClassVar[Path]

    @classmethod
    def setUpTestData(cls) -> None:
        # The merge engines are cached per day in the process; one kept by
        # a test whose rows were flushed since would name questions not here.
        merging._engines.clear()
        super().setUpTestData()
        cls._hostile_visits()
        cls._hostile_asks()
        cls._hostile_answers()

    @classmethod
    def tearDownClass(cls) -> None:
        merging._engines.clear()
        super().tearDownClass()

    @classmethod
    def _hostile_visits(cls) -> None:
        # Programs and sessions are typed by a coordinator on the staff
        # forms, which store what they are given: the same as writing it here.
        Program.objects.update(
            title_en=LONG,
            title_zh=LONG,
            description_en=LONG + "\n" + MARKDOWN,
            description_zh=LONG,
            venue=CALENDAR + " " + SHORT,
            privacy_notice_en=MARKDOWN,
            privacy_notice_zh=LONG,
        )
        Session.objects.update(label_en=FORMULA, label_zh=CALENDAR)
        ScheduleExclusion.objects.create(
            program=cls.open_program, date=dt.date(2027, 2, 22), reason=LONG[:120]
        )
        PartyMember.objects.update(name=LONG[:100])
        sessions = list(cls.open_program.sessions.order_by("starts_at"))
        cls.hostile_application = apps.application_submit(
            program=cls.open_program,
            contact=contact(cls.open_program, "+8613700000001"),
            lead=apps.PersonInput(name=SHORT + " {{ x }}"),
            companions=[
                apps.PersonInput(
                    name=IMG + "\u202e", phone="+8613700000077", id_number=id_number(77)
                )
            ],
            session_ids=[sessions[0].pk],
            consent=True,
        ).application
        # The visitor who came writes feedback: a comment and a question.
        cls.ticket_a.checked_in_at = NOW
        cls.ticket_a.save(update_fields=["checked_in_at"])
        feedback_submit(ticket=cls.ticket_a, rating=5, comment=LONG, question=LONG)

    @classmethod
    def _hostile_asks(cls) -> None:
        Channel.objects.filter(slug="weibo").update(name=LONG[:100])
        client = cls.client_class()
        response = client.post(
            "/api/v1/asks",
            {
                "text": LONG,
                "author": LONG[:200],
                "url": "javascript:alert(1)",
                "posted_at": "2026-11-24T10:00:00+08:00",
            },
            content_type="application/json",
            headers={"Authorization": f"Bearer {cls.webhook_token}"},
        )
        assert response.status_code == 201, response.content
        response = client.post(
            reverse("desk:ask"),
            {"text": MARKDOWN, "submission_id": "x1", "pow": solved_pow("desk-ask")},
        )
        assert response.status_code == 302, response.content
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["id", "text", "author", "posted_at", "url"])
        writer.writerow(["c1", LONG, LONG[:100], "2026-11-24 11:00", "javascript:alert(1)"])
        writer.writerow(["c2", FORMULA + " ?", FORMULA, "2026-11-24 11:05", "https://x.org"])
        writer.writerow(["c3", "", SCRIPT, "2026-11-24 11:06", ""])  # a rejected row
        cls.export_dir = Path(settings.DATA_DIR) / "xss"
        cls.export_dir.mkdir(exist_ok=True)
        path = cls.export_dir / "export.csv"
        path.write_text(rows.getvalue())
        weibo = Channel.objects.get(slug="weibo")
        run = import_file(channel=weibo, path=path, name=SHORT + ".csv")
        assert run.added == 2, run.errors
        cls.import_run = run
        for day in (DAY, NOW.date()):
            merging.assign_unassigned(day)
        asks = list(weibo.asks.filter(import_run=run))
        triage.asks_split(asks=asks[:1], actor=cls.bob, text=LONG)

    @classmethod
    def _hostile_answers(cls) -> None:
        tags = [Tag.objects.create(slug="xss", name_en=SHORT, name_zh=SHORT)]
        fields = {
            "question_en": LONG,
            "question_zh": LONG,
            "body_en": MARKDOWN,
            "body_zh": MARKDOWN,
        }
        with time_machine.travel(MORNING + dt.timedelta(hours=1)):
            answer = answering.answer_edit(
                answer=cls.answer,
                actor=cls.carol,
                fields=fields,
                version=cls.answer.version,
                tags=tags,
            )
            answer = answering.answer_submit(answer=answer, actor=cls.carol, version=answer.version)
            answer = answering.answer_return(
                answer=answer, actor=cls.dave, version=answer.version, note=LONG
            )
            answer = answering.answer_submit(answer=answer, actor=cls.carol, version=answer.version)
            answer = answering.answer_approve(answer=answer, actor=cls.dave, version=answer.version)
            cls.answer = answering.answer_publish(answer=answer, actor=cls.dave, note=LONG)
            rumour = Question.objects.create(text=LONG, is_rumour=True)
            Question.objects.filter(pk=cls.unanswered.pk).update(text=LONG)
            hook = Channel.objects.get(slug="dealers")
            add_ask(hook, 90, LONG, rumour, posted_at=MORNING)
            clarification = answering.answer_create(
                question=rumour,
                actor=cls.carol,
                fields=fields
                | {
                    "is_clarification": True,
                    "claim_en": MARKDOWN,
                    "claim_zh": LONG,
                    "verdict": "false",
                    "evidence_en": MARKDOWN,
                    "evidence_zh": LONG,
                },
                tags=tags,
            )
            clarification = answering.answer_submit(
                answer=clarification, actor=cls.carol, version=clarification.version
            )
            clarification = answering.answer_approve(
                answer=clarification, actor=cls.dave, version=clarification.version
            )
            cls.clarification = answering.answer_publish(answer=clarification, actor=cls.dave)
            draft_question = Question.objects.create(text=LONG)
            cls.draft = answering.answer_create(
                question=draft_question, actor=cls.carol, fields=fields, tags=tags
            )
        with time_machine.travel(CUTOFF + dt.timedelta(minutes=5)):
            revision, _created = digests.digest_publish(DAY, actor=cls.dave, note=LONG)
        assert revision is not None
        assert revision.number == 2


class PageTests(HostileFixtures):
    def get(self, url: str) -> HttpResponseBase:
        return self.client.get(url)

    def assert_clean(self, response: HttpResponseBase, where: str) -> None:
        content_type = response.get("Content-Type", "")
        if "text/html" not in content_type:
            return
        assert isinstance(response, HttpResponse)
        problems = html_problems(response.content.decode())
        self.assertEqual(problems, [], where)

    def test_no_page_carries_markup_from_the_payloads(self) -> None:
        rows: list[Row] = self.page_rows()
        shown = set()
        for persona in (ANON, "alice"):
            self.login_as(persona)
            for row in rows:
                url = reverse(row.name, kwargs=row.kwargs)
                with self.subTest(persona=persona, url=url):
                    response = self.get(url)
                    self.assert_clean(response, url)
                    if isinstance(response, HttpResponse) and ESCAPED in response.content.decode(
                        errors="replace"
                    ):
                        shown.add(row.name)
        # The payloads did reach the pages (so the check above checked something).
        for name in (
            "desk:question",
            "desk:digest",
            "desk_staff:home",
            "desk_staff:day",
            "desk_staff:question",
            "desk_staff:answer",
            "desk_staff:answers",
            "desk_staff:import",
            "visits:program",
            "visits:programs",
            "visits:application",
            "visits:tickets",
            "visits_staff:program",
            "visits_staff:report",
        ):
            self.assertIn(name, shown)

    def test_more_pages_with_the_hostile_rows(self) -> None:
        application = self.hostile_application
        link = self.link(application)
        self.login_as("alice")
        urls = [
            reverse("visits:application", kwargs=link),
            reverse("visits:application_edit", kwargs=link),
            reverse("desk:question", args=[self.clarification.pk]),
            reverse("desk_staff:answer", args=[self.clarification.pk]),
            reverse("desk_staff:answer", args=[self.draft.pk]),
            reverse("desk_staff:question_answer", args=[self.unanswered.pk]),
            reverse("desk:digest_revision", args=[DAY.isoformat(), 2]),
            reverse("desk_staff:day", args=[NOW.date().isoformat()]),
        ]
        for url in urls:
            with self.subTest(url=url):
                response = self.get(url)
                self.assertEqual(response.status_code, 200)
                self.assert_clean(response, url)
                self.assertContains(response, ESCAPED)

    def test_the_admin_shows_every_model_escaped(self) -> None:
        self.login_as("alice")
        for model in admin.site._registry:
            meta = model._meta
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
            with self.subTest(url=changelist):
                response = self.get(changelist)
                self.assertEqual(response.status_code, 200)
                self.assert_clean(response, changelist)
            first = model._default_manager.order_by("-pk").first()
            if first is not None:
                change = reverse(
                    f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]
                )
                with self.subTest(url=change):
                    response = self.get(change)
                    self.assertEqual(response.status_code, 200)
                    self.assert_clean(response, change)

    def test_query_parameters_are_not_reflected_as_markup(self) -> None:
        self.login_as("alice")
        for name, kwargs, params in (
            ("desk:search", {}, {"q": LONG}),
            ("desk:answered_already", {}, {"text": LONG}),
            ("desk:answers", {}, {"page": LONG, "tag": LONG}),
            ("desk_staff:home", {}, {"q": LONG, "channel": LONG, "page": LONG}),
            ("desk_staff:answers", {}, {"status": LONG, "q": LONG}),
            ("accounts:login", {}, {"next": "javascript:alert(1)"}),
            ("visits_staff:gate_session", {"session_id": self.session.pk}, {"code": LONG}),
        ):
            url = reverse(name, kwargs=kwargs)
            with self.subTest(url=url):
                response = self.client.get(url, params)
                self.assertLess(response.status_code, 500)
                self.assert_clean(response, url)

    def test_the_gate_shows_names_and_its_own_name_escaped(self) -> None:
        ticket = self.ticket_b
        url = reverse("visits_staff:gate_session", args=[ticket.session_id])
        with time_machine.travel(ticket.session.starts_at, tick=False):
            self.login_as("gus")
            for headers in ({}, {"HX-Request": "true"}):
                response = self.client.post(
                    url, {"code": ticket.code, "gate": LONG}, headers=headers
                )
                self.assertEqual(response.status_code, 200)
                self.assert_clean(response, url)
                self.assertContains(response, ESCAPED)
            response = self.client.get(url)
            self.assert_clean(response, url)

    def test_a_nul_typed_into_a_bare_field_is_dropped_not_a_500(self) -> None:
        """The notes and the gate's name are read from the POST, not through
        a form field that refuses NUL; PostgreSQL's text cannot hold one."""
        self.login_as("alice")
        day = DAY.isoformat()
        with transaction.atomic():
            response = self.client.post(
                reverse("desk_staff:digest", args=[day]), {"note": "a\x00b"}
            )
            self.assertEqual(response.status_code, 302)
            transaction.set_rollback(True)
        draft = self.draft
        self.client.post(
            reverse("desk_staff:answer_step", args=[draft.pk]),
            {"step": "submit", "version": draft.version},
        )
        draft.refresh_from_db()
        response = self.client.post(
            reverse("desk_staff:answer_step", args=[draft.pk]),
            {"step": "return", "version": draft.version, "note": "fix\x00 it"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(draft.revisions.latest("id").note, "fix it")
        ticket = self.ticket_b
        with time_machine.travel(ticket.session.starts_at, tick=False):
            self.login_as("gus")
            url = reverse("visits_staff:gate_session", args=[ticket.session_id])
            response = self.client.post(url, {"code": ticket.code, "gate": "North\x00"})
        self.assertEqual(response.status_code, 200)
        ticket.refresh_from_db()
        self.assertEqual(ticket.gate, "North")

    def test_control_characters_in_a_name_are_dropped(self) -> None:
        """The API's names reach the service unchecked; NUL used to fail the
        insert on PostgreSQL."""
        sessions = list(self.open_program.sessions.order_by("starts_at"))
        application = apps.application_submit(
            program=self.open_program,
            contact=contact(self.open_program, "+8613700000009"),
            lead=apps.PersonInput(name="Li\x00 Lei\r\n\x1b[31m"),
            companions=[],
            session_ids=[sessions[0].pk],
            consent=True,
        ).application
        self.assertEqual(application.members.get().name, "Li Lei [31m")

    def test_a_login_never_redirects_to_a_script_or_another_site(self) -> None:
        self.client.logout()
        for target in ("javascript:alert(1)", "https://evil.example.org/", "//evil.example.org"):
            response = self.client.post(
                reverse("accounts:login") + "?next=" + target,
                {"username": "bob", "password": "correct horse battery staple", "next": target},
            )
            self.assertEqual(response.status_code, 302)
            self.assertEqual(response["Location"], reverse("staff_home"))

    def test_a_staff_name_cannot_carry_markup(self) -> None:
        with transaction.atomic(), self.assertRaises(ValidationError):
            staff_create(username=SCRIPT, password="x" * 20, roles=[])


class FeedTests(HostileFixtures):
    def test_the_atom_feeds_are_well_formed_and_their_html_is_clean(self) -> None:
        ns = {"a": "http://www.w3.org/2005/Atom"}
        for lang in ("en", "zh"):
            response = self.client.get(reverse("desk:feed", args=[lang]))
            self.assertEqual(response.status_code, 200)
            root = ET.fromstring(response.content)
            entries = root.findall("a:entry", ns)
            self.assertTrue(entries)
            seen = ""
            for element in root.iter():
                if element.get("type") == "html" or element.tag.endswith(("summary", "content")):
                    html = element.text or ""
                    self.assertEqual(html_problems(html), [], lang)
                    seen += html
            self.assertIn(ESCAPED, seen)

    def test_the_digest_json_and_text_are_served_as_data_not_html(self) -> None:
        day = DAY.isoformat()
        response = self.client.get(reverse("desk:digest_json", args=[day]))
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        data = response.json()
        text = json.dumps(data, ensure_ascii=False)
        self.assertIn(SCRIPT, text)  # kept as written: JSON is data
        for key, value in _walk(data):
            if key.endswith("html"):
                self.assertEqual(html_problems(str(value)), [], key)
        for lang in ("en", "zh"):
            response = self.client.get(reverse("desk:digest_text", args=[day, lang]))
            self.assertTrue(response["Content-Type"].startswith("text/plain"))
            self.assertEqual(response["X-Content-Type-Options"], "nosniff")
            self.assertIn(SCRIPT, response.content.decode())

    def test_the_digest_image_draws_the_payloads_as_text(self) -> None:
        revision = DigestRevision.objects.get(digest__date=DAY, number=2)
        for lang in ("en", "zh"):
            response = self.client.get(reverse("desk:digest_png", args=[DAY.isoformat(), lang]))
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response["Content-Type"], "image/png")
            self.assertTrue(response.content.startswith(b"\x89PNG\r\n\x1a\n"))
            with translation.override(formats.DJANGO_LANGUAGE[lang]):
                layout = lay_out_digest(
                    formats.image_snapshot(revision.snapshot, lang),
                    language=lang,
                    labels=formats.image_labels(),
                    width=1080,
                )
            drawn = "".join(
                run[2] for op in layout.ops if isinstance(op, TextOp) for run in op.runs
            )
            drawn = re.sub(r"\s", "", drawn)
            # The question, drawn as typed (bidi override dropped), not as markup.
            self.assertIn(re.sub(r"\s", "", LONG[:60]), drawn)
            self.assertIn("{{7|add:7}}", drawn)
            self.assertNotIn("14", drawn.replace("2026-11-24", ""))


class ExportTests(HostileFixtures):
    def test_the_report_csv_neutralises_formulas(self) -> None:
        self.login_as("alice")
        response = self.client.get(
            reverse("visits_staff:report_csv", args=[self.open_program.slug])
        )
        self.assertEqual(response.status_code, 200)
        text = response.content.decode("utf-8-sig")
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        # The label follows the session's time, so it never starts a cell.
        self.assertTrue(any(cell.endswith(" · " + FORMULA) for cell in cells))
        for cell in cells:
            self.assertFalse(cell.startswith(("=", "+", "@", "\t", "\r")), cell)
            self.assertFalse(cell.startswith("-") and not _is_number(cell), cell)

    def test_calendar_files_keep_each_payload_in_its_own_property(self) -> None:
        self.login_as(ANON)
        feeds = [
            self.client.get(reverse("visits:calendar", args=[self.open_program.slug])),
            self.client.get(reverse("visits:tickets_ics", kwargs=self.link(self.a))),
        ]
        sessions = self.open_program.sessions.count()
        for response, events in zip(feeds, (sessions, 1), strict=True):
            self.assertEqual(response.status_code, 200)
            body = response.content.decode()
            self.assertNotRegex(body, r"[^\r]\n|\r(?!\n)")  # CRLF line ends only
            lines = body.replace("\r\n ", "").split("\r\n")[:-1]
            names = [re.match(r"[A-Z-]+", line).group(0) for line in lines]  # type: ignore[union-attr]
            self.assertEqual(names.count("BEGIN"), events + 1, body)
            self.assertNotIn("ATTENDEE", names)
            self.assertNotIn("X-EVIL", names)
            self.assertLessEqual(
                set(names),
                {
                    "BEGIN",
                    "END",
                    "VERSION",
                    "PRODID",
                    "CALSCALE",
                    "METHOD",
                    "X-WR-CALNAME",
                    "UID",
                    "DTSTAMP",
                    "DTSTART",
                    "DTEND",
                    "SUMMARY",
                    "LOCATION",
                    "DESCRIPTION",
                    "STATUS",
                },
            )
            for line in lines:
                self.assertIsNone(re.search(r"[\x00-\x08\x0a-\x1f\x7f]", line), line)


def _walk(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)
    else:
        yield key, value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
