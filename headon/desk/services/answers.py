"""Answers: written, reviewed, approved, published, corrected.

Writers draft and send for review; approvers return or approve, and
publish; nobody approves their own last edit. The working copy is on the
Answer; what the public sees is `Answer.published`, replaced only by
publishing again. Every step is an AnswerRevision holding the content it
saw, so the history of an answer is complete.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.desk import figures
from headon.desk.markup import markdown_text, render_markdown
from headon.desk.merging.terms import terms
from headon.desk.models import (
    Answer,
    AnswerRevision,
    AnswerTerm,
    Ask,
    LinkRefusal,
    Question,
    Tag,
)
from headon.desk.selectors import day_overview
from headon.desk.services import answer_vectors, lookalikes

TEXT_FIELDS = (
    "question_en",
    "question_zh",
    "body_en",
    "body_zh",
    "claim_en",
    "claim_zh",
    "verdict",
    "evidence_en",
    "evidence_zh",
)
LIMITS = {"question_en": 300, "question_zh": 300, "claim_en": 2000, "claim_zh": 2000}
BODY_LIMIT = 20_000


class AnswerError(Exception):
    """A step that cannot be taken, with a message for the person."""


def _content(answer: Answer) -> dict[str, Any]:
    content: dict[str, Any] = {name: getattr(answer, name) for name in TEXT_FIELDS}
    content["is_clarification"] = answer.is_clarification
    content["tags"] = sorted(answer.tags.values_list("slug", flat=True)) if answer.pk else []
    return content


def _log(answer: Answer, kind: str, actor: User | None, note: str = "") -> AnswerRevision:
    revision = AnswerRevision.objects.create(
        answer=answer,
        version=answer.version,
        kind=kind,
        status=answer.status,
        content=_content(answer),
        note=note,
        actor=actor,
    )
    audit_record(
        action=f"answer_{kind}", actor=actor, target=answer, data={"version": answer.version}
    )
    return revision


def _clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name not in fields:
            continue
        value = str(fields[name] or "").replace("\x00", "").strip()
        limit = LIMITS.get(name, BODY_LIMIT)
        if len(value) > limit:
            raise AnswerError(_("A field is longer than %(n)s characters.") % {"n": limit})
        if name == "verdict" and value and value not in Answer.Verdict.values:
            raise AnswerError(_("Choose a verdict from the list."))
        cleaned[name] = value
    return cleaned


@transaction.atomic
def answer_create(
    *,
    question: Question,
    actor: User | None,
    fields: Mapping[str, Any],
    tags: Iterable[Tag] = (),
) -> Answer:
    """A new draft for `question`, which it covers once published."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.answer_id is not None:
        raise AnswerError(_("This question has an answer already; edit that one."))
    cleaned = _clean_fields(fields)
    if not any(isinstance(v, str) and v.strip() for v in cleaned.values()):
        # An empty draft covers nothing and only fills the queue.
        raise AnswerError(_("Write the question or the answer in one language at least."))
    answer = Answer(created_by=actor, is_clarification=question.is_rumour, **cleaned)
    answer.save()
    answer.tags.set(list(tags))
    question.answer = answer
    question.save(update_fields=["answer"])
    _log(answer, AnswerRevision.Kind.CREATE, actor)
    return answer


def _locked(answer: Answer, version: int | None = None) -> Answer:
    current = Answer.objects.select_for_update().get(pk=answer.pk)
    if version is not None and current.version != version:
        raise AnswerError(
            _("Someone else changed this answer while you were editing it. Reload to see it.")
        )
    return current


@transaction.atomic
def answer_edit(
    *,
    answer: Answer,
    actor: User | None,
    fields: Mapping[str, Any],
    version: int,
    tags: Iterable[Tag] | None = None,
) -> Answer:
    """Change the working copy. An approved answer goes back to review; a
    published one keeps its public copy until it is published again."""
    current = _locked(answer, version)
    cleaned = _clean_fields(fields)
    changed = any(getattr(current, k) != v for k, v in cleaned.items())
    new_tags = sorted(t.slug for t in tags) if tags is not None else None
    if new_tags is not None and new_tags != sorted(current.tags.values_list("slug", flat=True)):
        changed = True
    if not changed:
        return current
    for name, value in cleaned.items():
        setattr(current, name, value)
    if current.status in (Answer.Status.APPROVED, Answer.Status.PUBLISHED):
        current.status = Answer.Status.DRAFT
    current.version += 1
    current.save()
    if tags is not None:
        current.tags.set(list(tags))
    _log(current, AnswerRevision.Kind.EDIT, actor)
    return current


def missing_for_review(answer: Answer) -> list[str]:
    """What must be written before the answer can be reviewed."""
    missing = []
    if not (answer.question_en and answer.question_zh):
        missing.append(_("the question in both languages"))
    if not (answer.body_en and answer.body_zh):
        missing.append(_("the answer in both languages"))
    if answer.is_clarification and not (
        answer.claim_en and answer.claim_zh and answer.verdict and answer.evidence_en
    ):
        missing.append(_("the claim, the verdict and the evidence"))
    return missing


@transaction.atomic
def answer_submit(*, answer: Answer, actor: User | None, version: int) -> Answer:
    current = _locked(answer, version)
    if current.status != Answer.Status.DRAFT:
        raise AnswerError(_("Only a draft can be sent for review."))
    if missing := missing_for_review(current):
        raise AnswerError(_("Still to write: %(what)s.") % {"what": ", ".join(missing)})
    current.status = Answer.Status.REVIEW
    current.save(update_fields=["status", "updated_at"])
    _log(current, AnswerRevision.Kind.SUBMIT, actor)
    return current


@transaction.atomic
def answer_return(*, answer: Answer, actor: User | None, version: int, note: str) -> Answer:
    current = _locked(answer, version)
    if current.status not in (Answer.Status.REVIEW, Answer.Status.APPROVED):
        raise AnswerError(_("Only an answer in review or approved can be returned."))
    if not note.strip():
        raise AnswerError(_("Say what needs to change."))
    current.status = Answer.Status.DRAFT
    current.save(update_fields=["status", "updated_at"])
    _log(current, AnswerRevision.Kind.RETURN, actor, note.strip()[:2000])
    return current


def last_editor(answer: Answer) -> int | None:
    """Who last wrote the working copy (create or edit)."""
    revision = (
        answer.revisions.filter(
            kind__in=[AnswerRevision.Kind.CREATE, AnswerRevision.Kind.EDIT],
            version=answer.version,
        )
        .order_by("-id")
        .first()
    )
    return revision.actor_id if revision else None


@transaction.atomic
def answer_approve(*, answer: Answer, actor: User, version: int) -> Answer:
    current = _locked(answer, version)
    if current.status != Answer.Status.REVIEW:
        raise AnswerError(_("Only an answer in review can be approved."))
    if last_editor(current) == actor.pk:
        raise AnswerError(_("Someone other than its last writer must approve an answer."))
    current.status = Answer.Status.APPROVED
    current.save(update_fields=["status", "updated_at"])
    _log(current, AnswerRevision.Kind.APPROVE, actor)
    return current


def public_copy(answer: Answer) -> dict[str, Any]:
    """What the public sees of the answer, frozen at publication."""
    content = _content(answer)
    content["version"] = answer.version
    content["tags"] = [
        {"slug": t.slug, "en": t.name_en, "zh": t.name_zh} for t in answer.tags.order_by("slug")
    ]
    return content


def _refresh_terms(answer: Answer) -> None:
    copy = answer.published or {}
    found = terms(" ".join(str(copy.get(k, "")) for k in ("question_en", "question_zh")))
    # The question's words count three times over the answer's own.
    for term in list(found):
        found[term] *= 3
    found.update(
        terms(
            " ".join(str(copy.get(k, "")) for k in ("body_en", "body_zh", "claim_en", "claim_zh"))
        )
    )
    # What people actually asked finds the answer too.
    asked = answer.questions.filter(set_aside="").values_list("text", flat=True)[:20]
    found.update(terms(" ".join(asked)))
    AnswerTerm.objects.filter(answer=answer).delete()
    AnswerTerm.objects.bulk_create(
        AnswerTerm(answer=answer, term=term, weight=min(count, 30000))
        for term, count in found.items()
    )
    answer_vectors.refresh(answer)


def after_publishing(answers: Sequence[Answer]) -> None:
    """Recount the people behind the answers, then find their related
    answers (once all of them are in the search index)."""
    refresh_asked_by([a.pk for a in answers])
    for answer in answers:
        related_refresh(answer)


def refresh_asked_by(answers: Sequence[int]) -> None:
    """Recount the distinct people behind each answer's questions."""
    if not answers:
        return
    counts = dict(
        Ask.objects.filter(question__answer__in=answers, set_aside="")
        .values("question__answer")
        .annotate(
            n=Count("author_key", distinct=True, filter=~Q(author_key=""))
            + Count("id", filter=Q(author_key=""))
        )
        .values_list("question__answer", "n")
    )
    changed = [Answer(pk=pk, asked_by=counts.get(pk, 0)) for pk in answers]
    Answer.objects.bulk_update(changed, ["asked_by"], batch_size=500)


def _cover(answer: Answer, at: dt.datetime) -> None:
    Question.objects.filter(answer=answer, covered_at__isnull=True).update(covered_at=at)


@transaction.atomic
def answer_publish(
    *,
    answer: Answer,
    actor: User | None,
    note: str = "",
    at: dt.datetime | None = None,
    batch: bool = False,
) -> Answer:
    """Make the approved working copy public. Publishing an answer that was
    public already is a correction and needs a note saying what changed.
    `batch`: the caller recounts askers and related answers once for all
    the answers it publishes (`after_publishing`), and asks for the lists'
    checks (`digest_publish` does both). Alone, on its own page, the
    published side changed: the recent checked days are checked again."""
    current = _locked(answer)
    if current.status != Answer.Status.APPROVED:
        raise AnswerError(_("Only an approved answer can be published."))
    correction = current.published is not None
    if correction and not note.strip():
        raise AnswerError(_("Say what the correction changes; readers will see the note."))
    now = at or timezone.now()
    copy = public_copy(current)
    if correction:
        notes = list((current.published or {}).get("corrections", []))
        notes.append({"at": now.isoformat(), "note": note.strip()[:2000]})
        copy["corrections"] = notes
    copy["published_at"] = now.isoformat()
    copy["first_published_at"] = (
        current.first_published_at.isoformat() if current.first_published_at else now.isoformat()
    )
    current.published = copy
    current.status = Answer.Status.PUBLISHED
    current.published_at = now
    current.first_published_at = current.first_published_at or now
    current.save()
    _cover(current, now)
    _refresh_terms(current)
    if not batch:
        after_publishing([current])
        current.refresh_from_db(fields=["asked_by", "related"])
        lookalikes.published_outside_digest(now)
    _log(
        current,
        AnswerRevision.Kind.CORRECT if correction else AnswerRevision.Kind.PUBLISH,
        actor,
        note.strip()[:2000],
    )
    return current


def _check_link(question: Question, answer: Answer) -> None:
    if question.is_rumour and not answer.is_clarification:
        raise AnswerError(
            _(
                "This question is a rumour: link it only to a clarification of the rumour, "
                "with its claim, verdict and evidence."
            )
        )


@transaction.atomic
def question_link(*, question: Question, answer: Answer, actor: User | None) -> Question:
    """Propose that `answer` answers `question` (one click from a
    suggestion). Linking covers the question's asks, so it is reviewed like
    an approval: the link waits, in the approver's queue and the digest's
    pre-publish list, until someone other than its proposer confirms it
    (`question_link_confirm`). A rumour links only to a clarification."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    _check_link(question, answer)
    if question.answer_id == answer.pk:
        raise AnswerError(_("The question is linked to this answer already."))
    question.proposed_answer = answer
    question.proposed_by = actor
    question.proposed_at = timezone.now()
    question.save(update_fields=["proposed_answer", "proposed_by", "proposed_at"])
    audit_record(
        action="question_link_propose",
        actor=actor,
        target=question,
        data={"answer": answer.pk, "linked": question.answer_id},
    )
    return question


@transaction.atomic
def question_link_confirm(*, question: Question, actor: User, answer: Answer) -> Question:
    """A second person confirms a proposed link: the question is answered
    by it, covered now if the answer is public, else when it is published.
    `answer` is the one the confirmer saw, so a proposal changed meanwhile
    is not confirmed unseen."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.proposed_answer_id is None or question.proposed_answer_id != answer.pk:
        raise AnswerError(_("This link was changed or confirmed meanwhile. Reload to see it."))
    if question.proposed_by_id == actor.pk:
        raise AnswerError(_("Someone other than the person who proposed a link must confirm it."))
    answer = Answer.objects.get(pk=answer.pk)
    _check_link(question, answer)
    before = question.answer_id
    question.answer = answer
    question.covered_at = timezone.now() if answer.published is not None else None
    proposer = question.proposed_by_id
    question.proposed_answer = question.proposed_by = question.proposed_at = None
    question.save(
        update_fields=["answer", "covered_at", "proposed_answer", "proposed_by", "proposed_at"]
    )
    audit_record(
        action="question_link",
        actor=actor,
        target=question,
        data={"answer": answer.pk, "before": before, "proposed_by": proposer},
    )
    refresh_asked_by([pk for pk in (answer.pk, before) if pk and answer.published is not None])
    return question


@transaction.atomic
def question_link_refuse(*, question: Question, actor: User | None) -> Question:
    """Drop a proposed link (the proposer withdraws it, or a reviewer
    refuses). The pair is remembered (LinkRefusal): the "Already
    answered?" list never proposes it again, a person still may."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.proposed_answer_id is None:
        raise AnswerError(_("There is no proposed link to refuse."))
    proposed = question.proposed_answer_id
    # The question's row lock orders two refusals of the same pair.
    LinkRefusal.objects.update_or_create(
        question=question,
        answer_id=proposed,
        defaults={"refused_by": actor, "refused_at": timezone.now()},
    )
    question.proposed_answer = question.proposed_by = question.proposed_at = None
    question.save(update_fields=["proposed_answer", "proposed_by", "proposed_at"])
    audit_record(
        action="question_link_refuse", actor=actor, target=question, data={"answer": proposed}
    )
    lookalikes.questions_reopened([question.pk])
    return question


@transaction.atomic
def question_unlink(*, question: Question, actor: User | None) -> Question:
    question = Question.objects.select_for_update().get(pk=question.pk)
    before = question.answer_id
    if before is None:
        raise AnswerError(_("This question has no answer to unlink."))
    question.answer = None
    question.covered_at = None
    question.save(update_fields=["answer", "covered_at"])
    audit_record(action="question_unlink", actor=actor, target=question, data={"before": before})
    refresh_asked_by([before])
    lookalikes.questions_reopened([question.pk])
    return question


# Search ------------------------------------------------------------------


K1, B = 1.2, 0.5  # BM25's term-frequency saturation and length normalisation


RRF_K = 60  # reciprocal rank fusion's damping (Cormack et al. 2009)
# Index terms that stand for each other in a query: words people use for one
# thing that the search's sentence model (USE) does not bring close enough
# (续航/里程 scored 0.36-0.42 against its floor of 0.5). A complement to the
# vectors, not a thesaurus: add a group only with a measured miss.
_GROUPS = (("保修", "质保"), ("续航", "里程"), ("warranty", "guarantee"))
SYNONYMS = {term: [t for t in group if t != term] for group in _GROUPS for term in group}


def search(query: str, *, limit: int = 10, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
    """Public answers best matching `query`: [(answer id, score)], best first.

    The lexical index (`lexical_search`) and the answers' stored sentence
    vectors (`answer_vectors.nearest`, nothing below its floor) each rank
    up to 50 answers; the two rankings are fused by reciprocal rank, so a
    synonym the index does not know (保修 for 质保) still finds its answer.
    An answer's score is the better of its lexical score and its cosine
    rescaled from the floor (0) to 1. With no embedder, lexical only."""
    exclude = list(exclude)
    depth = max(limit, 50)
    lexical = lexical_search(query, limit=depth, exclude=exclude)
    near = answer_vectors.nearest(query, limit=depth, exclude=exclude)
    if not near:
        return lexical[:limit]
    fused: dict[int, float] = {}
    score: dict[int, float] = {}
    for rank, (pk, value) in enumerate(lexical):
        fused[pk] = 1 / (RRF_K + rank + 1)
        score[pk] = value
    floor = answer_vectors.FLOOR
    for rank, (pk, cosine) in enumerate(near):
        fused[pk] = fused.get(pk, 0.0) + 1 / (RRF_K + rank + 1)
        score[pk] = max(score.get(pk, 0.0), round(min((cosine - floor) / (1 - floor), 1.0), 4))
    ranked = sorted(fused, key=lambda pk: (-fused[pk], -pk))[:limit]
    return [(pk, score[pk]) for pk in ranked]


def lexical_search(
    query: str, *, limit: int = 10, exclude: Iterable[int] = ()
) -> list[tuple[int, float]]:
    """Public answers best matching `query` in the index of terms.

    BM25 over the index's terms (a term's weight is how often it occurs,
    the question's words counting three times), scaled so that 1.0 is
    every query term found once in an answer of average length; a score
    is capped at 1.0. Ties go to the newer answer. A query term in
    `SYNONYMS` also looks for its synonyms, which do not raise the bar."""
    asked = list(terms(query[:2000]))[:200]
    if not asked:
        return []
    wanted = list(dict.fromkeys(asked + [t for a in asked for t in SYNONYMS.get(a, ())]))
    rows = list(
        AnswerTerm.objects.filter(term__in=wanted)
        .exclude(answer__in=list(exclude))
        .values_list("answer", "term", "weight")
    )
    if not rows:
        return []
    total = max(Answer.objects.filter(published__isnull=False).count(), 1)
    df: dict[str, int] = {}
    for _answer, term, _weight in rows:
        df[term] = df.get(term, 0) + 1
    idf = {term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in df.items()}
    rough: dict[int, float] = {}
    for answer_id, term, _weight in rows:
        rough[answer_id] = rough.get(answer_id, 0.0) + idf[term]
    candidates = sorted(rough, key=lambda pk: (-rough[pk], -pk))[: max(limit * 10, 100)]
    lengths = dict(
        AnswerTerm.objects.filter(answer__in=candidates)
        .values("answer")
        .annotate(n=Sum("weight"))
        .values_list("answer", "n")
    )
    average = sum(lengths.values()) / max(len(lengths), 1)
    chosen = set(candidates)
    scores: dict[int, float] = {}
    for answer_id, term, weight in rows:
        if answer_id not in chosen:
            continue
        norm = K1 * (1 - B + B * lengths.get(answer_id, average) / max(average, 1))
        scores[answer_id] = scores.get(answer_id, 0.0) + idf[term] * (
            weight * (K1 + 1) / (weight + norm)
        )
    possible = sum(math.log(1 + (total + 0.5) / 1.5) for _ in asked)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], -item[0]))[:limit]
    return [(pk, round(min(score / possible, 1.0), 4)) for pk, score in ranked]


def published_matches(
    text: str, *, limit: int = 3, min_score: float = 0.3
) -> list[tuple[Answer, float]]:
    """Public answers that may already answer `text`, best first."""
    found = [(pk, score) for pk, score in search(text, limit=limit) if score >= min_score]
    answers = Answer.objects.filter(
        pk__in=[pk for pk, _score in found], published__isnull=False
    ).in_bulk()
    return [(answers[pk], score) for pk, score in found if pk in answers]


def related_refresh(answer: Answer, limit: int = 5) -> None:
    """Other public answers on the same subject: shared tags first, then
    the closest by search."""
    copy = answer.published or {}
    found = search(
        f"{copy.get('question_en', '')} {copy.get('question_zh', '')}",
        limit=limit,
        exclude=[answer.pk],
    )
    by_tag = list(
        Answer.objects.filter(published__isnull=False, tags__in=answer.tags.all())
        .exclude(pk=answer.pk)
        .annotate(shared=Count("tags"))
        .order_by("-shared", "-first_published_at")
        .values_list("pk", flat=True)[:limit]
    )
    related: list[int] = []
    for pk in by_tag + [pk for pk, score in found if score >= 0.2]:
        if pk not in related:
            related.append(pk)
    Answer.objects.filter(pk=answer.pk).update(related=related[:limit])


def suggestions_for(question: Question, limit: int = 5) -> list[tuple[Answer, float]]:
    """Public answers for questions like this one, for a one-click link."""
    sample = " ".join(question.asks.order_by("-likes").values_list("text", flat=True)[:5])
    found = search(f"{question.text} {sample}", limit=limit)
    answers = Answer.objects.in_bulk([pk for pk, _score in found])
    return [(answers[pk], score) for pk, score in found if pk in answers and score >= 0.15]


LOOKS_ANSWERED = 0.4  # a search score from which an open question looks answered
LOOKS_ANSWERED_CHECKED = 100  # open questions checked, best ranked first


def looks_answered(day: dt.date) -> list[tuple[Question, Answer, float]]:
    """The day's open questions that look like questions already answered:
    the best published answer for the question's title and top asks (the
    search the suggestions use, which indexes the answers' own questions
    and the asks linked to them) scores LOOKS_ANSWERED or more. For the
    digest's pre-publish list: one click proposes the link. A pair a
    person refused is passed over for the question's next best answer.
    Checks the best-ranked open questions only (three queries each)."""
    overview = day_overview(day, limit=None, samples=3, listed=True)
    candidates = [
        item
        for item in overview.questions
        if item.question.answer_id is None and item.question.proposed_answer_id is None
    ][:LOOKS_ANSWERED_CHECKED]
    refused = refused_answers([item.question.pk for item in candidates])
    found: list[tuple[Question, int, float]] = []
    for item in candidates:
        text = " ".join(
            [item.question.title or item.question.text, *(a.text for a in item.samples)]
        )
        passed_over = refused.get(item.question.pk, set())
        hits = [h for h in search(text, limit=1 + len(passed_over)) if h[0] not in passed_over]
        if hits and hits[0][1] >= LOOKS_ANSWERED:
            found.append((item.question, hits[0][0], hits[0][1]))
    answers = Answer.objects.filter(published__isnull=False).in_bulk([pk for _q, pk, _s in found])
    return [(q, answers[pk], score) for q, pk, score in found if pk in answers]


def refused_answers(questions: Sequence[int]) -> dict[int, set[int]]:
    """The answers a person refused to link each question to. One query."""
    refused: dict[int, set[int]] = {}
    for question_id, answer_id in LinkRefusal.objects.filter(question__in=questions).values_list(
        "question", "answer"
    ):
        refused.setdefault(question_id, set()).add(answer_id)
    return refused


def _similarity(a: str, b: str) -> float:
    left, right = set(terms(a)), set(terms(b))
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


REPEAT = 0.7
DIFFER = 0.2

FAMILIES = {
    "duration": gettext_lazy("Duration"),
    "distance": gettext_lazy("Distance"),
    "amount": gettext_lazy("Price or amount"),
    "percent": gettext_lazy("Percentage"),
    "speed": gettext_lazy("Speed"),
    "energy": gettext_lazy("Energy"),
    "power": gettext_lazy("Power"),
    "seats": gettext_lazy("Seats in the car"),
}


def _plain(copy: Mapping[str, Any]) -> dict[str, str]:
    return {lang: markdown_text(str(copy.get(f"body_{lang}", ""))) for lang in ("en", "zh")}


def _marked(
    texts: Mapping[str, str], differing: Sequence[figures.Figure]
) -> dict[str, list[tuple[str, bool]]]:
    """Each language's text with the figures that differ marked."""
    result = {}
    for lang, text in texts.items():
        found = [
            f
            for f in figures.extract(text)
            if any(f.family == d.family and f.same_as(d) for d in differing)
        ]
        result[lang] = figures.marked(text, found)
    return result


def contradictions(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where two answers' bodies (fields body_en, body_zh) state differing
    figures: the differences, labelled, and both texts with them marked;
    None when they agree. Both languages count on each side: "3 years"
    contradicts "5 年"."""
    ours, other = _plain(mine), _plain(theirs)
    differences = figures.compare("\n".join(ours.values()), "\n".join(other.values()))
    if not differences:
        return None
    return {
        "figures": [
            {
                "family": str(FAMILIES.get(d.family, _("Date"))),
                "mine": [f.text for f in d.mine],
                "theirs": [f.text for f in d.theirs],
            }
            for d in differences
        ],
        "mine_marked": _marked(ours, [f for d in differences for f in d.mine]),
        "theirs_marked": _marked(other, [f for d in differences for f in d.theirs]),
    }


def warnings_for(answer: Answer) -> list[dict[str, Any]]:
    """Public answers to similar questions that this draft contradicts (a
    figure differs: a duration, a distance, a price, a date), nearly
    repeats (link instead?) or differs from, for side by side."""
    return draft_warnings(
        questions=[
            answer.question_en,
            answer.question_zh,
            *answer.questions.values_list("text", flat=True)[:5],
        ],
        body_en=answer.body_en,
        body_zh=answer.body_zh,
        exclude=[answer.pk] if answer.pk else [],
    )


def draft_warnings(
    *, questions: Sequence[str], body_en: str, body_zh: str, exclude: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """`warnings_for` on a draft's words before they are saved (the draft
    form checks them as the writer types): the questions it answers, its
    bodies, and the answers not to compare it with (itself)."""
    # Each wording searched on its own and the best score kept: joined, the
    # English and Chinese wordings dilute each other's score (a Chinese
    # "保修期" beside an English question that matches at 0.68 fell to 0.29).
    best: dict[int, float] = {}
    for query in dict.fromkeys(q.strip() for q in questions if q.strip()):
        for pk, score in search(query, limit=5, exclude=exclude):
            best[pk] = max(best.get(pk, 0.0), score)
    found = sorted(best.items(), key=lambda item: (-item[1], -item[0]))[:5]
    others = Answer.objects.in_bulk([pk for pk, score in found if score >= 0.3])
    mine = f"{body_en}\n{body_zh}"
    result = []
    for pk, score in found:
        other = others.get(pk)
        if other is None or other.published is None:
            continue
        theirs = f"{other.published.get('body_en', '')}\n{other.published.get('body_zh', '')}"
        similarity = _similarity(mine, theirs)
        figures_differ = contradictions({"body_en": body_en, "body_zh": body_zh}, other.published)
        if figures_differ:
            kind = "contradicts"
        elif similarity >= REPEAT:
            kind = "repeats"
        elif similarity <= DIFFER:
            kind = "differs"
        else:
            continue
        result.append(
            {
                "kind": kind,
                "answer": other,
                "question_score": score,
                "similarity": round(similarity, 2),
                "mine_html": {"en": render_markdown(body_en), "zh": render_markdown(body_zh)},
                "theirs_html": {
                    "en": render_markdown(other.published.get("body_en", "")),
                    "zh": render_markdown(other.published.get("body_zh", "")),
                },
                **(figures_differ or {}),
            }
        )
    # A contradiction first: it is the one that must not go out.
    return sorted(result, key=lambda w: w["kind"] != "contradicts")
