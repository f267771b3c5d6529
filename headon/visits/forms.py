from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from headon.antibot.forms import ProofOfWorkField
from headon.antibot.services import retry_owner
from headon.visits.models import Application, Program, Session
from headon.visits.services.applications import PersonInput


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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
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
        return [
            (n, [self[f"companion_{n}_{part}"] for part in ("name", "phone", "id_number")])
            for n in range(1, self.program.party_size_max)
        ]

    def lead(self) -> PersonInput:
        # The lead's phone is the one they verified (the service sets it).
        return PersonInput(
            name=self.cleaned_data["lead_name"], id_number=self.cleaned_data["lead_id_number"]
        )

    def companions(self) -> list[PersonInput]:
        people = []
        for n in range(1, self.program.party_size_max):
            name = self.cleaned_data.get(f"companion_{n}_name", "").strip()
            phone = self.cleaned_data.get(f"companion_{n}_phone", "").strip()
            id_number = self.cleaned_data.get(f"companion_{n}_id_number", "").strip()
            if name or phone or id_number:  # an empty row is no one
                people.append(PersonInput(name=name, phone=phone, id_number=id_number))
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
            return {"choices": "choice_1", "consent": "consent"}.get(field or "")
        if position == 0:
            return {"id_number": "lead_id_number"}.get(field or "", "lead_name")
        return (
            f"companion_{position}_{field if field in ('name', 'phone', 'id_number') else 'name'}"
        )
