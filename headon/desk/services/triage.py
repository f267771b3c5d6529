"""Staff corrections of the merging: merge, split, move, flag. Each is one
TriageAction holding what it changed, so it can be undone; the asks it
places are marked as placed by staff, which pins them for later runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.desk.models import Ask, Question, TriageAction
from headon.desk.services import lookalikes
from headon.desk.services.answers import refresh_asked_by


class TriageError(Exception):
    pass


def _place(
    asks: Sequence[Ask], question: Question, how: str = Ask.Placement.STAFF
) -> dict[str, list[Any]]:
    before = {str(a.pk): [a.question_id, a.assigned_by] for a in asks}
    Ask.objects.filter(pk__in=[a.pk for a in asks]).update(
        question=question,
        assigned_by=Ask.Assignment.STAFF,
        placement=how,
        placement_score=None,
        suggested=None,
        suggested_score=None,
    )
    return before


def _placements(asks: Sequence[Ask]) -> dict[str, list[Any]]:
    """What undo needs to give the asks their placement record back."""
    return {
        str(a.pk): [a.placement, a.placement_score, a.suggested_id, a.suggested_score] for a in asks
    }


def _record(
    kind: str, actor: User | None, before: Mapping[str, object], summary: Mapping[str, object]
) -> TriageAction:
    action = TriageAction.objects.create(
        kind=kind, actor=actor, before=dict(before), summary=dict(summary)
    )
    audit_record(action=f"triage_{kind}", actor=actor, target=action, data=dict(summary))
    return action


# The set-aside and title steps (services/setaside.py) log through here too.
record = _record


def _undo_set_aside(before: Mapping[str, Any]) -> None:
    """Put back the reasons a set-aside or restore step replaced."""
    for model, key in ((Ask, "asks"), (Question, "questions")):
        for pk, (reason, at, by) in before.get(key, {}).items():
            model.objects.filter(pk=int(pk)).update(
                set_aside=reason,
                set_aside_at=dt.datetime.fromisoformat(at) if at else None,
                set_aside_by_id=by,
            )
    asks = [int(pk) for pk in before.get("asks", {})]
    questions = [int(pk) for pk in before.get("questions", {})]
    answers = Question.objects.filter(
        Q(asks__in=asks) | Q(pk__in=questions), answer__isnull=False
    ).values_list("answer", flat=True)
    refresh_asked_by(list(answers.distinct()))


def _aside_keys(before: Mapping[str, Any]) -> set[str]:
    aside = before.get("set_aside") or {}
    return {f"a{pk}" for pk in aside.get("asks", {})} | {
        f"q{pk}" for pk in aside.get("questions", {})
    }


@transaction.atomic
def questions_merge(*, source: Question, target: Question, actor: User | None) -> TriageAction:
    """Every ask of `source` joins `target`; `source` points at `target`."""
    if source.pk == target.pk:
        raise TriageError(_("A question cannot be merged into itself."))
    # The target's own asks are pinned too: otherwise a later run, seeing the
    # target held by the moved asks, could give the target's asks a new question.
    asks = list(Ask.objects.select_for_update().filter(question__in=[source, target]))
    before = {
        "placements": _placements(asks),
        "asks": _place(asks, target),
        "merged": [source.pk, source.merged_into_id],
    }
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    # The target speaks with more wordings now: its days' lists may change.
    lookalikes.questions_changed([target.pk])
    return _record(
        TriageAction.Kind.MERGE,
        actor,
        before,
        {"source": source.pk, "target": target.pk, "asks": len(asks)},
    )


@transaction.atomic
def asks_split(
    *, asks: Sequence[Ask], actor: User | None, text: str = ""
) -> tuple[Question, TriageAction]:
    """The asks leave their question for a new one."""
    if not asks:
        raise TriageError(_("Choose the asks to split off."))
    question = Question.objects.create(text=(text or asks[0].text).strip()[:500])
    left = {a.question_id for a in asks if a.question_id}
    before = {
        "placements": _placements(asks),
        "asks": _place(asks, question),
        "created": question.pk,
    }
    # Both the new question and the ones the asks left may now look answered.
    lookalikes.questions_changed([question.pk, *left])
    return question, _record(
        TriageAction.Kind.SPLIT, actor, before, {"question": question.pk, "asks": len(asks)}
    )


@transaction.atomic
def ask_move(*, ask: Ask, target: Question, actor: User | None) -> TriageAction:
    if ask.question_id == target.pk:
        raise TriageError(_("The ask is in that question already."))
    left = [ask.question_id] if ask.question_id else []
    before = {"placements": _placements([ask]), "asks": _place([ask], target)}
    lookalikes.questions_changed([target.pk, *left])
    return _record(TriageAction.Kind.MOVE, actor, before, {"ask": ask.pk, "target": target.pk})


@transaction.atomic
def question_flag(*, question: Question, rumour: bool, actor: User | None) -> TriageAction:
    before = {"rumour": [question.pk, question.is_rumour]}
    question.is_rumour = rumour
    question.save(update_fields=["is_rumour"])
    # A rumour is compared with clarifications only: its list entry changes.
    lookalikes.questions_changed([question.pk])
    kind = TriageAction.Kind.FLAG if rumour else TriageAction.Kind.UNFLAG
    return _record(kind, actor, before, {"question": question.pk})


def _suggested(asks: Sequence[Ask], target: Question) -> list[Ask]:
    """The asks, locked, that still wait for a decision about `target`."""
    return list(
        Ask.objects.select_for_update()
        .filter(pk__in=[a.pk for a in asks], suggested=target)
        .order_by("pk")
    )


@transaction.atomic
def suggestions_accept(
    *, asks: Sequence[Ask], target: Question, actor: User | None
) -> TriageAction:
    """A person confirms the engine's suggestion: the asks join `target`,
    placed as "suggested and accepted" and pinned there like any staff
    placement. Asks no longer suggested for `target` are left alone."""
    asks = _suggested(asks, target)
    if not asks:
        raise TriageError(_("These asks wait for no decision about this question any more."))
    placements = _placements(asks)
    sources = {a.question_id for a in asks if a.question_id}
    before = {"placements": placements, "asks": _place(asks, target, Ask.Placement.ACCEPTED)}
    lookalikes.questions_changed([target.pk, *sources])
    # A question these asks left empty is no place to suggest any more.
    left = {a.question_id for a in asks} - set(
        Ask.objects.filter(question__in={a.question_id for a in asks}).values_list(
            "question", flat=True
        )
    )
    stale = list(Ask.objects.select_for_update().filter(suggested__in=left))
    if stale:
        before["placements"] |= _placements(stale)
        Ask.objects.filter(pk__in=[a.pk for a in stale]).update(
            suggested=None, suggested_score=None
        )
    return _record(
        TriageAction.Kind.ACCEPT, actor, before, {"target": target.pk, "asks": len(asks)}
    )


@transaction.atomic
def suggestions_refuse(
    *, asks: Sequence[Ask], target: Question, actor: User | None
) -> TriageAction:
    """A person says the asks do not ask `target`: they stay where they are,
    and the refusal is a lock no automatic run overturns (merging.locks_for)
    until the refusal itself is undone."""
    asks = _suggested(asks, target)
    if not asks:
        raise TriageError(_("These asks wait for no decision about this question any more."))
    before = {
        "placements": _placements(asks),
        # Listed so that an undo of an earlier change of these asks waits for this one.
        "asks": {str(a.pk): [a.question_id, a.assigned_by] for a in asks},
        "refused": {str(a.pk): target.pk for a in asks},
    }
    Ask.objects.filter(pk__in=[a.pk for a in asks]).update(suggested=None, suggested_score=None)
    return _record(
        TriageAction.Kind.REFUSE, actor, before, {"target": target.pk, "asks": len(asks)}
    )


@transaction.atomic
def action_undo(*, action: TriageAction, actor: User | None) -> TriageAction:
    """Put back what `action` changed. Only the latest change of an ask can
    be undone, so an undo never clobbers a later correction."""
    action = TriageAction.objects.select_for_update().get(pk=action.pk)
    if action.undone_at is not None:
        raise TriageError(_("This change was undone already."))
    ask_ids = [int(pk) for pk in action.before.get("asks", {})]
    later = TriageAction.objects.filter(undone_at__isnull=True, at__gt=action.at).exclude(
        pk=action.pk
    )
    for other in later:
        if set(ask_ids) & {int(pk) for pk in other.before.get("asks", {})}:
            raise TriageError(_("A later change moved these asks again: undo it first."))
        if _aside_keys(action.before) & _aside_keys(other.before):
            raise TriageError(_("A later change set these aside again: undo it first."))
    for pk, (question_id, assigned_by) in action.before.get("asks", {}).items():
        Ask.objects.filter(pk=int(pk)).update(question_id=question_id, assigned_by=assigned_by)
    for pk, (how, score, suggested, suggested_score) in action.before.get("placements", {}).items():
        Ask.objects.filter(pk=int(pk)).update(
            placement=how,
            placement_score=score,
            suggested_id=suggested,
            suggested_score=suggested_score,
        )
    if merged := action.before.get("merged"):
        Question.objects.filter(pk=merged[0]).update(merged_into_id=merged[1])
    if rumour := action.before.get("rumour"):
        Question.objects.filter(pk=rumour[0]).update(is_rumour=rumour[1])
    if aside := action.before.get("set_aside"):
        _undo_set_aside(aside)
    if title := action.before.get("title"):
        Question.objects.filter(pk=title[0]).update(title=title[1])
    action.undone_at, action.undone_by = timezone.now(), actor
    action.save(update_fields=["undone_at", "undone_by"])
    audit_record(action="triage_undo", actor=actor, target=action, data={"kind": action.kind})
    # An undo can put a question back on its day's list (a merge or a
    # set-aside undone): the days it touched are checked again.
    touched = {
        int(question_id)
        for question_id, _by in action.before.get("asks", {}).values()
        if question_id
    }
    touched |= {int(pk) for pk in (aside or {}).get("questions", {})}
    aside_asks = [int(pk) for pk in (aside or {}).get("asks", {})]
    if aside_asks:
        touched |= set(
            Ask.objects.filter(pk__in=aside_asks, question__isnull=False).values_list(
                "question_id", flat=True
            )
        )
    touched |= {int(part[0]) for part in (merged, rumour) if part}
    lookalikes.questions_reopened(touched)
    return action
