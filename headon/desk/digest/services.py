"""The night's digest and its coverage ledger.

`coverage` counts, for one date, what happened to every ask received: its
question's answer was public by the cut-off (covered), after it (late), or
not yet (open, carried over). It is one aggregate over the asks, so it
reconciles with the database by construction, and the figures add up:
asks = covered + late + open, and the same for questions.

`digest_publish` publishes the approved answers of the date's questions and
freezes the digest as a snapshot (format "headon-digest/1", docs/digest.md)
in a new revision — only when something changed, so it is idempotent per
date; every later revision carries a note. Pages, feeds, text and images
are rendered from the snapshot, never from live rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from headon import faults
from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.desk import later
from headon.desk.models import Answer, Ask, Digest, DigestRevision, Question
from headon.desk.ranking import QuestionDay
from headon.desk.selectors import day_overview
from headon.desk.services.answers import after_publishing, answer_publish
from headon.timezones import organiser_now, organiser_tz

FORMAT = "headon-digest/1"
OPEN_LISTED = 50


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
    asks_covered: int
    asks_late: int
    asks_open: int
    asks_unassigned: int
    asks_after_cutoff: int
    questions: int
    questions_covered: int
    questions_late: int
    questions_open: int

    @property
    def share(self) -> float:
        return self.asks_covered / self.asks if self.asks else 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"share": round(self.share, 4)}


def coverage(day: dt.date, *, now: dt.datetime | None = None) -> Coverage:
    """The ledger of `day` as it stands at `now` (default: now). One query."""
    cutoff = cutoff_for(day)
    at = now or timezone.now()
    covered = Q(question__covered_at__lte=min(cutoff, at))
    late = Q(question__covered_at__gt=cutoff, question__covered_at__lte=at)
    figures = Ask.objects.filter(day=day).aggregate(
        asks=Count("id"),
        covered=Count("id", filter=covered),
        late=Count("id", filter=late),
        unassigned=Count("id", filter=Q(question__isnull=True)),
        after=Count("id", filter=Q(posted_at__gt=cutoff)),
        questions=Count("question", distinct=True),
        q_covered=Count("question", distinct=True, filter=covered),
        q_late=Count("question", distinct=True, filter=late),
    )
    return Coverage(
        asks=figures["asks"],
        asks_covered=figures["covered"],
        asks_late=figures["late"],
        asks_open=figures["asks"] - figures["covered"] - figures["late"],
        asks_unassigned=figures["unassigned"],
        asks_after_cutoff=figures["after"],
        questions=figures["questions"],
        questions_covered=figures["q_covered"],
        questions_late=figures["q_late"],
        questions_open=figures["questions"] - figures["q_covered"] - figures["q_late"],
    )


def _ranked_questions(day: dt.date) -> list[tuple[int, QuestionDay]]:
    """The date's questions best first, ranked as on the console."""
    overview = day_overview(day, limit=None, samples=0)
    return [(item.question.pk, item.ranked.figures) for item in overview.questions]


def _bilingual(copy: dict[str, Any], name: str) -> dict[str, str]:
    return {"en": str(copy.get(f"{name}_en", "")), "zh": str(copy.get(f"{name}_zh", ""))}


def build_snapshot(day: dt.date, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The digest of `day` from the rows as they are now."""
    at = now or timezone.now()
    cutoff = cutoff_for(day)
    ranked = _ranked_questions(day)
    questions = Question.objects.only("id", "text", "answer", "covered_at").in_bulk(
        [pk for pk, _figures in ranked]
    )
    answer_ids = {q.answer_id for q in questions.values() if q.answer_id and q.covered_at}
    answers = Answer.objects.filter(pk__in=answer_ids, published__isnull=False).in_bulk()
    entries: dict[int, dict[str, Any]] = {}
    open_questions: list[dict[str, Any]] = []
    for position, (pk, figures) in enumerate(ranked, start=1):
        question = questions[pk]
        answer = answers.get(question.answer_id or 0)
        if answer is None or question.covered_at is None or question.covered_at > at:
            open_questions.append({"question": question.text[:300], "asked_by": figures.people})
            continue
        entry = entries.get(answer.pk)
        if entry is None:
            copy = answer.published or {}
            entries[answer.pk] = {
                "rank": position,
                "answer_id": answer.pk,
                "question": _bilingual(copy, "question"),
                "body": _bilingual(copy, "body"),
                "asked_by": figures.people,
                "asks": figures.asks,
                "channels": figures.channels,
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
                "first_published_at": copy.get("first_published_at", ""),
                "corrections": copy.get("corrections", []),
                "late": question.covered_at > cutoff,
            }
        else:
            entry["asked_by"] += figures.people
            entry["asks"] += figures.asks
            entry["channels"] = max(entry["channels"], figures.channels)
    earlier_open = (
        Question.objects.filter(
            covered_at__isnull=True,
            asks__day__lt=day,
            asks__day__gte=day - dt.timedelta(days=30),
            merged_into__isnull=True,
        )
        .exclude(asks__day=day)
        .values("pk")
        .distinct()
        .count()
    )
    # Most people first: the ranking's first criterion, summed over the
    # questions one answer covers; then numbered as shown.
    listed = sorted(entries.values(), key=lambda e: (-e["asked_by"], e["rank"]))
    for kind in (False, True):
        for number, entry in enumerate((e for e in listed if bool(e["rumour"]) is kind), 1):
            entry["rank"] = number
    ledger = coverage(day, now=at)
    return {
        "format": FORMAT,
        "date": day.isoformat(),
        "cutoff": cutoff.astimezone(organiser_tz()).isoformat(),
        "site": {
            "name": {"en": settings.SITE_NAME, "zh": settings.HEADON_SITE_NAME_ZH},
            "url": settings.HEADON_SITE_URL,
        },
        "coverage": ledger.as_dict(),
        "answers": listed,
        "open": open_questions[:OPEN_LISTED],
        "open_count": len(open_questions),
        "earlier_open_count": earlier_open,
    }


def content_hash(snapshot: dict[str, Any]) -> str:
    body = {k: v for k, v in snapshot.items() if k not in ("revision", "published_at", "note")}
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
    faults.pause("digest-publish", digest_hash)  # crash tests only
    return revision, True


def digest_due(now: dt.datetime | None = None) -> dt.date | None:
    """The date whose cut-off has passed with no digest yet (today or
    yesterday, so a worker down at the cut-off still publishes)."""
    at = now or timezone.now()
    today = organiser_now().date() if now is None else at.astimezone(organiser_tz()).date()
    for day in (today, today - dt.timedelta(days=1)):
        if (
            cutoff_for(day) <= at
            and Ask.objects.filter(day=day).exists()
            and not DigestRevision.objects.filter(digest__date=day).exists()
        ):
            return day
    return None
