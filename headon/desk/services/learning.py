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
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from headon.desk.merging import Embedder, MergeEngine, Transform, fit_transform, match_key
from headon.desk.merging.calibrate import calibrate
from headon.desk.models import Ask, DigestRevision, LearnedTransform, TriageAction
from headon.desk.services.merging import RememberingEmbedder, embedder

logger = logging.getLogger(__name__)

# The nights learned from: the latest published ones, up to this many.
NIGHTS = 90
# Distinct wordings per confirmed question, and asks in all: a question asked
# by thousands teaches little more than 50 of its wordings, and the fit
# stays quick (each wording is embedded once, the model's main cost).
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
    rows: list[tuple[int, str, str]] = field(default_factory=list)  # distinct wordings
    asks: int = 0  # every confirmed ask of those questions, the wordings' repeats too
    same: list[tuple[int, int]] = field(default_factory=list)
    different: list[tuple[int, int]] = field(default_factory=list)

    questions: int = 0  # confirmed ones: the classes before corrections add rows
    confirmed: int = 0  # the rows of confirmed questions come first; then the corrections'

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
    # A wording once per class (the model's cost); its repeats share its row.
    seen: dict[tuple[str, str], int] = {}
    for ask_id, text, day, question_id, answer_id in (
        Ask.objects.filter(day__in=days, question__covered_at__isnull=False, set_aside="")
        .exclude(question__set_aside__gt="")
        .order_by("pk")
        .values_list("pk", "text", "day", "question_id", "question__answer_id")
    ):
        label = f"a{answer_id}" if answer_id else f"q{question_id}"
        wording = (label, match_key(text))
        history.asks += 1
        history.days.add(day)
        if wording in seen:
            row_of[ask_id] = seen[wording]
            continue
        if per_class[label] >= PER_QUESTION or len(history.rows) >= MOST_ASKS:
            continue
        seen[wording] = len(history.rows)
        per_class[label] += 1
        row_of[ask_id] = len(history.rows)
        history.rows.append((ask_id, text, label))
    history.questions = len(per_class)
    history.confirmed = len(history.rows)
    _add_pairs(history, row_of, days)
    return history


def _add_pairs(history: History, row_of: dict[int, int], days: list[dt.date]) -> None:
    """Pairs from the corrections still in force: an ask against the other
    asks of the question it joined (a merge, an accepted suggestion, a move)
    and against those of a question it left or was refused for. The asks
    they name join the rows, under their question, if they were not in."""
    actions = list(
        TriageAction.objects.filter(undone_at__isnull=True)
        .exclude(kind__in=[TriageAction.Kind.FLAG, TriageAction.Kind.UNFLAG])
        .order_by("-pk")
        .only("kind", "before")[:MOST_PAIRS]
    )
    named = {int(a) for action in actions for a in action.before.get("asks", {})}
    for ask_id, text, question_id, answer_id in (
        Ask.objects.filter(pk__in=list(named - set(row_of))[:MOST_PAIRS], day__in=days)
        .filter(set_aside="", question__isnull=False)
        .values_list("pk", "text", "question_id", "question__answer_id")
    ):
        label = f"a{answer_id}" if answer_id else f"q{question_id}"
        row_of[ask_id] = len(history.rows)
        history.rows.append((ask_id, text, label))
    asks_of: dict[int, list[int]] = defaultdict(list)  # question -> asks among the rows
    question_of: dict[int, int] = {}
    for ask_id, question_id in Ask.objects.filter(pk__in=list(row_of)).values_list(
        "pk", "question_id"
    ):
        asks_of[question_id].append(ask_id)
        question_of[ask_id] = question_id
    for action in actions:
        found = itertools.islice(_action_pairs(action, asks_of, question_of), 4 * PAIRS_PER_ACTION)
        kept = [
            (row_of[a], row_of[b], same)
            for a, b, same in found
            if a in row_of and b in row_of and row_of[a] != row_of[b]
        ]
        for a, b, same in kept[:PAIRS_PER_ACTION]:
            if len(history.same) + len(history.different) < MOST_PAIRS:
                (history.same if same else history.different).append((a, b))


def _action_pairs(
    action: TriageAction, asks_of: dict[int, list[int]], question_of: dict[int, int]
) -> Iterator[tuple[int, int, bool]]:
    """(ask, other ask, same question?) for one correction."""
    moved = action.before.get("asks", {})
    if action.kind in (TriageAction.Kind.MERGE, TriageAction.Kind.ACCEPT, TriageAction.Kind.MOVE):
        for ask_id in map(int, moved):
            for other in asks_of.get(question_of.get(ask_id, 0), []):
                if other != ask_id:
                    yield ask_id, other, True
    apart: list[tuple[int, int]] = []  # (ask, a question it is not in)
    if action.kind in (TriageAction.Kind.SPLIT, TriageAction.Kind.MOVE):
        apart = [(int(a), int(left)) for a, (left, _by) in moved.items() if left]
    elif action.kind == TriageAction.Kind.REFUSE:
        apart = [(int(a), int(q)) for a, q in action.before.get("refused", {}).items()]
    for ask_id, question_id in apart:
        for other in asks_of.get(question_id, []):
            if other != ask_id:
                yield ask_id, other, False


def _split(history: History) -> tuple[list[int], list[int]]:
    """Row indexes to fit on and to choose the bands on. Every third
    confirmed question is held out whole, as a question the transform never
    saw (a new night brings new questions), and every third wording of the
    others, as a new wording of a known one: the bands are measured on both."""
    fit: list[int] = []
    held: list[int] = []
    labels = list(dict.fromkeys(label for _, _, label in history.rows[: history.confirmed]))
    unseen = set(labels[2::3])
    seen: dict[str, int] = defaultdict(int)
    sizes: dict[str, int] = defaultdict(int)
    for _, _, label in history.rows[: history.confirmed]:
        sizes[label] += 1
    for i, (_, _, label) in enumerate(history.rows):
        confirmed = i < history.confirmed
        if confirmed and (label in unseen or (sizes[label] >= 3 and seen[label] % 3 == 2)):
            held.append(i)
        else:
            fit.append(i)
        seen[label] += 1
    return fit, held


def _fit(model: Embedder, history: History, rows: list[int]) -> Transform:
    """The transform fitted on these rows of the history and the pairs
    between them."""
    vectors = MergeEngine(embedder=model).meaning_vectors([history.rows[i][1] for i in rows])
    if vectors is None:
        raise ValueError(f"{model.name} gave no vectors")
    position = {row: n for n, row in enumerate(rows)}

    def pairs(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(position[a], position[b]) for a, b in found if a in position and b in position]

    return fit_transform(
        vectors,
        [history.rows[i][2] for i in rows],
        pairs_same=pairs(history.same),
        pairs_different=pairs(history.different),
    )


@transaction.atomic
def transform_refit(*, now: dt.datetime | None = None) -> LearnedTransform | None:
    """Fit the transform on the confirmed history, choose its bands on
    held-out wordings (merging/calibrate.py: auto-merged pairs at least 95%
    precise there; with fewer than 50 questions held out, letting through
    no more wrong pairs there than the shipped bands do without it) and store both, or nothing: no embedder, too little
    history, or the same history as the latest fit (so the job can run
    twice and fit once)."""
    model = embedder()
    if model is None:
        return None
    history = confirmed_history()
    fit, held = _split(history)
    if (
        history.questions < FEWEST_QUESTIONS
        or len({history.rows[i][2] for i in held}) < FEWEST_QUESTIONS
        or len(held) < FEWEST_ASKS
    ):
        logger.info("Too little confirmed history to learn from (%s asks).", len(history.rows))
        return None
    fingerprint = history.fingerprint(model.name)
    latest = LearnedTransform.objects.filter(embedder=model.name[:40]).first()
    if latest is not None and latest.history_hash == fingerprint:
        return latest
    remembering = RememberingEmbedder(model)  # calibrating re-clusters the same wordings
    chosen = calibrate(
        remembering,
        [(history.rows[i][1], history.rows[i][2]) for i in held],
        transform=_fit(remembering, history, fit),
    )
    # The bands chosen, the transform is fitted again on the whole history:
    # the held-out questions are the organisation's words too.
    transform = _fit(remembering, history, list(range(len(history.rows))))
    transform = transform.with_thresholds(**chosen.values())
    row = LearnedTransform.objects.create(
        embedder=model.name[:40],
        data=transform.to_bytes(),
        first_day=min(history.days),
        last_day=max(history.days),
        nights=len(history.days),
        questions=history.questions,
        asks=history.asks,
        pairs=len(history.same) + len(history.different),
        held_out=len(held),
        precision=chosen.precision,
        recall=chosen.recall,
        history_hash=fingerprint,
        fitted_at=now or timezone.now(),
    )
    old = LearnedTransform.objects.filter(embedder=row.embedder).values_list("pk", flat=True)[KEEP:]
    LearnedTransform.objects.filter(pk__in=list(old)).delete()
    return row
