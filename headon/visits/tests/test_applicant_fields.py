"""What a program asks beyond names and phones: ages against its minimum,
accessibility needs, an emergency contact and its own questions
(services/applicant_fields.py, decision 26), including what a script would
send to get around them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import time_machine
from django.test import TestCase
from django.urls import reverse
from django.utils import translation

from headon import sms
from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits import questions
from headon.visits.errors import VisitError
from headon.visits.models import Application, Offer, PartyMember, Program, Session
from headon.visits.services import offers
from headon.visits.services.applicant_fields import Extras
from headon.visits.services.applications import (
    PersonInput,
    access_token,
    application_change,
    application_submit,
)
from headon.visits.services.people import mask_phone_number, seal
from headon.visits.services.programs import program_duplicate
from headon.visits.services.retention import erase_program
from headon.visits.tests.factories import PHONE, contact, make_program, solved_pow
from headon.visits.tests.test_draws import drawn, make_application

NOW = dt.datetime(2027, 1, 10, 4, 0, tzinfo=dt.UTC)
FRIEND = "+8613700001111"
KID = "+8613700002222"
MUM = "+8613700003333"
ADULT = dt.date(1985, 6, 1)
# 8 on 2027-02-15 (the first session in the factories), not on 2027-02-14.
EIGHT_ON_THE_DAY = dt.date(2019, 2, 15)
SEVEN_ON_THE_DAY = dt.date(2019, 2, 16)

HEARD = {
    "key": "heard",
    "label_en": "How did you hear about us?",
    "label_zh": "您是从哪里得知本次开放日的？",
    "kind": "choice",
    "required": True,
    "choices": [
        {"key": "c1", "label_en": "WeChat", "label_zh": "微信"},
        {"key": "c2", "label_en": "A friend", "label_zh": "朋友介绍"},
    ],
}
WISH = {
    "key": "wish",
    "label_en": "Anything you hope to see?",
    "label_zh": "您最想看到什么？",
    "kind": "text",
    "required": False,
}


def asking_program(**fields: Any) -> Program:
    values: dict[str, Any] = {
        "minimum_age": 8,
        "ask_accessibility": True,
        "ask_emergency_contact": True,
        "questions": [HEARD, WISH],
    }
    values.update(fields)
    return make_program(**values)


@time_machine.travel(NOW, tick=False)
class AgeTests(TestCase):
    def setUp(self) -> None:
        self.program = asking_program()
        self.sessions = list(self.program.sessions.order_by("starts_at"))

    def submit(
        self,
        lead_born: dt.date | None = ADULT,
        kids: list[dt.date | None] | None = None,
        **kwargs: Any,
    ):
        companions = [
            PersonInput(name=f"Kid {n}", phone=phone, birth_date=born)
            for n, (phone, born) in enumerate(zip([KID, FRIEND], kids or [], strict=False), start=1)
        ]
        values: dict[str, Any] = {
            "program": self.program,
            "contact": contact(self.program),
            "lead": PersonInput(name="Li Lei", birth_date=lead_born),
            "companions": companions,
            "session_ids": [self.sessions[0].pk],
            "consent": True,
            "extras": Extras(
                emergency_name="Wang Fang", emergency_phone=MUM, answers={"heard": "c1"}
            ),
        }
        values.update(kwargs)
        return application_submit(**values)

    def refused(self, **kwargs: Any) -> VisitError:
        with self.assertRaises(VisitError) as caught:
            self.submit(**kwargs)
        return caught.exception

    def test_an_adult_with_a_child_of_the_minimum_age_is_accepted_and_kept(self) -> None:
        application = self.submit(kids=[EIGHT_ON_THE_DAY]).application
        births = [m.birth_date for m in application.members.order_by("position")]
        self.assertEqual(births, [ADULT, EIGHT_ON_THE_DAY])

    def test_a_child_younger_on_the_earliest_session_chosen_is_refused_by_position(self) -> None:
        error = self.refused(kids=[EIGHT_ON_THE_DAY, SEVEN_ON_THE_DAY])
        self.assertEqual((error.code, error.position, error.field), ("too_young", 2, "birth_date"))
        self.assertIn("companion 2", error.message)
        self.assertIn("8", error.message)
        with translation.override("zh-hans"):
            self.assertIn("同行人 2", error.message)

    def test_ages_are_measured_on_the_earliest_choice_so_a_later_session_alone_passes(
        self,
    ) -> None:
        # Eight by the second session (a week later), not the first.
        self.submit(kids=[SEVEN_ON_THE_DAY], session_ids=[self.sessions[1].pk])
        error = self.refused(
            kids=[SEVEN_ON_THE_DAY],
            session_ids=[self.sessions[1].pk, self.sessions[0].pk],
            contact=contact(self.program, "+8613811112222"),
        )
        self.assertEqual(error.code, "too_young")

    def test_a_party_of_only_minors_is_refused(self) -> None:
        error = self.refused(lead_born=dt.date(2012, 1, 1), kids=[dt.date(2011, 1, 1)])
        self.assertEqual((error.code, error.position), ("minor_needs_adult", 0))

    def test_the_lead_must_be_the_adult(self) -> None:
        error = self.refused(lead_born=dt.date(2012, 1, 1), kids=[ADULT])
        self.assertEqual((error.code, error.position), ("lead_not_adult", 0))

    def test_a_birth_date_in_the_future_or_in_1800_is_refused(self) -> None:
        for born in (dt.date(2027, 6, 1), dt.date(1800, 1, 1)):
            error = self.refused(kids=[born])
            self.assertEqual((error.code, error.position), ("birth_date_invalid", 1))

    def test_a_missing_birth_date_is_refused_naming_the_person(self) -> None:
        error = self.refused(kids=[None])
        self.assertEqual((error.code, error.position), ("birth_date_required", 1))

    def test_without_a_minimum_age_no_birth_date_is_asked_or_kept(self) -> None:
        Program.objects.filter(pk=self.program.pk).update(minimum_age=None)
        self.program.refresh_from_db()
        application = self.submit(lead_born=None, kids=[dt.date(2020, 1, 1)]).application
        self.assertEqual({m.birth_date for m in application.members.all()}, {None})

    def test_a_change_that_leaves_no_adult_is_refused_and_changes_nothing(self) -> None:
        application = self.submit(kids=[EIGHT_ON_THE_DAY]).application
        with self.assertRaises(VisitError) as caught:
            application_change(
                application=application,
                lead=PersonInput(name="Li Lei", birth_date=dt.date(2013, 1, 1)),
                companions=[PersonInput(name="Kid 1", phone=KID, birth_date=EIGHT_ON_THE_DAY)],
                session_ids=[self.sessions[0].pk],
                extras=Extras(emergency_name="Wang Fang", answers={"heard": "c1"}),
            )
        self.assertEqual(caught.exception.code, "minor_needs_adult")
        self.assertEqual(application.members.get(position=0).birth_date, ADULT)


@time_machine.travel(NOW, tick=False)
class ExtraFieldTests(TestCase):
    def setUp(self) -> None:
        self.program = asking_program(minimum_age=None)
        self.sessions = list(self.program.sessions.order_by("starts_at"))

    def submit(self, **extras: Any):
        values: dict[str, Any] = {
            "emergency_name": "Wang Fang",
            "emergency_phone": MUM,
            "answers": {"heard": "c2"},
        }
        values.update(extras)
        return application_submit(
            program=self.program,
            contact=contact(self.program),
            lead=PersonInput(name="Li Lei"),
            companions=[PersonInput(name="Han Meimei", phone=FRIEND)],
            session_ids=[self.sessions[0].pk],
            consent=True,
            extras=Extras(**values),
        )

    def refused(self, **extras: Any) -> VisitError:
        with self.assertRaises(VisitError) as caught:
            self.submit(**extras)
        return caught.exception

    def test_the_fields_are_kept_with_the_phone_sealed_and_masked(self) -> None:
        application = self.submit(
            accessibility_needs="Wheelchair\x00 user", answers={"heard": "c2", "wish": " Ovens "}
        ).application
        application.refresh_from_db()
        self.assertEqual(application.accessibility_needs, "Wheelchair user")
        self.assertEqual(application.emergency_name, "Wang Fang")
        self.assertNotIn("0003333", application.emergency_phone_sealed)
        self.assertTrue(application.emergency_phone_masked.endswith("3333"))
        self.assertEqual(
            application.answers, [{"q": "heard", "c": "c2"}, {"q": "wish", "a": "Ovens"}]
        )

    def test_an_answer_to_an_unknown_question_is_refused(self) -> None:
        error = self.refused(answers={"heard": "c1", "admin": "yes"})
        self.assertEqual(error.code, "answer_unknown_question")

    def test_a_choice_not_offered_is_refused_naming_the_question(self) -> None:
        error = self.refused(answers={"heard": "c9"})
        self.assertEqual((error.code, error.field), ("answer_not_a_choice", "answer_heard"))
        self.assertIn("How did you hear about us?", error.message)
        with translation.override("zh-hans"):
            self.assertIn("您是从哪里得知本次开放日的？", error.message)

    def test_a_required_question_left_blank_is_refused(self) -> None:
        self.assertEqual(self.refused(answers={"heard": "  "}).code, "answer_required")
        self.assertEqual(self.refused(answers={}).code, "answer_required")

    def test_ten_thousand_characters_are_refused_not_cut(self) -> None:
        long = "x" * 10_000
        self.assertEqual(
            self.refused(answers={"heard": "c1", "wish": long}).code, "answer_too_long"
        )
        self.assertEqual(self.refused(accessibility_needs=long).code, "accessibility_too_long")

    def test_the_emergency_contact_cannot_be_on_the_visit(self) -> None:
        for phone in (PHONE, FRIEND, "138 1234 5678"):
            error = self.refused(emergency_phone=phone)
            self.assertEqual(
                (error.code, error.field), ("emergency_phone_in_party", "emergency_phone")
            )
        self.assertEqual(self.refused(emergency_phone="").code, "emergency_phone_required")
        self.assertEqual(self.refused(emergency_phone="12").code, "emergency_phone_invalid")
        self.assertEqual(self.refused(emergency_name=" ").code, "emergency_name_required")

    def test_what_the_program_does_not_ask_is_dropped(self) -> None:
        Program.objects.filter(pk=self.program.pk).update(
            ask_accessibility=False, ask_emergency_contact=False, questions=[]
        )
        self.program.refresh_from_db()
        with self.assertRaises(VisitError):
            self.submit(accessibility_needs="Ramp")  # the answer is to no question now
        application = self.submit(accessibility_needs="Ramp", answers={}).application
        application.refresh_from_db()
        self.assertEqual(
            (application.accessibility_needs, application.emergency_name, application.answers),
            ("", "", []),
        )

    def test_a_change_keeps_the_emergency_phone_left_empty(self) -> None:
        application = self.submit().application
        changed = application_change(
            application=application,
            lead=PersonInput(name="Li Lei"),
            companions=[],
            session_ids=[self.sessions[1].pk],
            extras=Extras(emergency_name="Wang Fang", answers={"heard": "c1"}),
        )
        changed.refresh_from_db()
        self.assertTrue(changed.emergency_phone_masked.endswith("3333"))
        self.assertEqual(changed.answers, [{"q": "heard", "c": "c1"}])


class QuestionListTests(TestCase):
    def test_a_stored_answer_outlives_an_edited_or_removed_question(self) -> None:
        edited = dict(HEARD, label_en="Where did you hear of us?")
        removed = dict(WISH, removed=True)
        shown = questions.shown_answers(
            questions.parse([edited, removed]),
            [{"q": "heard", "c": "c2"}, {"q": "wish", "a": "Ovens"}, {"q": "gone", "a": "x"}],
            chinese=False,
            removed_label="removed question",
        )
        self.assertEqual(
            [(s.question, s.answer, s.removed) for s in shown],
            [
                ("Where did you hear of us?", "A friend", False),
                ("Anything you hope to see? (removed question)", "Ovens", True),
                ("gone (removed question)", "x", True),
            ],
        )

    def test_the_json_shape_is_checked(self) -> None:
        for bad in (
            {"not": "a list"},
            [dict(HEARD, kind="file")],
            [dict(HEARD, choices=[])],
            [dict(HEARD, label_zh="")],
            [HEARD, HEARD],
            [dict(WISH, key=f"q{n}") for n in range(6)],
        ):
            with self.assertRaises(ValueError):
                questions.parse(bad)

    def test_a_program_with_malformed_questions_does_not_validate(self) -> None:
        from django.core.exceptions import ValidationError

        program = Program(questions=[dict(HEARD, kind="file")])
        with self.assertRaises(ValidationError) as caught:
            program.clean()
        self.assertIn("questions", caught.exception.message_dict)
        Program(questions=[HEARD, WISH]).clean()

    def test_choices_typed_again_keep_their_keys(self) -> None:
        earlier = questions.parse([HEARD])[0].choices
        merged = questions.merge_choices(
            earlier, [("A friend", "朋友"), ("Posters", "海报"), ("WeChat", "微信")]
        )
        self.assertEqual([c.key for c in merged], ["c2", "c3", "c1"])

    def test_age_is_whole_years_on_the_day(self) -> None:
        self.assertEqual(questions.age_on(dt.date(2019, 2, 15), dt.date(2027, 2, 15)), 8)
        self.assertEqual(questions.age_on(dt.date(2019, 2, 16), dt.date(2027, 2, 15)), 7)
        self.assertEqual(questions.age_on(dt.date(2016, 2, 29), dt.date(2027, 2, 28)), 10)


@time_machine.travel(NOW, tick=False)
class ApplyPageTests(TestCase):
    """The public form shows the program's own fields only when it asks
    them, and a refusal keeps everything typed."""

    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = asking_program()
        self.sessions = list(self.program.sessions.order_by("starts_at"))

    def verify(self) -> None:
        self.client.post(
            reverse("visits:apply", args=[self.program.slug]),
            {"channel": "phone", "destination": "138 1234 5678", "pow": solved_pow("visits-code")},
        )
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        self.client.post(reverse("visits:apply_verify", args=[self.program.slug]), {"code": code})

    def form_data(self, **extra: str) -> dict[str, str]:
        data = {
            "lead_name": "李雷",
            "lead_birth_date": "1985-06-01",
            "companion_1_name": "李小雷",
            "companion_1_phone": "137 0000 2222",
            "companion_1_birth_date": "2019-02-15",
            "choice_1": str(self.sessions[0].pk),
            "accessibility_needs": "需要轮椅通道",
            "emergency_name": "王芳",
            "emergency_phone": "137 0000 3333",
            "answer_heard": "c2",
            "answer_wish": "烤炉",
            "consent": "on",
            "submission_id": "abc123",
            "pow": solved_pow("visits-apply"),
        }
        data.update(extra)
        return data

    def test_the_fields_show_only_when_the_program_asks_them(self) -> None:
        self.verify()
        url = reverse("visits:apply_form", args=[self.program.slug])
        page = self.client.get(url, headers={"accept-language": "zh-hans"})
        for text in ("您是从哪里得知本次开放日的？", "朋友介绍", 'type="date"', "紧急联系人"):
            self.assertContains(page, text)
        Program.objects.filter(pk=self.program.pk).update(
            minimum_age=None, ask_accessibility=False, ask_emergency_contact=False, questions=[]
        )
        page = self.client.get(url)
        for text in ("How did you hear", 'type="date"', "Emergency contact", "Accessibility"):
            self.assertNotContains(page, text)

    def test_a_refusal_names_the_person_and_keeps_what_was_typed(self) -> None:
        self.verify()
        url = reverse("visits:apply_form", args=[self.program.slug])
        response = self.client.post(
            url,
            self.form_data(companion_1_birth_date="2019-02-16"),
            headers={"accept-language": "zh-hans"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "同行人 1")
        for typed in ("需要轮椅通道", "王芳", "137 0000 3333", "烤炉", "2019-02-16", "1985-06-01"):
            self.assertContains(response, typed)
        self.assertFalse(Application.objects.exists())
        response = self.client.post(
            url,
            self.form_data(submission_id="second"),
            follow=True,
            headers={"accept-language": "zh-hans"},
        )
        application = Application.objects.get()
        # The receipt says what was told, in the reader's language.
        for told in ("需要轮椅通道", "王芳", "朋友介绍", "烤炉", "137****3333"):
            self.assertContains(response, told)
        self.assertEqual(application.accessibility_needs, "需要轮椅通道")
        self.assertEqual(
            application.answers, [{"q": "heard", "c": "c2"}, {"q": "wish", "a": "烤炉"}]
        )

    def test_a_refusal_names_the_row_the_person_is_in_after_an_empty_one(self) -> None:
        self.verify()
        body = self.form_data(
            companion_1_name="",
            companion_1_phone="",
            companion_1_birth_date="",
            companion_2_name="李小雷",
            companion_2_phone="137 0000 2222",
            companion_2_birth_date="2019-02-16",
        )
        response = self.client.post(reverse("visits:apply_form", args=[self.program.slug]), body)
        form = response.context["form"]
        self.assertIn("companion 2", form.errors["companion_2_birth_date"][0])
        self.assertNotIn("companion_1_birth_date", form.errors)

    def test_the_change_page_is_filled_and_keeps_the_emergency_phone(self) -> None:
        self.verify()
        url = reverse("visits:apply_form", args=[self.program.slug])
        self.client.post(url, self.form_data())
        application = Application.objects.get()
        edit = reverse(
            "visits:application_edit",
            args=[self.program.slug, application.reference, access_token(application)],
        )
        page = self.client.get(edit)
        for text in (
            "需要轮椅通道",
            "王芳",
            "2019-02-15",
            "烤炉",
            application.emergency_phone_masked,
        ):
            self.assertContains(page, text)
        body = self.form_data(emergency_phone="", answer_heard="c1")
        response = self.client.post(edit, body)
        self.assertEqual(response.status_code, 302)
        application.refresh_from_db()
        self.assertEqual(application.answers[0], {"q": "heard", "c": "c1"})
        self.assertTrue(application.emergency_phone_masked.endswith("3333"))


class ProgramEditTests(PersonasTestCase):
    def post(self, program: Program, **extra: str) -> Any:
        body = {
            "slug": program.slug,
            "title_en": program.title_en,
            "title_zh": program.title_zh,
            "party_size_max": "4",
            "choices_max": "3",
            "minimum_age": "8",
            "ask_accessibility": "on",
            "ask_emergency_contact": "on",
        }
        body.update(extra)
        return self.client.post(reverse("visits_staff:program_edit", args=[program.slug]), body)

    def test_a_coordinator_sets_the_fields_and_questions_in_both_languages(self) -> None:
        program = make_program()
        self.client.force_login(self.erin)
        response = self.post(
            program,
            question_1_label_en="How did you hear about us?",
            question_1_label_zh="您是从哪里得知本次开放日的？",
            question_1_kind="choice",
            question_1_required="on",
            question_1_choices="WeChat | 微信\nA friend | 朋友介绍",
            question_2_label_en="Anything you hope to see?",
            question_2_label_zh="您最想看到什么？",
        )
        self.assertEqual(response.status_code, 302)
        program.refresh_from_db()
        self.assertEqual((program.minimum_age, program.ask_accessibility), (8, True))
        heard, wish = program.question_list()
        self.assertEqual((heard.kind, heard.required, len(heard.choices)), ("choice", True, 2))
        self.assertEqual((wish.kind, wish.label_zh), ("text", "您最想看到什么？"))
        page = self.client.get(reverse("visits_staff:program_edit", args=[program.slug]))
        self.assertContains(page, "A friend | 朋友介绍")
        self.assertContains(page, f'value="{heard.key}"')

        # Removed: kept, marked, so its answers stay readable.
        response = self.post(
            program,
            question_1_key=heard.key,
            question_1_label_en="Where did you hear of us?",
            question_1_label_zh="您是从哪里得知本次开放日的？",
            question_1_kind="choice",
            question_1_choices="WeChat | 微信\nA friend | 朋友介绍",
        )
        self.assertEqual(response.status_code, 302)
        program.refresh_from_db()
        edited, removed = program.question_list()
        self.assertEqual((edited.key, edited.label_en), (heard.key, "Where did you hear of us?"))
        self.assertEqual((removed.key, removed.removed), (wish.key, True))
        self.assertEqual([q.key for q in program.asked_questions()], [heard.key])

    def test_a_question_in_one_language_or_a_choice_without_answers_is_refused(self) -> None:
        program = make_program()
        self.client.force_login(self.erin)
        response = self.post(program, question_1_label_en="Only English")
        self.assertContains(response, "Give the question in English and in Chinese.")
        response = self.post(
            program,
            question_1_label_en="Pick",
            question_1_label_zh="选择",
            question_1_kind="choice",
            question_1_choices="Just one | 一个",
        )
        self.assertContains(response, "Write between 2 and 12 answers")
        self.assertContains(response, "Just one | 一个")  # kept, to fix
        program.refresh_from_db()
        self.assertEqual(program.questions, [])


class StaffViewTests(PersonasTestCase):
    """The party page and the gate list show what the program asked; the
    emergency phone is masked until a logged reveal."""

    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = asking_program(slug="asking-days", sessions=1, capacity=4)
        session = cls.program.sessions.get()
        application = make_application(cls.program, 1, 2, [session])
        Application.objects.filter(pk=application.pk).update(
            accessibility_needs="=1+1 Wheelchair",
            emergency_name="Wang Fang",
            emergency_phone_masked=mask_phone_number(MUM),
            emergency_phone_sealed=seal(MUM),
            answers=[{"q": "heard", "c": "c2"}, {"q": "gone", "a": "A removed one's answer"}],
        )
        PartyMember.objects.filter(application=application, position=0).update(birth_date=ADULT)
        PartyMember.objects.filter(application=application, position=1).update(
            birth_date=EIGHT_ON_THE_DAY
        )
        drawn(cls.program)
        offers.offer_confirm(Offer.objects.get(application=application))
        cls.session = session

    def test_the_party_page_shows_ages_needs_contact_and_answers(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:party", args=[self.program.slug, "T00001"])
        page = self.client.get(url)
        for text in ("Wheelchair", "Wang Fang", mask_phone_number(MUM), "A friend", "under 18"):
            self.assertContains(page, text)
        self.assertContains(page, "gone (removed question)")
        self.assertContains(page, "A removed one&#x27;s answer")
        self.assertNotContains(page, MUM)
        revealed = self.client.post(url)
        self.assertContains(revealed, MUM)
        event = AuditEvent.objects.get(action="party_reveal")
        self.assertIn("emergency_phone", event.data["fields"])

    def test_the_gate_list_has_the_columns_the_gate_and_security_need(self) -> None:
        self.client.force_login(self.erin)
        url = reverse("visits_staff:gate_list_csv", args=[self.program.slug, self.session.pk])
        text = self.client.get(url).content.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        self.assertEqual(
            rows[1][8:],
            [
                "Under 18",
                "Accessibility needs",
                "Emergency contact",
                "How did you hear about us?",
                "Anything you hope to see?",
            ],
        )
        self.assertEqual([r[8] for r in rows[2:]], ["no", "yes"])
        self.assertEqual(rows[2][9], "'=1+1 Wheelchair")  # a formula is not run
        self.assertEqual(rows[2][10], "Wang Fang · " + mask_phone_number(MUM))
        self.assertEqual(rows[2][11:], ["A friend", ""])
        self.assertNotIn(MUM, text)
        printed = self.client.get(
            reverse("visits_staff:gate_list", args=[self.program.slug, self.session.pk]),
            headers={"accept-language": "zh-hans"},
        )
        self.assertContains(printed, "Wang Fang · " + mask_phone_number(MUM))
        self.assertNotContains(printed, MUM)


@time_machine.travel(NOW, tick=False)
class ApiTests(TestCase):
    """The API reads and returns the same fields, with the same rules."""

    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = asking_program()
        self.base = f"/api/v1/programs/{self.program.slug}"
        self.session_ids = list(
            self.program.sessions.order_by("starts_at").values_list("pk", flat=True)
        )

    def post(self, url: str, body: dict[str, Any]) -> Any:
        return self.client.post(url, body, content_type="application/json")

    def token(self) -> str:
        self.post(
            f"{self.base}/codes",
            {"channel": "phone", "destination": "13812345678", "pow": solved_pow("visits-code")},
        )
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        response = self.post(
            f"{self.base}/codes/verify",
            {"channel": "phone", "destination": "13812345678", "code": code},
        )
        return str(response.json()["verification_token"])

    def party(self, **extra: Any) -> dict[str, Any]:
        return {
            "lead": {"name": "Li Lei", "birth_date": "1985-06-01"},
            "companions": [{"name": "Li Xiaolei", "phone": KID, "birth_date": "2019-02-15"}],
            "choices": self.session_ids[:1],
            "accessibility_needs": "Wheelchair",
            "emergency_contact": {"name": "Wang Fang", "phone": MUM},
            "answers": {"heard": "c1", "wish": "Ovens"},
            "pow": solved_pow("visits-apply"),
        } | extra

    def apply(self, token: str = "", **extra: Any) -> Any:
        body = self.party(verification_token=token or self.token(), consent=True, **extra)
        return self.post(f"{self.base}/applications", body)

    def test_the_program_says_what_it_asks_and_an_application_round_trips(self) -> None:
        program = self.client.get(self.base).json()
        self.assertEqual(program["minimum_age"], 8)
        self.assertTrue(program["ask_emergency_contact"])
        self.assertEqual([q["key"] for q in program["questions"]], ["heard", "wish"])
        self.assertEqual(program["questions"][0]["choices"][1]["label_zh"], "朋友介绍")
        created = self.apply()
        self.assertEqual(created.status_code, 201, created.content)
        body = created.json()
        self.assertEqual([m["birth_date"] for m in body["members"]], ["1985-06-01", "2019-02-15"])
        self.assertEqual(body["accessibility_needs"], "Wheelchair")
        self.assertEqual(body["emergency_contact"]["name"], "Wang Fang")
        self.assertNotIn(MUM, created.content.decode())
        self.assertEqual(
            body["answers"],
            [
                {"question": "heard", "text": None, "choice": "c1"},
                {"question": "wish", "text": "Ovens", "choice": None},
            ],
        )

    def test_a_party_of_only_minors_is_refused_with_a_code(self) -> None:
        response = self.apply(lead={"name": "Kid", "birth_date": "2012-03-01"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "minor_needs_adult")
        self.assertFalse(Application.objects.exists())

    def test_hostile_answers_are_refused(self) -> None:
        token = self.token()
        for answers, expected in (
            ({"heard": "c1", "isadmin": "1"}, "answer_unknown_question"),
            ({"heard": "c99"}, "answer_not_a_choice"),
            ({"wish": "Ovens"}, "answer_required"),
            ({"heard": "c1", "wish": "x" * 10_000}, 422),
        ):
            with self.subTest(answers=list(answers)):
                response = self.apply(token, answers=answers)
                if expected == 422:
                    self.assertEqual(response.status_code, 422)
                else:
                    self.assertEqual(response.json()["code"], expected)
        self.assertEqual(
            self.apply(token, lead={"name": "Li", "birth_date": "1800-01-01"}).json()["code"],
            "birth_date_invalid",
        )
        self.assertFalse(Application.objects.exists())

    def test_a_change_that_removes_the_adult_is_refused(self) -> None:
        created = self.apply().json()
        url = f"/api/v1/applications/{created['reference']}"
        body = self.party(lead={"name": "Li Lei", "birth_date": "2015-01-01"})
        response = self.client.put(
            url,
            body,
            content_type="application/json",
            headers={"X-Access-Token": created["access_token"]},
        )
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "minor_needs_adult")
        self.assertEqual(
            str(Application.objects.get().members.get(position=0).birth_date), "1985-06-01"
        )


@time_machine.travel(NOW, tick=False)
class KeepingTests(TestCase):
    def test_the_retention_job_erases_what_was_asked(self) -> None:
        program = asking_program()
        session = program.sessions.order_by("starts_at").first()
        assert session is not None
        application_submit(
            program=program,
            contact=contact(program),
            lead=PersonInput(name="Li Lei", birth_date=ADULT),
            companions=[],
            session_ids=[session.pk],
            consent=True,
            extras=Extras(
                accessibility_needs="Ramp",
                emergency_name="Wang Fang",
                emergency_phone=MUM,
                answers={"heard": "c1", "wish": "Ovens"},
            ),
        )
        erase_program(program)
        application = Application.objects.get()
        self.assertEqual(
            (
                application.accessibility_needs,
                application.emergency_name,
                application.emergency_phone_masked,
                application.emergency_phone_sealed,
                application.answers,
            ),
            ("", "", "", "", []),
        )
        self.assertIsNone(application.members.get().birth_date)

    def test_a_copy_for_next_year_asks_the_same_without_the_removed_questions(self) -> None:
        program = asking_program(questions=[HEARD, dict(WISH, removed=True)])
        copy = program_duplicate(program=program, slug="next-year")
        self.assertEqual(
            (copy.minimum_age, copy.ask_accessibility, copy.ask_emergency_contact),
            (8, True, True),
        )
        self.assertEqual([q.key for q in copy.question_list()], ["heard"])
