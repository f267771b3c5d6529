"""The answer desk's webhook: partners post asks with a per-channel token."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.params import functions as param
from ninja.security import HttpBearer
from pydantic import field_validator

from headon.desk.intake.sources import IntakeError, ask_receive, channel_for_token
from headon.desk.models import Channel
from headon.desk.services.answers import published_matches
from headon.jsonschema import JsonInt
from headon.links import absolute


class ChannelToken(HttpBearer):
    """`Authorization: Bearer <token>`; each webhook channel has its own."""

    def authenticate(self, request: HttpRequest, token: str) -> Channel | None:
        return channel_for_token(token)


router = Router(tags=["desk"])


# PostgreSQL cannot store a NUL character; saying so in the schema makes
# the refusal part of the contract rather than a surprise.
NO_NUL = r"^[^\x00]*$"
# And an ask's text holds something besides spaces (the intake strips them).
SOME_TEXT = r"^[^\x00]*[^\x00\s][^\x00]*$"


class AskIn(Schema):
    text: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        pattern=SOME_TEXT,
        description="The question, as the person wrote it.",
    )
    external_id: str = Field(
        "",
        max_length=200,
        pattern=NO_NUL,
        description="Your id for it; a resend with the same id adds nothing.",
    )
    author: str = Field("", max_length=200, pattern=NO_NUL)
    posted_at: dt.datetime | None = Field(
        None, description="When it was asked (ISO 8601); now if absent."
    )
    url: str = Field("", max_length=500, pattern=NO_NUL)
    # Strict: "5" or true is not a count (schemathesis: a schema-violating
    # body accepted); the schema promises integers.
    likes: JsonInt = Field(0, ge=0, lt=2**31)
    replies: JsonInt = Field(0, ge=0, lt=2**31)
    shares: JsonInt = Field(0, ge=0, lt=2**31)

    @field_validator("posted_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        # pydantic would read a number as Unix seconds; the schema says an
        # ISO 8601 string.
        if value is not None and not isinstance(value, str):
            raise ValueError("posted_at must be an ISO 8601 string")
        return value


class AnsweredOut(Schema):
    url: str
    question_en: str
    question_zh: str
    clarification: bool = Field(..., description="True when the answer clears a rumour.")


class AskOut(Schema):
    id: int
    channel: str
    external_id: str
    day: dt.date
    duplicate: bool = Field(..., description="True when this ask had arrived before.")
    answered: list[AnsweredOut] = Field(
        default_factory=list,
        description="Published answers that may already answer the ask, best first: "
        "a channel can reply with them at once.",
    )


class ErrorOut(Schema):
    detail: str


@router.post(
    "/asks",
    auth=ChannelToken(),
    response={201: AskOut, 200: AskOut, 422: ErrorOut},
    summary="Post one ask from a channel",
    description=(
        "Authenticate with the channel's token (`Authorization: Bearer ...`). Send `external_id` or an "
        "`Idempotency-Key` header: a retry finds the first ask (200) instead of adding a second; "
        "the same id with a different text is refused (422)."
    ),
)
def ask_create(
    request: HttpRequest,
    body: AskIn,
    idempotency_key: Annotated[
        str | None, param.Header(alias="Idempotency-Key", max_length=200)
    ] = None,
) -> Status[Schema]:
    channel: Channel = request.auth  # type: ignore[attr-defined]
    # Whitespace is no id (it used to reach the database's check and fail
    # there; found by tests/test_api_fuzz.py).
    external_id = body.external_id.strip() or (
        f"idem:{idempotency_key}" if idempotency_key else f"api:{uuid.uuid4().hex}"
    )
    posted_at = body.posted_at
    if posted_at is not None and posted_at.tzinfo is None:
        return Status(
            422, ErrorOut(detail="posted_at needs a time zone, e.g. 2026-11-24T18:30:00+08:00")
        )
    try:
        received = ask_receive(
            channel=channel,
            text=body.text,
            external_id=external_id,
            author=body.author,
            posted_at=posted_at,
            url=body.url,
            likes=body.likes,
            replies=body.replies,
            shares=body.shares,
        )
    except IntakeError as exc:
        return Status(422, ErrorOut(detail=str(exc)))
    ask = received.ask
    out = AskOut(
        id=ask.pk,
        channel=channel.slug,
        external_id=ask.external_id,
        day=ask.day,
        duplicate=not received.created,
        answered=[
            AnsweredOut(
                url=absolute(reverse("desk:question", args=[answer.pk])),
                question_en=(answer.published or {}).get("question_en", ""),
                question_zh=(answer.published or {}).get("question_zh", ""),
                clarification=bool((answer.published or {}).get("is_clarification")),
            )
            for answer, _score in published_matches(ask.text)
        ],
    )
    return Status(201 if received.created else 200, out)
