"""What a program asks beyond names and phones (decision 26): ages against
its minimum, accessibility needs, an emergency contact and its own
questions. The one place these rules live: the web form, the API and the
change flow all reach them through `services.applications`.

Each refusal names the field and, for a person, their position in the
form, never anything another party typed (decision 17)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from headon.timezones import organiser_tz
from headon.visits import identity
from headon.visits import questions as rules
from headon.visits.errors import VisitError
from headon.visits.models import Application, Program, Session
from headon.visits.services.people import Person, clean_text, mask_phone_number, seal, unseal

ACCESSIBILITY_MAX = 500
EMERGENCY_NAME_MAX = 100


@dataclass(frozen=True)
class Extras:
    """What the applicant typed, unchecked; empty for what is not asked."""

    accessibility_needs: str = ""
    emergency_name: str = ""
    emergency_phone: str = ""
    answers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanExtras:
    accessibility_needs: str = ""
    emergency_name: str = ""
    emergency_phone: str = ""  # E.164
    answers: tuple[dict[str, str], ...] = ()

    def canonical(self) -> dict[str, object]:
        """For the request fingerprint: empty when nothing is asked, so the
        fingerprints of applications made before these fields stay the same."""
        values = {
            "accessibility": self.accessibility_needs,
            "emergency": [self.emergency_name, self.emergency_phone],
            "answers": list(self.answers),
        }
        return {k: v for k, v in values.items() if v and v != ["", ""]}


def reference_day(sessions: Sequence[Session]) -> dt.date:
    """The day ages are measured on: the earliest session chosen, in the
    organiser's zone. The party may be placed in any of its choices, so each
    person must be old enough on the first of them."""
    first = min(s.starts_at for s in sessions)
    return timezone.localtime(first, organiser_tz()).date()


def check_ages(
    program: Program,
    births: Sequence[dt.date | None],
    sessions: Sequence[Session],
    *,
    today: dt.date | None = None,
) -> None:
    """VisitError unless each person (lead first) is old enough, anyone under
    18 has an adult in the party, and the lead is an adult."""
    if program.minimum_age is None:
        return
    today = today or timezone.localdate(timezone=organiser_tz())
    day = reference_day(sessions)
    ages = []
    for position, born in enumerate(births):
        if born is None:
            raise VisitError("birth_date_required", field="birth_date", position=position)
        if not rules.birth_date_plausible(born, today):
            raise VisitError("birth_date_invalid", field="birth_date", position=position)
        ages.append(rules.age_on(born, day))
    for position, age in enumerate(ages):
        if age < program.minimum_age:
            raise VisitError(
                "too_young",
                field="birth_date",
                position=position,
                params={"age": program.minimum_age},
            )
    if all(age < rules.ADULT_AGE for age in ages):
        raise VisitError("minor_needs_adult", field="birth_date", position=0)
    if ages[0] < rules.ADULT_AGE:
        raise VisitError("lead_not_adult", field="birth_date", position=0)


def clean_extras(
    program: Program,
    extras: Extras,
    people: Sequence[Person],
    *,
    kept_phone: str = "",
) -> CleanExtras:
    """The program's extra fields, checked; what it does not ask is dropped.
    `kept_phone` is the emergency phone already on file, kept on a change
    that leaves the field empty (it is sealed: the form cannot show it)."""
    needs = ""
    if program.ask_accessibility:
        if len(extras.accessibility_needs or "") > ACCESSIBILITY_MAX:
            raise VisitError("accessibility_too_long", field="accessibility_needs")
        needs = clean_text(extras.accessibility_needs, ACCESSIBILITY_MAX)
    name = phone = ""
    if program.ask_emergency_contact:
        name, phone = _emergency(extras, people, kept_phone)
    return CleanExtras(
        accessibility_needs=needs,
        emergency_name=name,
        emergency_phone=phone,
        answers=tuple(_answers(program, extras.answers)),
    )


def _emergency(extras: Extras, people: Sequence[Person], kept_phone: str) -> tuple[str, str]:
    name = clean_text(extras.emergency_name, EMERGENCY_NAME_MAX)
    if not name:
        raise VisitError("emergency_name_required", field="emergency_name")
    raw = (extras.emergency_phone or "").strip()
    if not raw and not kept_phone:
        raise VisitError("emergency_phone_required", field="emergency_phone")
    phone = kept_phone
    if raw:
        try:
            phone = identity.normalise_phone(raw[:40])
        except identity.IdentityError:
            raise VisitError("emergency_phone_invalid", field="emergency_phone") from None
    # Someone on the visit cannot be called about it: the lead's own phone
    # (the verified contact) or a companion's is refused.
    if phone in {p.phone for p in people if p.phone}:
        raise VisitError("emergency_phone_in_party", field="emergency_phone")
    return name, phone


def _answers(program: Program, raw: dict[str, str]) -> list[dict[str, str]]:
    questions = program.question_list()
    try:
        return rules.check_answers(questions, raw if isinstance(raw, dict) else {})
    except rules.QuestionError as exc:
        question = next((q for q in questions if q.key == exc.key), None)
        label = (question.label_en, question.label_zh) if question else ""
        raise VisitError(
            exc.code,
            field=f"answer_{exc.key}" if question else "answers",
            params={"question": label},
        ) from None


def extras_fields(extras: CleanExtras) -> dict[str, object]:
    """The Application fields that hold them."""
    phone = extras.emergency_phone
    return {
        "accessibility_needs": extras.accessibility_needs,
        "emergency_name": extras.emergency_name,
        "emergency_phone_masked": mask_phone_number(phone) if phone else "",
        "emergency_phone_sealed": seal(phone) if phone else "",
        "answers": list(extras.answers),
    }


def stored_emergency_phone(application: Application) -> str:
    """The emergency phone on file in clear, for the checks of a change."""
    if not application.emergency_phone_sealed:
        return ""
    try:
        return unseal(application.emergency_phone_sealed)
    except (ValueError, identity.IdentityError):
        return ""
