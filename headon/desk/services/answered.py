"""Which of a day's open questions look like questions already answered.

The digest page lists them before publishing, for linking in one click each
(a second person confirms the link). The merge engine decides, as it
decides where an ask goes: built as live assignment builds it (the
process's embedder, the latest learned transform and the bands chosen with
it), it takes up each recently published answer as one question (its asks
and the answer's own question in both languages) and scores each open
question of the day against them by average linkage. A question from the
suggest band up is listed, best first. A rumour is compared with
clarifications only: it may be linked to nothing else
(`answers.question_link`).

With no sentence model (HEADON_EMBEDDER=none) the engine has no meaning
score, and the list is the app's search, as before (`answers.looks_answered`).

Only the worker runs this (`answered_check`, the `check_answered` job): a
cold process takes up to a minute to load the model and encode the
published side. The digest page reads the stored rows (`lookalikes`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from headon.desk.merging import Locks, MergeEngine
from headon.desk.merging.fillers import shared_remarks
from headon.desk.models import Answer, AnsweredCheck, AnsweredLookalike, Question
from headon.desk.selectors import day_overview, listed_asks
from headon.desk.services import answers as answering
from headon.desk.services import merging

# Bounds on the published side, which the engine encodes (about 6 ms a
# text for e5+use on one core) the first time a process shows the page and
# again for what changed since. Answers published more than
# HEADON_ANSWERED_DAYS ago are left out: a question asked again months
# later is rare, and its answer may be out of date anyway. Each answer
# brings its 20 most recent asks: the engine's score is an average over
# them, and twenty wordings already show how people ask it; more would
# only cost time (a popular answer gathers hundreds over its nights).
ASKS_PER_ANSWER = 20
# And at most this many answers, the most recently published: a cold
# process then encodes at most ~11,000 texts (about a minute), once.
ANSWERS = 500
# Open questions checked, best ranked first (as the search-based list did).
CHECKED = 100


@dataclass(frozen=True)
class LooksAnswered:
    """An open question, the published answer it looks answered by, and how
    sure: `score` is the engine's (or the search's, `by == "search"`);
    `sure` means the engine's auto band, where it would merge on its own."""

    question: Question
    answer: Answer
    score: float
    sure: bool = False
    by: str = "engine"


def _published_side(
    since: dt.datetime,
) -> tuple[dict[int, Answer], list[tuple[str, str, str]], frozenset[str]]:
    """The recently published answers, (id, text, answer key) rows for
    the engine: each answer's own question in both languages and the most
    recent asks of the questions linked to it, and the remarks those asks
    end with (merging/fillers.py), compared as if absent as the day's
    merging does. Two queries."""
    answers = {
        answer.pk: answer
        for answer in Answer.objects.filter(
            published__isnull=False, published_at__gte=since
        ).order_by("-published_at", "-pk")[:ANSWERS]
    }
    rows: list[tuple[str, str, str]] = []
    for pk, answer in sorted(answers.items()):
        copy = answer.published or {}
        for lang in ("en", "zh"):
            text = str(copy.get(f"question_{lang}", "")).strip()
            if text:
                rows.append((f"answer-{pk}-{lang}", text, f"a{pk}"))
    recent = Window(
        RowNumber(),
        partition_by=[F("question__answer_id")],
        order_by=[F("posted_at").desc(), F("id").desc()],
    )
    authored: list[tuple[str, str, str]] = []
    for ask_id, text, answer_id, author in (
        listed_asks()
        .filter(question__answer_id__in=list(answers))
        .annotate(row=recent)
        .filter(row__lte=ASKS_PER_ANSWER)
        .values_list("id", "text", "question__answer_id", "author_key")
    ):
        rows.append((f"ask-{ask_id}", text, f"a{answer_id}"))
        authored.append((text, f"a{answer_id}", author))
    return answers, rows, shared_remarks(authored)


# One loaded engine per process, kept while the published side and the
# model are the same: a later view encodes only the day's open questions.
# Its embedder remembers every text it encoded (RememberingEmbedder), so
# a new publication costs the new texts only.
_lock = threading.Lock()
_state: dict[str, Any] = {}
REMEMBERED = 50_000  # texts' vectors kept (about 180 MB for e5+use); then start again


def _engine(rows: list[tuple[str, str, str]], remarks: frozenset[str]) -> MergeEngine | None:
    model = merging.embedder()
    if model is None:
        return None
    transform_row, _transform = merging.current_transform(model)
    signature = hashlib.sha256(
        repr((model.name, transform_row, rows, sorted(remarks))).encode()
    ).hexdigest()
    with _lock:
        if _state.get("signature") == signature:
            cached: MergeEngine = _state["engine"]
            return cached
        memory = (model.name, transform_row)
        remembered = _state.get("embedder")
        if _state.get("memory") != memory or len(getattr(remembered, "_memo", ())) > REMEMBERED:
            _state.clear()
        engine, _row = merging.new_engine(locks=Locks(), closed=frozenset(), fillers=remarks)
        if _state.get("embedder") is not None:
            engine.embedder = _state["embedder"]
        else:
            engine.embedder = merging.RememberingEmbedder(model)
        engine.load(rows)
        _state.update(signature=signature, engine=engine, memory=memory, embedder=engine.embedder)
        return engine


def looks_answered(day: dt.date, *, now: dt.datetime | None = None) -> list[LooksAnswered]:
    """The day's open questions (no answer, no proposed link, not set
    aside) that look like questions a recently published answer covers,
    best first; by the search when no sentence model is configured. An
    answer a person refused to link the question to is passed over for
    its next best (`answers.question_link_refuse`)."""
    now = now or timezone.now()
    answers, rows, remarks = _published_side(now - dt.timedelta(days=settings.HEADON_ANSWERED_DAYS))
    engine = _engine(rows, remarks) if rows else None
    if engine is None:
        return _by_search(day) if merging.embedder() is None else []
    overview = day_overview(day, limit=None, samples=ASKS_PER_ANSWER, listed=True)
    open_questions = [
        item
        for item in overview.questions
        if item.question.answer_id is None and item.question.proposed_answer_id is None
    ][:CHECKED]
    refused = answering.refused_answers([item.question.pk for item in open_questions])
    t = engine.thresholds
    wordings = {
        item.question.pk: [item.question.title, *(a.text for a in item.samples)]
        if item.question.title
        else [a.text for a in item.samples] or [item.question.text]
        for item in open_questions
    }
    # One batch through the model (its embedder remembers), not one per question.
    engine.meaning_vectors([text for texts in wordings.values() for text in texts])
    found: list[LooksAnswered] = []
    for item in open_questions:
        question = item.question
        scores = engine.score_against(wordings[question.pk])
        best: tuple[float, int] | None = None
        for key, score in scores.items():
            answer = answers[int(key[1:])]
            if question.is_rumour and not answer.is_clarification:
                continue
            if answer.pk in refused.get(question.pk, ()):
                continue
            if score >= t.suggest and (best is None or (score, -answer.pk) > (best[0], -best[1])):
                best = (score, answer.pk)
        if best is not None:
            found.append(LooksAnswered(question, answers[best[1]], best[0], best[0] >= t.meaning))
    return sorted(found, key=lambda m: (-m.score, m.question.pk))


def _by_search(day: dt.date) -> list[LooksAnswered]:
    """The app's search (answers.looks_answered), keeping to the rule that
    a rumour is linked to a clarification only."""
    return [
        LooksAnswered(question, answer, score, by="search")
        for question, answer, score in answering.looks_answered(day)
        if not question.is_rumour or answer.is_clarification
    ]


def _locked(day: dt.date) -> AnsweredCheck:
    """The day's AnsweredCheck row, locked until the transaction ends: the
    runs that replace the day's rows take turns on it."""
    return AnsweredCheck.objects.select_for_update().get(day=day)


def answered_check(day: dt.date, *, now: dt.datetime | None = None) -> int:
    """Work out the day's list and store it in place of the last one; the
    number of rows stored. For the worker (the `check_answered` job).

    Idempotent and safe to run twice at once. The slow part (the model)
    runs outside any transaction; the rows are then replaced in one
    transaction that first locks the day's AnsweredCheck row (SELECT ...
    FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions take the
    write lock at BEGIN), so two runs replace the rows one after the
    other, never interleaved, and a run that started before the stored
    result's run leaves it alone: the later start read the later state.
    The unique (day, question) constraint holds it to one set of rows."""
    started = now or timezone.now()
    AnsweredCheck.objects.get_or_create(day=day)
    AnsweredCheck.objects.filter(day=day).update(queued_at=None, started_at=started)
    found = looks_answered(day, now=started)
    with transaction.atomic():
        check = _locked(day)
        if check.checked_at is not None and check.checked_at > started:
            return 0  # a run that started later stored its list already
        AnsweredLookalike.objects.filter(day=day).delete()
        AnsweredLookalike.objects.bulk_create(
            AnsweredLookalike(
                day=day,
                question=match.question,
                answer=match.answer,
                score=match.score,
                sure=match.sure,
                by=match.by,
                computed_at=started,
            )
            for match in found
        )
        # Stamped with the start, not the end: what the run read is as of then.
        check.checked_at = started
        check.save(update_fields=["checked_at"])
    return len(found)
