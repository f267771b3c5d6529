"""Asks that arrive one at a time: the public ask form and the webhook.

Each source is a function that takes what its channel sends and returns the
stored Ask; a retried delivery with the same external id finds the first
one (the unique channel + external id constraint decides a race)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from headon.desk import later
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel
from headon.desk.services.imports import author_key
from headon.timezones import organiser_tz

MAX_TEXT = 2000


class IntakeError(ValueError):
    pass


class IntakeConflictError(IntakeError):
    """The external id (or idempotency key) already names a different ask."""


@dataclass(frozen=True)
class Received:
    ask: Ask
    created: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def channel_token_issue(channel: Channel) -> str:
    """A new webhook token for `channel`; only its hash is kept."""
    token = f"hdn_{secrets.token_urlsafe(32)}"
    channel.token_hash = token_hash(token)
    channel.save(update_fields=["token_hash"])
    return token


def channel_for_token(token: str) -> Channel | None:
    if not token:
        return None
    return Channel.objects.filter(
        token_hash=token_hash(token), is_active=True, kind=Channel.Kind.WEBHOOK
    ).first()


def ask_receive(
    *,
    channel: Channel,
    text: str,
    external_id: str,
    author: str = "",
    posted_at: dt.datetime | None = None,
    url: str = "",
    likes: int = 0,
    replies: int = 0,
    shares: int = 0,
) -> Received:
    """Store one ask as received, once, and have it placed in a question."""
    text = (text or "").strip()
    if not text:
        raise IntakeError("The ask has no text.")
    if len(text) > MAX_TEXT:
        raise IntakeError(f"The ask is longer than {MAX_TEXT} characters.")
    # PostgreSQL's text cannot hold NUL, in any field (the author's used to
    # fail the insert there: tests/test_import_fuzz.py).
    if any("\x00" in value for value in (text, author, external_id, url)):
        raise IntakeError("The ask holds a NUL character.")
    external_id = external_id.strip()[:200]
    if not external_id:
        raise IntakeError("The ask has no external id.")
    now = timezone.now()
    posted_at = min(posted_at or now, now)  # a clock ahead of ours does not post from the future
    # Stored in UTC: PostgreSQL refuses an offset past ±15:59 ("+22:14"),
    # which Python and the API's schema accept (found by test_api_fuzz).
    posted_at = posted_at.astimezone(dt.UTC)
    existing = Ask.objects.filter(channel=channel, external_id=external_id).first()
    if existing is not None:
        return _again(existing, text)
    day = posted_at.astimezone(organiser_tz()).date()
    try:
        with transaction.atomic():
            ask = Ask.objects.create(
                channel=channel,
                external_id=external_id,
                text=text,
                author=author.strip()[:200],
                author_key=author_key(channel, author.strip()[:200]),
                posted_at=posted_at,
                day=day,
                likes=max(likes, 0),
                replies=max(replies, 0),
                shares=max(shares, 0),
                url=url if url.startswith(("http://", "https://")) else "",
                match_key=exact_key(text),
            )
            # Placed by the worker, after this commits (headon.jobs).
            later.assign_day(day.isoformat())
    except IntegrityError:
        return _again(Ask.objects.get(channel=channel, external_id=external_id), text)
    return Received(ask, True)


def _again(existing: Ask, text: str) -> Received:
    """A retry finds the first ask; another ask under its id is refused,
    never dropped in silence (Stripe's rule for idempotency keys)."""
    if existing.text != text:
        raise IntakeConflictError(
            "This external_id or Idempotency-Key was already used for a different ask."
        )
    return Received(existing, False)
