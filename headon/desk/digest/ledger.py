"""The coverage ledger of one date, question by question.

Every figure of the digest's `coverage` is a sum over the rows built here,
which the public JSON carries whole (docs/digest.md, "Ledger"), so anyone
can recount them; `reconcile_digest.py` does. A row is one question that
has asks of the date, plus one row for the asks in no question yet.

The ledger is taken "as it stood at `at`": only the asks posted by `at`
count, an answer counts from the moment it became public for a question
(`Question.covered_at`), and a set-aside from its own time. An answer public
exactly at the cut-off counts as by the cut-off.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Case, CharField, Count, F, Q, Value, When

from headon.desk.merging.normalise import match_key
from headon.desk.models import Answer, Ask, Question, SetAside
from headon.desk.selectors import public_titles
from headon.timezones import organiser_tz

STATES = ("covered", "late", "open", "set_aside")
REASONS = tuple(SetAside.values)
# How far back a published answer's questions are looked at to tell that an
# open question has an answer already (its title matched word for word).
ANSWERED_WINDOW = dt.timedelta(days=60)


def local(value: dt.datetime | str | None) -> str | None:
    """An instant as ISO 8601 in the organiser's offset (the digest's one
    way of writing time), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(organiser_tz()).isoformat()


def _aside_now(at: dt.datetime) -> Q:
    return ~Q(set_aside="") & (Q(set_aside_at__isnull=True) | Q(set_aside_at__lte=at))


@dataclass(frozen=True)
class _Question:
    """What the ledger needs of a question, read in the same query as its
    asks' counts (joined, grouped with the question's id)."""

    pk: int
    answer_id: int | None
    answer_public: bool
    covered_at: dt.datetime | None
    set_aside: str
    set_aside_at: dt.datetime | None


def _counts(
    day: dt.date, cutoff: dt.datetime, at: dt.datetime
) -> tuple[dict[int | None, dict[str, Any]], dict[int, _Question]]:
    """Per question (None: in no question): asks, asks after the cut-off,
    set-aside asks by reason, and people and channels of the asks that are
    not set aside; and each question's state fields. One query, grouped by
    question and the ask's reason."""
    reason = Case(
        When(_aside_now(at), then=F("set_aside")), default=Value(""), output_field=CharField()
    )
    public = Case(
        When(question__answer__published__isnull=False, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    groups = (
        Ask.objects.filter(day=day, posted_at__lte=at)
        .annotate(reason=reason, answer_public=public)
        .values(
            "question",
            "reason",
            "answer_public",
            "question__answer",
            "question__covered_at",
            "question__set_aside",
            "question__set_aside_at",
        )
        .annotate(
            n=Count("id"),
            after=Count("id", filter=Q(posted_at__gt=cutoff)),
            people=Count("author_key", distinct=True, filter=~Q(author_key=""))
            + Count("id", filter=Q(author_key="")),
            channels=Count("channel", distinct=True),
        )
    )
    counts: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"asks": 0, "after": 0, "aside": {}, "people": 0, "channels": 0}
    )
    questions: dict[int, _Question] = {}
    for group in groups:
        pk = group["question"]
        entry = counts[pk]
        entry["asks"] += group["n"]
        entry["after"] += group["after"]
        if group["reason"]:
            entry["aside"][group["reason"]] = group["n"]
        else:
            entry["people"], entry["channels"] = group["people"], group["channels"]
        if pk is not None:
            questions[pk] = _Question(
                pk=pk,
                answer_id=group["question__answer"],
                answer_public=bool(group["answer_public"]),
                covered_at=group["question__covered_at"],
                set_aside=group["question__set_aside"],
                set_aside_at=group["question__set_aside_at"],
            )
    return counts, questions


def _answered_titles(day: dt.date, at: dt.datetime) -> dict[str, int]:
    """Match keys of what published answers answer (their question in both
    languages, and the questions covered by them lately) to the answer."""
    keys: dict[str, int] = {}
    public = Answer.objects.filter(published__isnull=False, first_published_at__lte=at).order_by()
    for pk, en, zh in public.values_list("pk", "published__question_en", "published__question_zh"):
        for text in (en, zh):
            if text:
                keys.setdefault(match_key(str(text)), pk)
    since = at - ANSWERED_WINDOW
    covered = (
        Question.objects.filter(
            covered_at__gte=since, covered_at__lte=at, answer__published__isnull=False
        )
        .values_list("text", "answer")
        .order_by()
    )
    for text, pk in covered:
        keys.setdefault(match_key(text), pk)
    keys.pop("", None)
    return keys


def _row(
    question: _Question, figures: dict[str, Any], cutoff: dt.datetime, at: dt.datetime
) -> dict[str, Any]:
    aside = dict(figures["aside"])
    reason = (
        question.set_aside
        if question.set_aside and (question.set_aside_at is None or question.set_aside_at <= at)
        else ""
    )
    covered_at = question.covered_at if question.answer_public else None
    if reason:
        state, state_at = "set_aside", question.set_aside_at
        # Asks with no reason of their own take the question's.
        rest = figures["asks"] - sum(aside.values())
        if rest:
            aside[reason] = aside.get(reason, 0) + rest
    elif covered_at is not None and covered_at <= at:
        state = "covered" if covered_at <= cutoff else "late"
        state_at = covered_at
    else:
        state, state_at = "open", None
    counted = figures["asks"] - sum(aside.values())
    return {
        "id": question.pk,
        "title": None,  # filled in by ledger_rows, never for a set-aside one
        "asks": figures["asks"],
        "asks_by_cutoff": figures["asks"] - figures["after"],
        "asks_after_cutoff": figures["after"],
        "asks_set_aside": {r: aside[r] for r in REASONS if aside.get(r)},
        "people": figures["people"] if counted else 0,
        "channels": figures["channels"] if counted else 0,
        "state": state,
        "set_aside_reason": reason or None,
        "state_at": local(state_at),
        "answer_id": question.answer_id if state in ("covered", "late") else None,
        "see_answer_id": None,
    }


def ledger_rows(
    day: dt.date, *, cutoff: dt.datetime, at: dt.datetime, public: bool = True
) -> dict[str, Any]:
    """The ledger of `day` at `at`: {"questions": rows, "unassigned": ...}.

    Rows are ordered by people (of the asks counted in the row's state),
    then asks, then id: the order the public lists use. `public=False`
    leaves out the titles and `see_answer_id` (the figures need neither):
    one query instead of four."""
    counts, questions = _counts(day, cutoff, at)
    loose = counts.pop(None, None) or {"asks": 0, "after": 0, "aside": {}}
    rows = [_row(questions[pk], counts[pk], cutoff, at) for pk in questions]
    rows.sort(key=lambda r: (-r["people"], -r["asks"], r["id"]))
    if public and rows:
        found = list(Question.objects.filter(pk__in=list(questions)).only("id", "text", "title"))
        texts = {question.pk: question.text for question in found}
        titles = public_titles(found)
        for row in rows:
            if row["state"] != "set_aside":
                row["title"] = titles[row["id"]]
        still_open = [r for r in rows if r["state"] == "open"]
        answered = _answered_titles(day, at) if still_open else {}
        for row in still_open:
            question = questions[row["id"]]
            linked = question.answer_id if question.answer_public else None
            row["see_answer_id"] = linked or answered.get(match_key(texts[row["id"]]))
    return {
        "questions": rows,
        "unassigned": {
            "asks": loose["asks"],
            "asks_by_cutoff": loose["asks"] - loose["after"],
            "asks_after_cutoff": loose["after"],
            "asks_set_aside": {r: loose["aside"][r] for r in REASONS if loose["aside"].get(r)},
        },
    }


def totals(ledger: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the ledger, as sums over its rows (the same sums
    docs/digest.md gives and reconcile_digest.py recomputes)."""
    rows, loose = ledger["questions"], ledger["unassigned"]
    by_reason = dict.fromkeys(REASONS, 0)
    for item in [*rows, loose]:
        for reason, n in item["asks_set_aside"].items():
            by_reason[reason] += n

    def counted(state: str) -> int:
        return sum(
            r["asks"] - sum(r["asks_set_aside"].values()) for r in rows if r["state"] == state
        )

    asks = sum(r["asks"] for r in rows) + loose["asks"]
    covered = counted("covered")
    q_aside = dict.fromkeys(REASONS, 0)
    for row in rows:
        if row["state"] == "set_aside":
            q_aside[row["set_aside_reason"]] += 1
    figures = {
        "asks": asks,
        "asks_by_cutoff": sum(r["asks_by_cutoff"] for r in rows) + loose["asks_by_cutoff"],
        "asks_after_cutoff": sum(r["asks_after_cutoff"] for r in rows) + loose["asks_after_cutoff"],
        "asks_covered": covered,
        "asks_late": counted("late"),
        "asks_open": counted("open") + loose["asks"] - sum(loose["asks_set_aside"].values()),
        "asks_set_aside": sum(by_reason.values()),
        "asks_set_aside_by_reason": by_reason,
        "asks_unassigned": loose["asks"],
        "questions": len(rows),
        "questions_covered": sum(1 for r in rows if r["state"] == "covered"),
        "questions_late": sum(1 for r in rows if r["state"] == "late"),
        "questions_open": sum(1 for r in rows if r["state"] == "open"),
        "questions_set_aside": sum(q_aside.values()),
        "questions_set_aside_by_reason": q_aside,
        "share": round(covered / asks, 4) if asks else 1.0,
    }
    return figures


def worked_on(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    """What the public lists call "still being worked on": open questions
    with asks counted in that state and no published answer to point to."""
    return [
        {"id": r["id"], "question": r["title"], "asked_by": r["people"]}
        for r in ledger["questions"]
        if r["state"] == "open" and r["see_answer_id"] is None and r["people"]
    ]


def answered_already(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    """Open questions asked again in the words of a published answer:
    pointed to it, not counted as covered until a person links them."""
    return [
        {
            "id": r["id"],
            "question": r["title"],
            "asked_by": r["people"],
            "answer_id": r["see_answer_id"],
        }
        for r in ledger["questions"]
        if r["state"] == "open" and r["see_answer_id"] is not None and r["people"]
    ]
