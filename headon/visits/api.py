"""The visit program's JSON API: the same operations and rules as the web
pages, for partners. Refusals are 409 with a `code` from
`headon.visits.errors.MESSAGES` and a `detail` in the request's language."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from ninja import Field, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.params import functions as param
from pydantic import StrictBool

from headon.antibot.services import retry_owner, solution_check
from headon.jsonschema import INTEGER_ONLY
from headon.visits import guards
from headon.visits.errors import VisitError
from headon.visits.models import Application, ApplicationChoice, Program, Session
from headon.visits.selectors import applied_under_key, open_sessions, published_programs
from headon.visits.services import applications as apps
from headon.visits.services import companions, verification
from headon.visits.services.applicant_fields import Extras

router = Router(tags=["visits"])
AccessToken = Annotated[
    str | None, param.Header(alias="X-Access-Token", description="From the application's receipt.")
]


class ErrorOut(Schema):
    code: str
    detail: str
    field: str | None = None
    position: int | None = Field(
        None, description="Party member the error concerns: 0 is the lead."
    )


def _error(exc: VisitError) -> Status[Schema] | JsonResponse:
    body = ErrorOut(code=exc.code, detail=exc.message, field=exc.field, position=exc.position)
    if isinstance(exc, guards.RateLimitedError):
        response = JsonResponse(body.model_dump(), status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return Status(403 if exc.code == "pow_invalid" else 409, body)


def _pow_check(payload: str, scope: str, owner: str = "") -> None:
    if not solution_check(payload=payload, scope=scope, owner=owner).ok:
        raise VisitError("pow_invalid", field="pow")


POW_DOC = (
    "A solved proof-of-work challenge: GET /antibot/challenge/{scope}, find `number` with "
    "SHA-256(salt + number) == challenge, send base64(JSON {algorithm, challenge, number, salt, "
    "signature}). One use only."
)


class SessionOut(Schema):
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    label: str


class ChoiceLabelOut(Schema):
    key: str
    label_en: str
    label_zh: str


class QuestionOut(Schema):
    key: str = Field(..., description="Answer with this key in `answers`.")
    label_en: str
    label_zh: str
    kind: Literal["text", "choice"]
    required: bool
    choices: list[ChoiceLabelOut] = Field(
        ..., description="For a choice question: answer with one choice's key."
    )


class ProgramOut(Schema):
    slug: str
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    venue: str
    applications_open_at: dt.datetime | None
    applications_close_at: dt.datetime | None
    window: Literal["unset", "not_open", "open", "closed"]
    party_size_max: int
    choices_max: int
    minimum_age: int | None = Field(
        ...,
        description="When set, every person gives `birth_date`; ages count on the earliest "
        "session chosen, anyone under 18 comes with an adult and the lead is an adult.",
    )
    ask_accessibility: bool
    ask_emergency_contact: bool
    questions: list[QuestionOut]
    sessions: list[SessionOut]


def _program(slug: str) -> Program:
    return get_object_or_404(published_programs(), slug=slug)


def _session_out(session: Session) -> SessionOut:
    return SessionOut(
        id=session.pk,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        capacity=session.capacity,
        label=session.label,
    )


@router.get("/programs/{slug}", response=ProgramOut, summary="A published program and its sessions")
def program_get(request: HttpRequest, slug: str) -> ProgramOut:
    program = _program(slug)
    return ProgramOut(
        slug=program.slug,
        title_en=program.title_en,
        title_zh=program.title_zh,
        description_en=program.description_en,
        description_zh=program.description_zh,
        venue=program.venue,
        applications_open_at=program.applications_open_at,
        applications_close_at=program.applications_close_at,
        window=program.window_state(),  # type: ignore[arg-type]
        party_size_max=program.party_size_max,
        choices_max=program.choices_max,
        minimum_age=program.minimum_age,
        ask_accessibility=program.ask_accessibility,
        ask_emergency_contact=program.ask_emergency_contact,
        questions=[
            QuestionOut(
                key=q.key,
                label_en=q.label_en,
                label_zh=q.label_zh,
                kind=q.kind,  # type: ignore[arg-type]
                required=q.required,
                choices=[
                    ChoiceLabelOut(key=c.key, label_en=c.label_en, label_zh=c.label_zh)
                    for c in q.choices
                ],
            )
            for q in program.asked_questions()
        ],
        sessions=[_session_out(s) for s in open_sessions(program)],
    )


class CodeRequestIn(Schema):
    channel: Literal["phone", "email"]
    destination: str = Field(..., max_length=254)
    pow: str = Field(..., max_length=2000, description=POW_DOC.replace("{scope}", "visits-code"))


class CodeRequestOut(Schema):
    expires_in: int = Field(..., description="Seconds the code stays valid.")


@router.post(
    "/programs/{slug}/codes",
    response={202: CodeRequestOut, 403: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Send a one-time code to a phone or e-mail address",
)
def code_request(
    request: HttpRequest, slug: str, body: CodeRequestIn
) -> Status[Schema] | JsonResponse:
    program = _program(slug)
    try:
        apps.check_window(program)
        _pow_check(body.pow, "visits-code")
        destination = verification.normalise_destination(body.channel, body.destination)
        guards.code_request_allowed(request, destination)
        verification.code_request(program=program, channel=body.channel, destination=destination)
    except VisitError as exc:
        return _error(exc)
    return Status(202, CodeRequestOut(expires_in=int(verification.CODE_LIFETIME.total_seconds())))


class CodeVerifyIn(Schema):
    channel: Literal["phone", "email"]
    destination: str = Field(..., max_length=254)
    code: str = Field(..., max_length=12)


class CodeVerifyOut(Schema):
    verification_token: str = Field(
        ..., description="Proof of the contact; send it with the application."
    )


@router.post(
    "/programs/{slug}/codes/verify",
    response={200: CodeVerifyOut, 409: ErrorOut, 429: ErrorOut},
    summary="Check a one-time code",
)
@decorate_view(never_cache)
def code_verify(
    request: HttpRequest, slug: str, body: CodeVerifyIn
) -> Status[Schema] | JsonResponse:
    program = _program(slug)
    try:
        guards.code_verify_allowed(request)
        destination = verification.normalise_destination(body.channel, body.destination)
        token = verification.code_verify(
            program=program, channel=body.channel, destination=destination, code=body.code
        )
    except VisitError as exc:
        return _error(exc)
    return Status(200, CodeVerifyOut(verification_token=token))


class PersonIn(Schema):
    name: str = Field(..., max_length=100)
    phone: str = Field("", max_length=40)
    id_number: str = Field("", max_length=40)
    birth_date: dt.date | None = Field(
        None, description="Asked when the program has a `minimum_age`."
    )


class EmergencyIn(Schema):
    name: str = Field(..., max_length=100)
    phone: str = Field(
        "",
        max_length=40,
        description="Not the lead's or a companion's. On a change, empty keeps the one on file.",
    )


AnswerKey = Annotated[str, Field(max_length=16)]
AnswerText = Annotated[str, Field(max_length=300)]


class PartyIn(Schema):
    lead: PersonIn
    companions: list[PersonIn] = Field(default_factory=list, max_length=19)
    accessibility_needs: str = Field(
        "", max_length=500, description="Read when the program has `ask_accessibility`."
    )
    emergency_contact: EmergencyIn | None = Field(
        None, description="Required when the program has `ask_emergency_contact`."
    )
    answers: dict[AnswerKey, AnswerText] = Field(
        default_factory=dict,
        max_length=5,
        description="The program's `questions`: key to text, or to a choice's key.",
    )
    # Bounded: an id past 64 bits used to reach the database and fail there
    # (found by tests/test_api_fuzz.py).
    # Strict, as the schema says: "3" is not a session id.
    choices: list[Annotated[int, Field(ge=1, lt=2**31), INTEGER_ONLY]] = Field(
        ..., max_length=10, description="Session ids, first choice first."
    )


class ApplicationIn(PartyIn):
    verification_token: str = Field(..., max_length=1000)
    pow: str = Field(..., max_length=2000, description=POW_DOC.replace("{scope}", "visits-apply"))
    consent: StrictBool = Field(
        ..., description="The applicant accepted the program's privacy notice."
    )


class ChangeIn(PartyIn):
    pow: str = Field(
        ...,
        max_length=2000,
        description=POW_DOC.replace("{scope}", "visits-apply")
        + " A change pays like a submission: either could probe who applied.",
    )


class MemberOut(Schema):
    position: int
    name: str
    phone_masked: str
    id_number_masked: str
    birth_date: dt.date | None
    status: Literal["confirmed", "waiting"] = Field(
        ..., description="A companion is waiting until they confirm through their own phone."
    )


class ChoiceOut(Schema):
    rank: int
    session: SessionOut


class EmergencyOut(Schema):
    name: str
    phone_masked: str


class AnswerOut(Schema):
    question: str = Field(..., description="The question's key.")
    text: str | None = Field(None, description="A short-text answer.")
    choice: str | None = Field(None, description="A choice's key.")


class ApplicationOut(Schema):
    reference: str
    status: str
    program: str
    party_size: int
    members: list[MemberOut]
    choices: list[ChoiceOut]
    accessibility_needs: str
    emergency_contact: EmergencyOut | None
    answers: list[AnswerOut]
    submitted_at: dt.datetime
    access_token: str = Field(
        ..., description="Keep it: it reads, changes and withdraws this application."
    )


def _application_out(application: Application) -> ApplicationOut:
    # A new application has its rows already (services/applications.py).
    prefetch_related_objects(
        [application],
        "members",
        Prefetch("choices", queryset=ApplicationChoice.objects.select_related("session")),
    )
    return ApplicationOut(
        reference=application.reference,
        status=application.status,
        program=application.program.slug,
        party_size=application.party_size,
        members=[
            MemberOut(
                position=m.position,
                name=m.name,
                phone_masked=m.phone_masked,
                id_number_masked=m.id_number_masked,
                birth_date=m.birth_date,
                status=m.status,  # type: ignore[arg-type]
            )
            for m in application.members.all()
        ],
        choices=[
            ChoiceOut(rank=c.rank, session=_session_out(c.session))
            for c in application.choices.all()
        ],
        accessibility_needs=application.accessibility_needs,
        emergency_contact=EmergencyOut(
            name=application.emergency_name, phone_masked=application.emergency_phone_masked
        )
        if application.emergency_name
        else None,
        answers=[
            AnswerOut(question=str(a.get("q", "")), text=a.get("a"), choice=a.get("c"))
            for a in application.answers
            if isinstance(a, dict)
        ],
        submitted_at=application.created_at,
        access_token=apps.access_token(application),
    )


def _person(body: PersonIn) -> apps.PersonInput:
    return apps.PersonInput(
        name=body.name, phone=body.phone, id_number=body.id_number, birth_date=body.birth_date
    )


def _people(body: PartyIn) -> tuple[apps.PersonInput, list[apps.PersonInput]]:
    return _person(body.lead), [_person(p) for p in body.companions]


def _extras(body: PartyIn) -> Extras:
    emergency = body.emergency_contact
    return Extras(
        accessibility_needs=body.accessibility_needs,
        emergency_name=emergency.name if emergency else "",
        emergency_phone=emergency.phone if emergency else "",
        answers=dict(body.answers),
    )


@router.post(
    "/programs/{slug}/applications",
    response={
        201: ApplicationOut,
        200: ApplicationOut,
        403: ErrorOut,
        409: ErrorOut,
        429: ErrorOut,
    },
    summary="Submit an application",
    description=(
        "Send an `Idempotency-Key` header: a retry with the same key and the same body returns the "
        "first application (200) instead of making a second; the same key with a different body is "
        "refused (409, `idempotency_conflict`)."
    ),
)
@decorate_view(never_cache)
def application_create(
    request: HttpRequest,
    slug: str,
    body: ApplicationIn,
    idempotency_key: Annotated[
        str | None, param.Header(alias="Idempotency-Key", max_length=80)
    ] = None,
) -> Status[Schema] | JsonResponse:
    program = _program(slug)
    lead, companions = _people(body)
    try:
        guards.submit_allowed(request)
        key = (f"api:{idempotency_key}" if idempotency_key else "")[:80]  # as the service keeps it
        if not (key and applied_under_key(program, key)):
            # A retry (same key, same body) may carry the same solution; a key
            # that made an application is answered by replay or conflict,
            # which create nothing.
            request_body = body.model_dump(exclude={"pow"})
            _pow_check(body.pow, "visits-apply", owner=retry_owner(key, request_body))
        contact = verification.verified_contact(body.verification_token, program=program)
        submission = apps.application_submit(
            program=program,
            contact=contact,
            lead=lead,
            companions=companions,
            session_ids=body.choices,
            consent=body.consent,
            language=get_language() or "en",
            idempotency_key=key or None,
            extras=_extras(body),
        )
    except VisitError as exc:
        return _error(exc)
    return Status(201 if submission.created else 200, _application_out(submission.application))


def _own_application(reference: str, token: str | None) -> Application:
    application = apps.application_for_token(reference, token or "")
    if application is None:
        raise Http404
    return application


@router.get(
    "/applications/{reference}",
    response={200: ApplicationOut},
    summary="Read an application with its access token",
)
@decorate_view(never_cache)
def application_get(
    request: HttpRequest, reference: str, token: AccessToken = None
) -> ApplicationOut:
    return _application_out(_own_application(reference, token))


@router.put(
    "/applications/{reference}",
    response={200: ApplicationOut, 403: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Replace the party and the choices while applications are open",
)
@decorate_view(never_cache)
def application_update(
    request: HttpRequest,
    reference: str,
    body: ChangeIn,
    token: AccessToken = None,
) -> Status[Schema] | JsonResponse:
    application = _own_application(reference, token)
    lead, named = _people(body)
    try:
        # Creating and changing share one limit and the proof-of-work: a
        # change was a free probe of who applied (issue 17, attack 3).
        guards.submit_allowed(request)
        owner = retry_owner(f"change:{application.reference}", body.model_dump(exclude={"pow"}))
        _pow_check(body.pow, "visits-apply", owner=owner)
        application = apps.application_change(
            application=application,
            lead=lead,
            companions=named,
            session_ids=body.choices,
            extras=_extras(body),
        )
    except VisitError as exc:
        return _error(exc)
    return Status(200, _application_out(application))


@router.post(
    "/applications/{reference}/withdraw",
    response={200: ApplicationOut, 409: ErrorOut},
    summary="Withdraw an application while applications are open",
)
@decorate_view(never_cache)
def application_withdraw(
    request: HttpRequest, reference: str, token: AccessToken = None
) -> Status[Schema] | JsonResponse:
    application = _own_application(reference, token)
    try:
        application = apps.application_withdraw(application=application)
    except VisitError as exc:
        return _error(exc)
    return Status(200, _application_out(application))


class CompanionConfirmIn(Schema):
    verification_token: str = Field(
        ..., max_length=1000, description="From verifying the companion's own phone."
    )
    reference: str = Field(..., max_length=12, description="The party's reference.")


class CompanionOut(Schema):
    reference: str
    position: int
    status: Literal["confirmed", "waiting"]


@router.post(
    "/programs/{slug}/companions/confirm",
    response={200: CompanionOut, 409: ErrorOut, 429: ErrorOut},
    summary="A named companion confirms, with a code sent to their own phone",
    description=(
        "The companion verifies their own phone (`/codes`, `/codes/verify`) and confirms the "
        "party that names it; until then they hold no place. Refused with `not_named` when the "
        "party does not name that phone, `person_taken` when they are in another party."
    ),
)
@decorate_view(never_cache)
def companion_confirm(
    request: HttpRequest, slug: str, body: CompanionConfirmIn
) -> Status[Schema] | JsonResponse:
    program = _program(slug)
    try:
        guards.submit_allowed(request)
        contact = verification.verified_contact(body.verification_token, program=program)
        member = companions.companion_confirm_by_contact(
            program=program, contact=contact, reference=body.reference
        )
    except VisitError as exc:
        return _error(exc)
    return Status(
        200,
        CompanionOut(
            reference=member.application.reference,
            position=member.position,
            status=member.status,  # type: ignore[arg-type]
        ),
    )
