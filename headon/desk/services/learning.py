"""The desk learns the organisation's own words from its confirmed nights.

After each published digest the worker refits a transform of the sentence
vectors (merging/learn.py) on the confirmed history: every question whose
answer is public is a class (questions that share one answer share a
class) and its asks are the examples; what staff did by hand adds pairs:
merges and accepted suggestions put asks together, splits, moves and
refused suggestions put them apart. The transform is stored with the
history it was fitted on (LearnedTransform) and used by live assignment
and re-clusters from then on (services/merging.current_transform).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from headon.desk.merging import MergeEngine, fit_transform
from headon.desk.models import Ask, DigestRevision, LearnedTransform, TriageAction
from headon.desk.services.merging import embedder

logger = logging.getLogger(__name__)

# The nights learned from: the latest published ones, up to this many.
NIGHTS = 90
# Asks per confirmed question, and in all: a question asked by thousands
# teaches little more than by 50 of its wordings, and the fit stays quick.
PER_QUESTION = 50
MOST_ASKS = 20_000
PAIRS_PER_ACTION = 10
MOST_PAIRS = 5_000
# Below this there is nothing to learn from: the engine runs as it ships.
FEWEST_QUESTIONS = 2
FEWEST_ASKS = 4
KEEP = 5  # transforms kept per embedder, the latest used


@dataclass
class History:
    """The confirmed history, as rows (ask id, text, label) and pairs of row
    indexes."""

    days: set[dt.date] = field(default_factory=set)  # the nights that gave asks
    rows: list[tuple[int, str, str]] = field(default_factory=list)
    same: list[tuple[int, int]] = field(default_factory=list)
    different: list[tuple[int, int]] = field(default_factory=list)

    @property
    def questions(self) -> int:
        return len({label for _, _, label in self.rows})

    def fingerprint(self, model: str) -> str:
        body = json.dumps(
            [model, [(a, label) for a, _, label in self.rows], self.same, self.different],
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


def confirmed_history() -> History:
    """The asks of the latest published nights whose question's answer is
    public, a class per answer, and the pairs staff corrections make."""
    days = sorted(
        set(
            DigestRevision.objects.order_by("-digest__date")
            .values_list("digest__date", flat=True)
            .distinct()[:NIGHTS]
        )
    )
    history = History()
    if not days:
        return history
    per_class: dict[str, int] = defaultdict(int)
    row_of: dict[int, int] = {}
    for ask_id, text, day, question_id, answer_id in (
        Ask.objects.filter(day__in=days, question__covered_at__isnull=False, set_aside="")
        .exclude(question__set_aside__gt="")
        .order_by("pk")
        .values_list("pk", "text", "day", "question_id", "question__answer_id")
    ):
        label = f"a{answer_id}" if answer_id else f"q{question_id}"
        if per_class[label] >= PER_QUESTION or len(history.rows) >= MOST_ASKS:
            continue
        per_class[label] += 1
        row_of[ask_id] = len(history.rows)
        history.rows.append((ask_id, text, label))
        history.days.add(day)
    _add_pairs(history, row_of)
    return history


def _add_pairs(history: History, row_of: dict[int, int]) -> None:
    """Pairs from the corrections that are still in force, between asks of
    the history: the question an ask left (or was refused for) against the
    asks still in it, and the question it joined against its other asks."""
    asks_of: dict[int, list[int]] = defaultdict(list)  # question id -> history asks
    question_of: dict[int, int] = {}
    for ask_id, question_id in Ask.objects.filter(pk__in=list(row_of)).values_list(
        "pk", "question_id"
    ):
        asks_of[question_id].append(ask_id)
        question_of[ask_id] = question_id
    for action in TriageAction.objects.filter(undone_at__isnull=True).order_by("pk"):
        moved = action.before.get("asks", {})
        apart: dict[int, set[int]] = defaultdict(set)  # ask -> questions it is not in
        if action.kind in (TriageAction.Kind.SPLIT, TriageAction.Kind.MOVE):
            for ask_id, (left, _by) in moved.items():
                if left:
                    apart[int(ask_id)].add(int(left))
        elif action.kind == TriageAction.Kind.REFUSE:
            for ask_id, refused in action.before.get("refused", {}).items():
                apart[int(ask_id)].add(int(refused))
        together = (
            [int(a) for a in moved]
            if action.kind
            in (TriageAction.Kind.MERGE, TriageAction.Kind.ACCEPT, TriageAction.Kind.MOVE)
            else []
        )
        found: list[tuple[int, int, bool]] = []
        for ask_id in together:
            for other in asks_of.get(question_of.get(ask_id, 0), []):
                if other != ask_id:
                    found.append((ask_id, other, True))
        for ask_id, questions in apart.items():
            for question_id in questions:
                found.extend((ask_id, other, False) for other in asks_of.get(question_id, []))
        for a, b, same in found[:PAIRS_PER_ACTION]:
            if (
                a in row_of
                and b in row_of
                and len(history.same) + len(history.different) < (MOST_PAIRS)
            ):
                (history.same if same else history.different).append((row_of[a], row_of[b]))


@transaction.atomic
def transform_refit(*, now: dt.datetime | None = None) -> LearnedTransform | None:
    """Fit the transform on the confirmed history and store it, or nothing:
    no embedder, too little history, or the same history as the latest fit
    (so the job can run twice and fit once)."""
    model = embedder()
    if model is None:
        return None
    history = confirmed_history()
    if history.questions < FEWEST_QUESTIONS or len(history.rows) < FEWEST_ASKS:
        logger.info("Too little confirmed history to learn from (%s asks).", len(history.rows))
        return None
    fingerprint = history.fingerprint(model.name)
    latest = LearnedTransform.objects.filter(embedder=model.name[:40]).first()
    if latest is not None and latest.history_hash == fingerprint:
        return latest
    vectors = MergeEngine(embedder=model).meaning_vectors([text for _, text, _ in history.rows])
    if vectors is None:
        return None
    transform = fit_transform(
        vectors,
        [label for _, _, label in history.rows],
        pairs_same=history.same,
        pairs_different=history.different,
    )
    row = LearnedTransform.objects.create(
        embedder=model.name[:40],
        data=transform.to_bytes(),
        first_day=min(history.days),
        last_day=max(history.days),
        nights=len(history.days),
        questions=history.questions,
        asks=len(history.rows),
        pairs=len(history.same) + len(history.different),
        history_hash=fingerprint,
        fitted_at=now or timezone.now(),
    )
    old = LearnedTransform.objects.filter(embedder=row.embedder).values_list("pk", flat=True)[KEEP:]
    LearnedTransform.objects.filter(pk__in=list(old)).delete()
    return row
