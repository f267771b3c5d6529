"""The night's digest and its coverage ledger.

The ledger (`ledger.py`) says, question by question, what happened to the
asks of one date: their question's answer was public by the cut-off
(covered), after it (late), not yet (open, carried over), or staff set them
aside with a reason. Every figure of `coverage` is a sum over those rows,
and the public JSON carries the rows whole, so anyone can recount it.

`digest_publish` publishes the approved answers of the date's questions,
stamped with the publication's own instant (so a publication after the
cut-off makes them late), and freezes the digest as a snapshot (format
"headon-digest/2", docs/digest.md) in a new revision — only when its
content changed: a note alone is no change, so publishing is idempotent
per date. Every later revision carries a note. Pages, feeds, text, JSON
and images are rendered from the snapshot, never from live rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from headon import faults
from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.desk import later
from headon.desk.digest import ledger
from headon.desk.models import Answer, Ask, Digest, DigestRevision, Question
from headon.desk.services import lookalikes
from headon.desk.services.answers import after_publishing, answer_publish
from headon.timezones import organiser_now, organiser_tz
from headon.visits import selectors as visits_selectors

FORMAT = "headon-digest/2"


class DigestError(Exception):
    pass


def cutoff_for(day: dt.date) -> dt.datetime:
    """The instant the night's answers for `day` are due (organiser's time)."""
    hours, minutes = (int(part) for part in settings.HEADON_DIGEST_CUTOFF.split(":"))
    local = dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=organiser_tz())
    return local.astimezone(dt.UTC)


@dataclass(frozen=True)
class Coverage:
    asks: int
    asks_by_cutoff: int
    asks_after_cutoff: int
    asks_covered: int
    asks_late: int
    asks_open: int
    asks_set_aside: int
    asks_set_aside_by_reason: dict[str, int]
    asks_unassigned: int
    questions: int
    questions_covered: int
    questions_late: int
    questions_open: int
    questions_set_aside: int
    questions_set_aside_by_reason: dict[str, int]
    share: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def coverage(day: dt.date, *, now: dt.datetime | None = None) -> Coverage:
    """The ledger's figures for `day` as they stand at `now` (default: now):
    sums over the per-question rows the digest publishes. One query."""
    at = now or timezone.now()
    rows = ledger.ledger_rows(day, cutoff=cutoff_for(day), at=at, public=False)
    return Coverage(**ledger.totals(rows))


def _bilingual(copy: dict[str, Any], name: str) -> dict[str, str]:
    return {"en": str(copy.get(f"{name}_en", "")), "zh": str(copy.get(f"{name}_zh", ""))}


def _answer_entry(answer: Answer, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One published answer as the digest lists it, its figures summed over
    the ledger rows it covers."""
    copy = answer.published or {}
    return {
        "rank": 0,
        "answer_id": answer.pk,
        "question_ids": [r["id"] for r in rows],
        "question": _bilingual(copy, "question"),
        "body": _bilingual(copy, "body"),
        "asked_by": sum(r["people"] for r in rows),
        "asks": sum(r["asks"] - sum(r["asks_set_aside"].values()) for r in rows),
        "channels": max(r["channels"] for r in rows),
        "url": reverse("desk:question", args=[answer.pk]),
        "tags": copy.get("tags", []),
        "rumour": (
            {
                "claim": _bilingual(copy, "claim"),
                "verdict": copy.get("verdict", ""),
                "evidence": _bilingual(copy, "evidence"),
            }
            if copy.get("is_clarification")
            else None
        ),
        "first_published_at": ledger.local(copy.get("first_published_at")),
        "corrections": [
            {"at": ledger.local(c.get("at")), "note": c.get("note", "")}
            for c in copy.get("corrections", [])
        ],
        "late": all(r["state"] == "late" for r in rows),
    }


def night_of(at: dt.datetime) -> dt.date:
    """The date whose digest lists a draw committed or sealed at `at`: the
    first whose cut-off is at or after it (the window of `draw_window`)."""
    day = at.astimezone(organiser_tz()).date()
    return day if at <= cutoff_for(day) else day + dt.timedelta(days=1)


def draw_window(day: dt.date, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The draw commitments and seals the digest of `day` lists: those made
    after the previous night's cut-off and by this one's, as they stood at
    `at`. So each is in exactly one night's digest: the one whose cut-off
    first follows it (docs/draw.md)."""
    cutoff = cutoff_for(day)
    return cutoff_for(day - dt.timedelta(days=1)), min(at, cutoff)


def draws_of(day: dt.date, at: dt.datetime) -> list[dict[str, Any]]:
    """The draws section of the snapshot: what the visits half committed
    to and sealed in the window, each with a time this digest publishes."""
    return [
        {
            "kind": event["kind"],
            "program": event["program"],
            "at": ledger.local(event["at"]),
            "hash": event["hash"],
            "beacon_offset": event["beacon_offset"],
            "beacon_round": event["beacon_round"],
            "url": reverse("visits:draw", args=[event["slug"]]),
        }
        for event in visits_selectors.draw_events(*draw_window(day, at))
    ]


def build_snapshot(day: dt.date, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The digest of `day` from the rows as they stood at `now`."""
    at = now or timezone.now()
    cutoff = cutoff_for(day)
    rows = ledger.ledger_rows(day, cutoff=cutoff, at=at)
    covering: dict[int, list[dict[str, Any]]] = {}
    for row in rows["questions"]:
        if row["state"] in ("covered", "late"):
            covering.setdefault(row["answer_id"], []).append(row)
    answers = Answer.objects.only("id", "published").in_bulk(list(covering))
    # Most people first, summed over the questions one answer covers; then
    # numbered as shown, rumours apart.
    listed = sorted(
        (_answer_entry(answers[pk], found) for pk, found in covering.items()),
        key=lambda e: (-e["asked_by"], -e["asks"], e["answer_id"]),
    )
    for kind in (False, True):
        for number, entry in enumerate((e for e in listed if bool(e["rumour"]) is kind), 1):
            entry["rank"] = number
    earlier_open = (
        Question.objects.filter(
            covered_at__isnull=True,
            set_aside="",
            asks__day__lt=day,
            asks__day__gte=day - dt.timedelta(days=30),
            merged_into__isnull=True,
        )
        .exclude(asks__day=day)
        .values("pk")
        .distinct()
        .count()
    )
    worked_on = ledger.worked_on(rows)
    return {
        "format": FORMAT,
        "date": day.isoformat(),
        "cutoff": ledger.local(cutoff),
        "site": {
            "name": {"en": settings.SITE_NAME, "zh": settings.HEADON_SITE_NAME_ZH},
            "url": settings.HEADON_SITE_URL,
        },
        "coverage": ledger.totals(rows),
        "ledger": rows,
        "answers": listed,
        "open": worked_on,
        "open_count": len(worked_on),
        "answered_already": [
            item | {"url": reverse("desk:question", args=[item["answer_id"]])}
            for item in ledger.answered_already(rows)
        ],
        "earlier_open_count": earlier_open,
        "draws": draws_of(day, at),
    }


def content_hash(snapshot: dict[str, Any]) -> str:
    body = {k: v for k, v in snapshot.items() if k not in ("revision", "published_at", "note")}
    if not body.get("draws"):
        # Revisions from before `draws` keep their hash: none is no change.
        body.pop("draws", None)
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def day_answers_to_publish(day: dt.date) -> list[Answer]:
    return list(
        Answer.objects.filter(status=Answer.Status.APPROVED, questions__asks__day=day).distinct()
    )


@transaction.atomic
def digest_publish(
    day: dt.date,
    *,
    actor: User | None = None,
    note: str = "",
    automatic: bool = False,
    now: dt.datetime | None = None,
) -> tuple[DigestRevision | None, bool]:
    """Publish the digest of `day`: (the current revision, whether it is new).

    The approved answers of the day's questions are published with it. The
    automatic run at the cut-off only ever makes the first revision; later
    revisions are made by a person and carry a note."""
    at = now or timezone.now()
    digest, _created = Digest.objects.get_or_create(date=day)
    digest = Digest.objects.select_for_update().get(pk=digest.pk)
    current = digest.revisions.order_by("-number").first()
    if automatic and current is not None:
        return current, False
    # First publications go out with the digest; a correction of an answer
    # already public is published on its own page, with its own note.
    pending = [a for a in day_answers_to_publish(day) if a.published is None]
    if current is not None and pending and not note.strip():
        raise DigestError(_("The digest is published already: say what this new revision changes."))
    published = [answer_publish(answer=a, actor=actor, at=at, batch=True) for a in pending]
    after_publishing(published)
    snapshot = build_snapshot(day, now=at)
    digest_hash = content_hash(snapshot)
    if current is not None and current.content_hash == digest_hash:
        return current, False
    if current is not None and not note.strip():
        raise DigestError(_("The digest is published already: say what this new revision changes."))
    number = digest.revision + 1
    snapshot |= {
        "revision": number,
        "published_at": at.astimezone(organiser_tz()).isoformat(),
        "note": note.strip()[:2000],
    }
    revision = DigestRevision.objects.create(
        digest=digest,
        number=number,
        snapshot=snapshot,
        content_hash=digest_hash,
        note=note.strip()[:2000],
        published_at=at,
        published_by=actor,
    )
    digest.revision = number
    digest.published_at = at
    digest.first_published_at = digest.first_published_at or at
    digest.save()
    audit_record(
        action="digest_publish",
        actor=actor,
        target=digest,
        data={"revision": number, "answers": len(snapshot["answers"])},
    )
    later.refit_transform()  # a published night is confirmed history to learn from
    # The published side changed: the day's "Already answered?" list, and
    # today's (what is asked again now), are worked out again by the worker.
    for checked in {day, at.astimezone(organiser_tz()).date()}:
        lookalikes.check_requested(checked)
    faults.pause("digest-publish", digest_hash)  # crash tests only
    return revision, True


def digest_due(now: dt.datetime | None = None) -> dt.date | None:
    """The date whose cut-off has passed with no digest yet (today or
    yesterday, so a worker down at the cut-off still publishes), when it
    has asks or draw commitments and seals to publish a time for."""
    at = now or timezone.now()
    today = organiser_now().date() if now is None else at.astimezone(organiser_tz()).date()
    for day in (today, today - dt.timedelta(days=1)):
        if (
            cutoff_for(day) <= at
            and (Ask.objects.filter(day=day).exists() or draws_of(day, at))
            and not DigestRevision.objects.filter(digest__date=day).exists()
        ):
            return day
    return None
