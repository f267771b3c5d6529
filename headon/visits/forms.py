from __future__ import annotations

from dataclasses import replace
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from headon.antibot.forms import ProofOfWorkField
from headon.antibot.services import retry_owner
from headon.visits import questions
from headon.visits.models import Application, Program, Session
from headon.visits.services.applicant_fields import ACCESSIBILITY_MAX, Extras
from headon.visits.services.applications import PersonInput

# What <input type="date"> sends whatever the page's language.
HTML_DATE = "%Y-%m-%d"


def session_label(session: Session) -> str:
    return session.both_label


class ContactForm(forms.Form):
    """The lead's own mobile phone: the code goes there, and it is what
    identifies them (an e-mail address identifies nobody)."""

    channel = Application.ContactKind.PHONE
    destination = forms.CharField(
        label=_("Your mobile phone number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    pow = ProofOfWorkField(scope="visits-code")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ApplicationForm(forms.Form):
    """The party and the choices. Names, phones and ID numbers are checked by
    the service, which knows the program's rules; this form checks shape."""

    lead_name = forms.CharField(label=_("Your name"), max_length=100)
    lead_id_number = forms.CharField(
        label=_("Your ID number (optional)"), max_length=40, required=False
    )
    consent = forms.BooleanField(
        # A sentence, not a label: no colon after its full stop.
        label=_("I have read and accept the privacy notice."),
        label_suffix="",
        required=False,
    )
    submission_id = forms.CharField(widget=forms.HiddenInput, max_length=80, required=False)

    def __init__(
        self,
        *args: Any,
        program: Program,
        sessions: list[Session],
        with_pow: bool = True,
        emergency_on_file: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        self.emergency_on_file = emergency_on_file
        if with_pow:
            # Submitting and changing alike: a change is as good a probe as
            # a submission, so it pays the same (the no-oracle rule).
            self.fields["pow"] = ProofOfWorkField(scope="visits-apply", spend=False)
        if program.id_number_required:
            self.fields["lead_id_number"].label = _("Your ID number")
        options = [("", _("— no choice —")), *[(str(s.pk), session_label(s)) for s in sessions]]
        for rank in range(1, program.choices_max + 1):
            self.fields[f"choice_{rank}"] = forms.TypedChoiceField(
                label=_("Choice %(rank)s") % {"rank": rank},
                choices=options,
                coerce=int,
                empty_value=None,
                required=False,
            )
        if program.asks_birth_dates:
            self.fields["lead_birth_date"] = _birth_date_field(_("Your date of birth"))
        for n in range(1, program.party_size_max):
            self.fields[f"companion_{n}_name"] = forms.CharField(
                label=_("Companion %(n)s: name") % {"n": n}, max_length=100, required=False
            )
            self.fields[f"companion_{n}_phone"] = forms.CharField(
                label=_("Their mobile phone"),
                max_length=40,
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "tel"}),
            )
            self.fields[f"companion_{n}_id_number"] = forms.CharField(
                label=_("ID number") if program.id_number_required else _("ID number (optional)"),
                max_length=40,
                required=False,
            )
            if program.asks_birth_dates:
                self.fields[f"companion_{n}_birth_date"] = _birth_date_field(_("Date of birth"))
        self._add_extra_fields(program)

    def _add_extra_fields(self, program: Program) -> None:
        """Only what the program asks (decision 26); the service checks the
        rules, these fields only the shape a browser sends."""
        if program.ask_accessibility:
            self.fields["accessibility_needs"] = forms.CharField(
                label=_("Accessibility needs (optional)"),
                help_text=_("For example a wheelchair, a hearing loop, or seats for a rest."),
                max_length=ACCESSIBILITY_MAX,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        if program.ask_emergency_contact:
            self.fields["emergency_name"] = forms.CharField(
                label=_("Emergency contact: name"), max_length=100, required=False
            )
            self.fields["emergency_phone"] = forms.CharField(
                label=_("Emergency contact: phone"),
                help_text=_("Someone not coming on the visit, whom we can call if needed."),
                max_length=40,
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
            )
            if self.emergency_on_file:
                # Sealed: the change page cannot show it, and an empty field keeps it.
                self.fields["emergency_phone"].help_text = _(
                    "Leave it empty to keep %(phone)s."
                ) % {"phone": self.emergency_on_file}
        chinese = (get_language() or "").startswith("zh")
        for question in program.asked_questions():
            label = question.label(chinese)
            if not question.required:
                label = _("%(question)s (optional)") % {"question": label}
            # A question's own mark ends its label: no colon after it.
            suffix = "" if label.rstrip().endswith(("?", "？")) else None
            if question.kind == questions.CHOICE:
                self.fields[f"answer_{question.key}"] = forms.ChoiceField(
                    label=label,
                    choices=[("", "—"), *[(c.key, c.label(chinese)) for c in question.choices]],
                    required=False,
                    label_suffix=suffix,
                )
            else:
                self.fields[f"answer_{question.key}"] = forms.CharField(
                    label=label,
                    max_length=questions.ANSWER_MAX,
                    required=False,
                    label_suffix=suffix,
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        field = self.fields.get("pow")
        if isinstance(field, ProofOfWorkField) and data.get("pow"):
            # Spent on behalf of this form's submission id and answers: a
            # double click sends the same solution, id and answers, and finds
            # the first application instead of a refusal.
            answers = {
                name: self.data.getlist(name)
                if isinstance(self.data, QueryDict)
                else self.data[name]
                for name in self.data
                if name not in ("pow", "csrfmiddlewaretoken")
            }
            try:
                field.check(
                    data["pow"], owner=retry_owner(data.get("submission_id") or "", answers)
                )
            except forms.ValidationError as exc:
                self.add_error("pow", exc)
        return data

    def choice_fields(self) -> list[forms.BoundField]:
        return [self[f"choice_{rank}"] for rank in range(1, self.program.choices_max + 1)]

    def companion_rows(self) -> list[tuple[int, list[forms.BoundField]]]:
        parts = ["name", "phone", "id_number"]
        if self.program.asks_birth_dates:
            parts.append("birth_date")
        return [
            (n, [self[f"companion_{n}_{part}"] for part in parts])
            for n in range(1, self.program.party_size_max)
        ]

    def extra_fields(self) -> list[forms.BoundField]:
        """The program's own fields, in the order of the form."""
        return [self[name] for name in self.fields if _is_extra(name)]

    def lead(self) -> PersonInput:
        # The lead's phone is the one they verified (the service sets it).
        return PersonInput(
            name=self.cleaned_data["lead_name"],
            id_number=self.cleaned_data["lead_id_number"],
            birth_date=self.cleaned_data.get("lead_birth_date"),
        )

    def extras(self) -> Extras:
        data = self.cleaned_data
        return Extras(
            accessibility_needs=data.get("accessibility_needs", ""),
            emergency_name=data.get("emergency_name", ""),
            emergency_phone=data.get("emergency_phone", ""),
            answers={
                name.removeprefix("answer_"): value
                for name, value in data.items()
                if name.startswith("answer_") and value
            },
        )

    def row_of(self, position: int | None) -> int | None:
        """The form's row of the party's `position`: empty rows are no one,
        so the third row filled after an empty second is companion 2."""
        rows = getattr(self, "_rows", [])
        if position and position <= len(rows):
            return int(rows[position - 1])
        return position

    def companions(self) -> list[PersonInput]:
        people = []
        self._rows: list[int] = []
        for n in range(1, self.program.party_size_max):
            name = self.cleaned_data.get(f"companion_{n}_name", "").strip()
            phone = self.cleaned_data.get(f"companion_{n}_phone", "").strip()
            id_number = self.cleaned_data.get(f"companion_{n}_id_number", "").strip()
            born = self.cleaned_data.get(f"companion_{n}_birth_date")
            if name or phone or id_number or born:  # an empty row is no one
                self._rows.append(n)
                people.append(
                    PersonInput(name=name, phone=phone, id_number=id_number, birth_date=born)
                )
        return people

    def session_ids(self) -> list[int]:
        chosen = [
            self.cleaned_data.get(f"choice_{rank}")
            for rank in range(1, self.program.choices_max + 1)
        ]
        return [pk for pk in chosen if pk is not None]

    def field_name_for(self, field: str | None, position: int | None) -> str | None:
        """The form field an error from the service belongs to."""
        if position is None:
            if field in self.fields:
                return field
            return {"choices": "choice_1", "consent": "consent"}.get(field or "")
        if position == 0:
            return {"id_number": "lead_id_number", "birth_date": "lead_birth_date"}.get(
                field or "", "lead_name"
            )
        own = ("name", "phone", "id_number", "birth_date")
        return f"companion_{position}_{field if field in own else 'name'}"


def _is_extra(name: str) -> bool:
    return name in ("accessibility_needs", "emergency_name", "emergency_phone") or (
        name.startswith("answer_")
    )


def _birth_date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=[HTML_DATE, "%Y/%m/%d"],
        widget=forms.DateInput(format=HTML_DATE, attrs={"type": "date"}),
    )


KINDS = [
    (questions.TEXT, _("Short text")),
    (questions.CHOICE, _("One choice from a list")),
]


def add_question_fields(form: forms.BaseForm, program: Program | None) -> None:
    """Five slots for the program's own questions on its edit form, filled
    with the questions it asks now. A slot emptied removes its question."""
    asked = program.asked_questions() if program is not None and program.pk else []
    for n in range(1, questions.QUESTIONS_MAX + 1):
        question = asked[n - 1] if n <= len(asked) else None
        name = f"question_{n}_"
        form.fields[name + "key"] = forms.CharField(
            widget=forms.HiddenInput, required=False, initial=question.key if question else ""
        )
        form.fields[name + "label_en"] = forms.CharField(
            label=_("Question %(n)s (English)") % {"n": n},
            max_length=questions.LABEL_MAX,
            required=False,
            initial=question.label_en if question else "",
        )
        form.fields[name + "label_zh"] = forms.CharField(
            label=_("Question %(n)s (Chinese)") % {"n": n},
            max_length=questions.LABEL_MAX,
            required=False,
            initial=question.label_zh if question else "",
        )
        form.fields[name + "kind"] = forms.ChoiceField(
            label=_("Answered with"),
            choices=KINDS,
            required=False,
            initial=question.kind if question else questions.TEXT,
        )
        form.fields[name + "required"] = forms.BooleanField(
            label=_("An answer is required"),
            required=False,
            initial=question.required if question else False,
        )
        form.fields[name + "choices"] = forms.CharField(
            label=_("The answers to choose from"),
            help_text=_("One a line, in English and Chinese: WeChat | 微信"),
            required=False,
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 3}),
            initial="\n".join(f"{c.label_en} | {c.label_zh}" for c in question.choices)
            if question
            else "",
        )


def _choice_lines(text: str) -> list[tuple[str, str]] | None:
    lines = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        english, bar, chinese = line.partition("|")
        if not bar or not english.strip() or not chinese.strip():
            return None
        lines.append((english.strip(), chinese.strip()))
    return lines


def questions_from_form(form: forms.BaseForm, program: Program | None) -> list[dict[str, Any]]:
    """The questions the slots describe, as the program keeps them: a slot
    that names an earlier question keeps its key (and so its answers); an
    earlier question no slot names is kept, marked removed. Errors go on
    the form's fields."""
    data = form.cleaned_data
    earlier = {q.key: q for q in program.question_list()} if program is not None else {}
    written: list[questions.Question] = []
    for n in range(1, questions.QUESTIONS_MAX + 1):
        name = f"question_{n}_"
        label_en = (data.get(name + "label_en") or "").strip()
        label_zh = (data.get(name + "label_zh") or "").strip()
        if not (label_en or label_zh):
            continue
        if not (label_en and label_zh):
            form.add_error(name + "label_zh", _("Give the question in English and in Chinese."))
            continue
        kind = data.get(name + "kind") or questions.TEXT
        before = earlier.get(data.get(name + "key") or "")
        lines = _choice_lines(data.get(name + "choices") or "") if kind == questions.CHOICE else []
        if lines is None or (kind == questions.CHOICE and not 2 <= len(lines) <= 12):
            form.add_error(
                name + "choices",
                _("Write between 2 and 12 answers, one a line, each as: English | 中文"),
            )
            continue
        taken = set(earlier) | {q.key for q in written}
        written.append(
            questions.Question(
                key=before.key if before else questions.new_key(taken),
                label_en=label_en,
                label_zh=label_zh,
                kind=kind,
                required=bool(data.get(name + "required")),
                choices=questions.merge_choices(before.choices if before else (), lines or []),
            )
        )
    kept = {q.key for q in written}
    removed = [replace(q, removed=True) for key, q in earlier.items() if key not in kept]
    return questions.dump(written + removed)


def question_slots(form: forms.BaseForm) -> list[list[forms.BoundField]]:
    parts = ("label_en", "label_zh", "kind", "required", "choices", "key")
    return [
        [form[f"question_{n}_{part}"] for part in parts]
        for n in range(1, questions.QUESTIONS_MAX + 1)
    ]
