"""Setting asks and questions aside: spam, abuse, personal data, not a
question. A person decides (the spam score in desk.spam only proposes).

A set-aside ask or question leaves every public list and stays in the
coverage ledger, counted under its reason. Each step is a TriageAction
holding the reasons it replaced, so it is logged and undone like any
other correction (services/triage.action_undo puts them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.desk.models import Ask, Question, SetAside, TriageAction
from headon.desk.services import lookalikes
from headon.desk.services.answers import refresh_asked_by
from headon.desk.services.triage import TriageError, record


def _reason(reason: str) -> str:
    if reason not in SetAside.values:
        raise TriageError(_("Choose why it is set aside."))
    return reason


def _state(row: Ask | Question) -> list[Any]:
    at = row.set_aside_at.isoformat() if row.set_aside_at else None
    return [row.set_aside, at, row.set_aside_by_id]


def _mark(rows: Sequence[Ask | Question], reason: str, actor: User | None) -> None:
    now = timezone.now()
    model = type(rows[0])
    model.objects.filter(pk__in=[r.pk for r in rows]).update(
        set_aside=reason,
        set_aside_at=now if reason else None,
        set_aside_by=actor if reason else None,
    )
    # "Asked by N people" on the public answer pages counts listed asks only.
    if model is Ask:
        answers = Question.objects.filter(asks__in=[r.pk for r in rows], answer__isnull=False)
    else:
        answers = Question.objects.filter(pk__in=[r.pk for r in rows], answer__isnull=False)
    refresh_asked_by(list(answers.values_list("answer", flat=True).distinct()))


@transaction.atomic
def asks_set_aside(*, asks: Sequence[Ask], reason: str, actor: User | None) -> TriageAction:
    """The asks leave the public lists, counted under `reason`."""
    reason = _reason(reason)
    asks = list(Ask.objects.select_for_update().filter(pk__in=[a.pk for a in asks]))
    if not asks:
        raise TriageError(_("Choose the asks to set aside."))
    before = {"set_aside": {"asks": {str(a.pk): _state(a) for a in asks}}}
    _mark(asks, reason, actor)
    return record(TriageAction.Kind.SET_ASIDE, actor, before, {"asks": len(asks), "reason": reason})


@transaction.atomic
def question_set_aside(*, question: Question, reason: str, actor: User | None) -> TriageAction:
    """The question and its asks leave the public lists, counted under
    `reason` (asks set aside already keep their own reason)."""
    reason = _reason(reason)
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.set_aside:
        raise TriageError(_("This question is set aside already."))
    asks = list(Ask.objects.select_for_update().filter(question=question, set_aside=""))
    before = {
        "set_aside": {
            "asks": {str(a.pk): _state(a) for a in asks},
            "questions": {str(question.pk): _state(question)},
        }
    }
    _mark([question], reason, actor)
    if asks:
        _mark(asks, reason, actor)
    return record(
        TriageAction.Kind.SET_ASIDE,
        actor,
        before,
        {"question": question.pk, "asks": len(asks), "reason": reason},
    )


@transaction.atomic
def set_aside_restore(
    *, question: Question | None = None, asks: Sequence[Ask] = (), actor: User | None
) -> TriageAction:
    """Put a set-aside question (with the asks set aside with it) or asks
    back on the lists."""
    before: dict[str, dict[str, list[Any]]] = {"asks": {}, "questions": {}}
    chosen = [a.pk for a in asks]
    if question is not None:
        question = Question.objects.select_for_update().get(pk=question.pk)
        if not question.set_aside:
            raise TriageError(_("This question is not set aside."))
        before["questions"][str(question.pk)] = _state(question)
        _mark([question], "", actor)
        chosen += list(
            Ask.objects.filter(question=question, set_aside=question.set_aside).values_list(
                "pk", flat=True
            )
        )
    rows = list(Ask.objects.select_for_update().filter(pk__in=chosen).exclude(set_aside=""))
    if not rows and question is None:
        raise TriageError(_("None of the chosen asks is set aside."))
    before["asks"] = {str(a.pk): _state(a) for a in rows}
    if rows:
        _mark(rows, "", actor)
    summary: dict[str, Any] = {"asks": len(rows)}
    if question is not None:
        summary["question"] = question.pk
        lookalikes.questions_reopened([question.pk])
    return record(TriageAction.Kind.RESTORE, actor, {"set_aside": before}, summary)


@transaction.atomic
def question_retitle(*, question: Question, title: str, actor: User | None) -> TriageAction:
    """Approve the title the public lists print for `question`."""
    title = " ".join(title.replace("\x00", "").split())
    if not title or len(title) > 200:
        raise TriageError(_("Write a title of up to 200 characters."))
    question = Question.objects.select_for_update().get(pk=question.pk)
    before = {"title": [question.pk, question.title]}
    question.title = title
    question.save(update_fields=["title"])
    lookalikes.questions_changed([question.pk])  # the list compares the title too
    return record(TriageAction.Kind.RETITLE, actor, before, {"question": question.pk})
