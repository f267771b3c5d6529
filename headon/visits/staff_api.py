"""The visit program's API for coordinators: change a session as the staff
page does (`services.programs.session_edit`), so a raised capacity
promotes the waitlist, a cut below the bookings is refused, a move renews
tickets and tells the parties, a cancellation offers each party its next
choice. Authenticated by a staff member's API key (`accounts.api_auth`);
only a visit coordinator may change anything.

A PATCH that changes nothing (the same body sent twice) does nothing: no
audit row, no notice, 200 with `changed` empty."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Field, Router, Schema, Status
from ninja.params import functions as param
from pydantic import AwareDatetime, ConfigDict, StrictBool

from headon.accounts.api_auth import StaffToken
from headon.accounts.models import User
from headon.jsonschema import INTEGER_ONLY
from headon.visits.api import ErrorOut
from headon.visits.models import Offer, Session
from headon.visits.selectors import programs_for_staff, session_holders
from headon.visits.services import programs as program_services
from headon.visits.services.offers import seats_held

router = Router(tags=["visits (coordinators)"], auth=StaffToken())
COORDINATE = "visits.coordinate_visits"


class SessionPatchIn(Schema):
    # A misspelt field is refused, not ignored as a change of nothing.
    model_config = ConfigDict(extra="forbid")

    capacity: Annotated[int, Field(ge=1, le=100_000), INTEGER_ONLY] | None = Field(
        None, description="Seats. Raising it offers the new seats to the waitlist at once."
    )
    starts_at: AwareDatetime | None = Field(None, description="A move: needs `confirm_move`.")
    ends_at: AwareDatetime | None = Field(None, description="A move: needs `confirm_move`.")
    status: Literal["cancelled"] | None = Field(
        None,
        description="Cancel the session: its parties are offered their next choice with "
        "seats, or go back on the waitlist in draw order. A cancelled session stays so.",
    )
    confirm_move: StrictBool = Field(
        False,
        description="Required for a move, whoever it reaches: each party holding a place is "
        "told the new time and confirmed tickets are signed again. Without it a move is "
        "refused (409, `move_unconfirmed`) saying how many parties and visitors it reaches.",
    )


class SessionStaffOut(Schema):
    id: int
    program: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    status: Literal["scheduled", "cancelled"]
    label_en: str
    label_zh: str
    seats_held: int = Field(..., description="Seats offered or confirmed.")
    changed: list[Literal["capacity", "starts_at", "ends_at", "status"]] = Field(
        ..., description="What this request changed; empty when it changed nothing."
    )


class SessionProblemOut(ErrorOut):
    parties: int | None = Field(None, description="Parties holding places the change reaches.")
    seats: int | None = Field(None, description="Their seats: the visitors it reaches.")
    references: list[str] | None = Field(None, description="Those parties' references.")


def _session_out(session: Session, changed: list[str]) -> SessionStaffOut:
    return SessionStaffOut(
        id=session.pk,
        program=session.program.slug,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        capacity=session.capacity,
        status=session.status,  # type: ignore[arg-type]
        label_en=session.label_en,
        label_zh=session.label_zh,
        seats_held=seats_held([session.pk]).get(session.pk, 0),
        changed=changed,  # type: ignore[arg-type]
    )


def _changes(session: Session, body: SessionPatchIn) -> dict[str, object]:
    """The fields of `body` that differ from the session: what a PATCH does."""
    wanted: dict[str, object] = {
        "capacity": body.capacity,
        "starts_at": body.starts_at,
        "ends_at": body.ends_at,
        "status": Session.Status.CANCELLED if body.status else None,
    }
    return {
        name: value
        for name, value in wanted.items()
        if value is not None and value != getattr(session, name)
    }


def _problem(
    exc: program_services.SessionEditError, session: Session, *, field: str
) -> Status[Schema]:
    holders = session_holders(session)
    references = list(
        Offer.objects.filter(
            session=session, status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED]
        )
        .order_by("application__reference")
        .values_list("application__reference", flat=True)
    )
    return Status(
        409,
        SessionProblemOut(
            code=exc.code,
            detail=str(exc),
            field=field,
            position=None,
            parties=holders["parties"],
            seats=holders["seats"],
            references=references,
        ),
    )


@router.patch(
    "/staff/programs/{slug}/sessions/{session_id}",
    response={200: SessionStaffOut, 403: ErrorOut, 409: SessionProblemOut},
    summary="Change a session's seats or time, or cancel it (coordinators)",
    description=(
        "Authenticate with a staff member's API key (`Authorization: Bearer hdn_...`, made with "
        "`headon apitoken create`); only a visit coordinator may call it (403 otherwise). Send "
        "only what changes. Refusals are 409 with a `code`: `capacity_below_bookings` (the "
        "parties holding the seats are named), `move_unconfirmed`, `move_into_past`, `move_too_far`, "
        "`ends_before_start`, `start_taken`, `session_cancelled`, `list_sealed`, "
        "`cancel_or_move`. Sending the same body again changes nothing and tells nobody twice."
    ),
)
def session_patch(
    request: HttpRequest,
    slug: str,
    session_id: Annotated[int, param.Path(ge=1, lt=2**31)],
    body: SessionPatchIn,
) -> Status[Schema]:
    user: User = request.auth  # type: ignore[attr-defined]
    if not user.has_perm(COORDINATE):
        return Status(
            403,
            ErrorOut(
                code="not_coordinator",
                detail=_("Only a visit coordinator can change sessions."),
                position=None,
            ),
        )
    program = get_object_or_404(programs_for_staff(), slug=slug)
    session = get_object_or_404(
        Session.objects.select_related("program"), program=program, pk=session_id
    )
    changes = _changes(session, body)
    if not changes:
        return Status(200, _session_out(session, []))
    moving = "starts_at" in changes or "ends_at" in changes
    if moving and "status" in changes:
        exc = program_services.SessionEditError(
            _("Cancel the session or move it, not both in one request."), code="cancel_or_move"
        )
        return _problem(exc, session, field="status")
    if moving:
        starts_at = body.starts_at or session.starts_at
        ends_at = body.ends_at or session.ends_at
        try:
            program_services.session_move_check(session, starts_at, ends_at)
        except program_services.SessionEditError as exc:
            return _problem(exc, session, field="starts_at")
        if not body.confirm_move:
            return _problem(_unconfirmed(session), session, field="confirm_move")
    try:
        program_services.session_edit(
            session=session,
            capacity=body.capacity,
            cancel=body.status is not None,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            actor=user,
        )
    except program_services.SessionEditError as exc:
        session.refresh_from_db()
        return _problem(exc, session, field="starts_at" if moving else "capacity")
    return Status(200, _session_out(session, sorted(changes)))


def _unconfirmed(session: Session) -> program_services.SessionEditError:
    holders = session_holders(session)
    message = ngettext(
        "This move reaches %(parties)s party (%(seats)s visitors): each is told the new time "
        "and confirmed tickets are signed again. Send confirm_move: true to move the session.",
        "This move reaches %(parties)s parties (%(seats)s visitors): each is told the new time "
        "and confirmed tickets are signed again. Send confirm_move: true to move the session.",
        holders["parties"],
    ) % {"parties": holders["parties"], "seats": holders["seats"]}
    return program_services.SessionEditError(message, code="move_unconfirmed")
