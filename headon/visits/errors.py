"""Why the visit program refuses something, in the applicant's language.

Services raise `VisitError(code)`; views and the API show `message`. One
table of messages keeps the web pages and the API saying the same thing.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

MESSAGES: dict[str, Promise] = {
    "program_unpublished": _("This program is not open to the public."),
    "window_unset": _("Applications for this program have no dates yet."),
    "window_not_open": _("Applications are not open yet."),
    "window_closed": _("Applications are closed."),
    "consent_required": _("Please accept the privacy notice to apply."),
    "contact_not_verified": _("Please verify your mobile phone number first."),
    "code_wrong": _("That code is not right. Check the message and try again."),
    "code_expired": _("That code has expired or was used too many times. Ask for a new one."),
    "email_invalid": _("That e-mail address is not valid."),
    "phone_invalid": _("That phone number is not valid."),
    "phone_not_mobile": _(
        "Codes and links are sent by SMS: give a mobile number, not a landline, "
        "premium-rate or shared-cost number."
    ),
    "phone_region": _("This site sends SMS only to mobile numbers in the countries it serves."),
    "id_invalid_format": _("An ID number has 18 characters: 17 digits and a last digit or X."),
    "id_invalid_checksum": _("That ID number is not valid (its check digit does not match)."),
    "id_invalid_date": _("That ID number holds a birth date that does not exist."),
    "id_invalid_region": _("That ID number starts with an unknown region code."),
    "id_legacy": _("Please give the 18-character ID number."),
    "person_needs_identity": _("Give a phone number or an ID number for each person."),
    "name_required": _("Give a name for each person."),
    "person_repeated": _("The same person appears twice in this application."),
    "person_taken": _("You are already in a party for this program."),
    "lead_phone_required": _(
        "Verify your own mobile phone number to apply: it is what identifies you. "
        "An e-mail address cannot."
    ),
    "companion_phone_required": _(
        "Give each companion's mobile phone number: they confirm through it that they agree "
        "to come."
    ),
    "id_required": _("This program asks for an ID number for each person."),
    "birth_date_required": _(
        "This program has a minimum age: give a date of birth for each person (%(person)s)."
    ),
    "birth_date_invalid": _(
        "That date of birth cannot be right (%(person)s): check the year, day and month."
    ),
    "too_young": _(
        "Too young for this program (%(person)s): the minimum age is %(age)s, on the day of "
        "the earliest session chosen."
    ),
    "minor_needs_adult": _(
        "Anyone under 18 comes with an adult (18 or over) in the same party (%(person)s)."
    ),
    "lead_not_adult": _(
        "The person who applies must be an adult (18 or over) on the day of the earliest "
        "session chosen."
    ),
    "accessibility_too_long": _("Please describe accessibility needs in at most 500 characters."),
    "emergency_name_required": _("Give the name of an emergency contact."),
    "emergency_phone_required": _("Give the phone number of an emergency contact."),
    "emergency_phone_invalid": _("The emergency contact's phone number is not valid."),
    "emergency_phone_in_party": _(
        "The emergency contact must be someone not coming on the visit: give a phone number "
        "that is not yours or a companion's."
    ),
    "answer_required": _("Please answer this question: %(question)s"),
    "answer_too_long": _("An answer has at most 300 characters: %(question)s"),
    "answer_not_a_choice": _("Pick one of the answers offered: %(question)s"),
    "answer_unknown_question": _("This program does not ask that question."),
    "not_named": _("Your phone number is not waiting to confirm in this party."),
    "resend_limited": _("This companion's message was sent several times already."),
    "too_many_companions": _("Too many companions for this program."),
    "no_choice": _("Choose at least one session."),
    "too_many_choices": _("Too many sessions chosen for this program."),
    "choice_repeated": _("Each session can be chosen only once."),
    "session_unavailable": _("One of the chosen sessions is not available."),
    "idempotency_conflict": _("This request repeats an earlier one with different details."),
    "application_withdrawn": _("This application was withdrawn."),
    "rate_limited": _("Too many attempts. Please wait a little and try again."),
    "pow_invalid": _(
        "The check that you are not a bot failed or expired. Get a new challenge and solve it."
    ),
}


class VisitError(Exception):
    """A refusal with a code from MESSAGES; `field` names the form field and
    `position` the party member (0 is the lead) it concerns, if any."""

    def __init__(
        self,
        code: str,
        *,
        field: str | None = None,
        position: int | None = None,
        params: dict[str, object] | None = None,
    ) -> None:
        if code not in MESSAGES:
            raise ValueError(f"Unknown refusal code {code!r}")
        super().__init__(code)
        self.code = code
        self.field = field
        self.position = position
        # Filled into the message when it is read, in the reader's language
        # (a question's label may be a (English, Chinese) pair).
        self.params = params or {}

    @property
    def message(self) -> str:
        text = str(MESSAGES[self.code])
        if "%(" not in text:
            return text
        values = {key: _in_language(value) for key, value in self.params.items()}
        values.setdefault("person", person_label(self.position))
        return text % values


def person_label(position: int | None) -> str:
    """Who in the party a message is about, as the form names them: never
    their name or anything else they typed."""
    if not position:
        return str(_("you, the lead"))
    return str(_("companion %(n)s")) % {"n": position}


def _in_language(value: object) -> str:
    if isinstance(value, tuple):
        english, chinese = value
        return str(chinese if (get_language() or "").startswith("zh") else english)
    return str(value)
