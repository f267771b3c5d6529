"""Asks into questions, with the merge engine and staff corrections.

The engine works on string ids: an existing question is `str(pk)`, a new
one a fresh uuid that becomes a Question row here. Asks placed by staff are
pinned, and asks moved away from a question or refused for it are
forbidden from it, so no automatic run overturns a correction.

Every placement is recorded on the ask (`Ask.placement`): exact, near,
meaning with its score, or a question of its own; a placement in the
engine's suggest band leaves the ask in a question of its own with the
suggested question beside it, for the review queue (services/triage).
A question whose answer is public is closed: the engine places asks in it
only as duplicates or in its auto band (docs/decisions, placement record).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from headon.desk.checks import check_merge_settings
from headon.desk.merging import Assignment, Cluster, Locks, MergeEngine, load_embedder
from headon.desk.merging.embedders import Embedder, Vectors
from headon.desk.merging.fillers import shared_remarks
from headon.desk.merging.learn import Transform, TransformError
from headon.desk.merging.minhash import jaccard, shingles
from headon.desk.merging.normalise import is_chinese, match_key
from headon.desk.models import Ask, LearnedTransform, Question, TriageAction
from headon.desk.services.titles import representative, spam_like, title_of

logger = logging.getLogger(__name__)

_embedder_lock = threading.Lock()
_embedder_state: dict[str, Embedder | None] = {}


def embedder() -> Embedder | None:
    """The process's sentence embedder, loaded once (None: lexical mode)."""
    with _embedder_lock:
        if "loaded" not in _embedder_state:
            preference = [name for name in settings.HEADON_EMBEDDER if name != "none"]
            # The system check refuses these at start; a shell or a test may skip it.
            for error in check_merge_settings():
                raise ImproperlyConfigured(f"{error.msg} {error.hint}")
            _embedder_state["loaded"] = (
                load_embedder(preference, e5_engine=settings.HEADON_E5_ENGINE)
                if preference
                else None
            )
            if _embedder_state["loaded"] is None:
                logger.warning("The answer desk merges on exact and near duplicates only.")
        return _embedder_state["loaded"]


def embedder_if_loaded() -> Embedder | None:
    """The process's embedder if something loaded it already, without loading it."""
    with _embedder_lock:
        return _embedder_state.get("loaded")


def merge_mode() -> str:
    return "semantic" if embedder() is not None else "lexical"


def locks_for(asks: Iterable[Ask]) -> Locks:
    """Staff placements pin asks; staff moves forbid the question left, and
    a refused suggestion forbids the question refused."""
    asks = list(asks)
    pinned = {
        str(a.pk): str(a.question_id)
        for a in asks
        if a.assigned_by == Ask.Assignment.STAFF and a.question_id
    }
    forbidden: dict[str, set[str]] = defaultdict(set)
    ids = {str(a.pk) for a in asks}
    for action in TriageAction.objects.filter(
        undone_at__isnull=True,
        kind__in=[TriageAction.Kind.SPLIT, TriageAction.Kind.MOVE, TriageAction.Kind.REFUSE],
    ).only("kind", "before"):
        if action.kind == TriageAction.Kind.REFUSE:
            for ask_id, question_id in action.before.get("refused", {}).items():
                if ask_id in ids:
                    forbidden[ask_id].add(str(question_id))
            continue
        for ask_id, (question_id, _by) in action.before.get("asks", {}).items():
            if ask_id in ids and question_id:
                forbidden[ask_id].add(str(question_id))
    return Locks(pinned=pinned, forbidden={k: frozenset(v) for k, v in forbidden.items()})


def closed_questions(question_ids: Iterable[int | str | None]) -> frozenset[str]:
    """Those of the questions whose answer is public (covered): the engine
    places asks in them only as duplicates or in its auto band, so a new ask
    reaches an answered question below that band only through the review
    queue, never counted covered by a guess."""
    ids = {int(q) for q in question_ids if q is not None and str(q).isdigit()}
    return frozenset(
        str(pk)
        for pk in Question.objects.filter(pk__in=ids, covered_at__isnull=False).values_list(
            "pk", flat=True
        )
    )


# -- the learned transform -----------------------------------------------------------

_transform_lock = threading.Lock()
_transform_state: dict[str, tuple[int, Transform | None]] = {}


def current_transform(model: Embedder | None) -> tuple[int, Transform | None]:
    """The latest transform learned for this embedder, and its row id (0:
    none). Read once per row per process; one small query a call."""
    if model is None:
        return 0, None
    row = (
        LearnedTransform.objects.filter(embedder=model.name[:40])
        .order_by("-fitted_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if row is None:
        return 0, None
    with _transform_lock:
        cached = _transform_state.get(model.name)
        if cached is not None and cached[0] == row:
            return cached
        data = LearnedTransform.objects.filter(pk=row).values_list("data", flat=True).first()
        try:
            transform: Transform | None = Transform.from_bytes(bytes(data or b""))
        except TransformError:
            # Unreadable (written by another version): merge as without one, say so once.
            logger.exception("Learned transform #%s is unreadable; merging without it.", row)
            transform = None
        if transform is not None and transform.dims[0] != model.dim:
            logger.warning("Learned transform #%s does not fit %s; not used.", row, model.name)
            transform = None
        _transform_state[model.name] = (row, transform)
        return row, transform


class RememberingEmbedder:
    """The embedder, remembering every text's vector for one run, so the
    placement scores a re-cluster records cost no second pass of the model."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._memo: dict[tuple[str, float | None], Vectors] = {}
        weighted = getattr(inner, "encode_weighted", None)
        if weighted is not None:  # the engine looks for it by name
            self.encode_weighted = lambda texts, shares: self._cached(texts, shares, weighted)

    def encode(self, texts: Sequence[str]) -> Vectors:
        return self._cached(texts, [None] * len(texts), lambda t, _s: self.inner.encode(t))

    def _cached(
        self,
        texts: Sequence[str],
        shares: Sequence[float | None],
        run: Callable[[list[str], list[float | None]], Vectors],
    ) -> Vectors:
        keys = list(zip(texts, shares, strict=True))
        missing = [k for k in dict.fromkeys(keys) if k not in self._memo]
        if missing:
            vectors = run([t for t, _ in missing], [s for _, s in missing])
            self._memo.update(zip(missing, vectors, strict=True))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[k] for k in keys]).astype(np.float32, copy=False)


def new_engine(
    *,
    locks: Locks,
    closed: frozenset[str],
    new_question_id: Callable[[], str] | None = None,
    remember: bool = False,
    fillers: frozenset[str] = frozenset(),
) -> tuple[MergeEngine, int]:
    """An engine with the process's embedder and the latest learned
    transform, and the transform's row id (0: none). `remember`: the engine
    embeds each text once however often it is asked (one run's memory).
    `fillers`: remarks it matches asks without (`remarks_of`)."""
    model = embedder()
    row, transform = current_transform(model)
    engine = MergeEngine(
        embedder=RememberingEmbedder(model) if remember and model is not None else model,
        locks=locks,
        closed=closed,
        transform=transform,
        new_question_id=new_question_id,
        fillers=fillers,
    )
    return engine, row


def remarks_of(day: dt.date, asks: Iterable[Ask]) -> frozenset[str]:
    """The remarks that end asks of many questions (merging/fillers.py),
    among `asks` of `day` and the asks of the day before, under the
    questions they are in now: the public's habits carry over, so the first
    import of a day is matched without them too."""
    earlier = Ask.objects.filter(day=day - dt.timedelta(days=1)).values_list(
        "text", "question_id", "author_key"
    )
    return shared_remarks([*((a.text, a.question_id, a.author_key) for a in asks), *earlier])


def _new_id() -> str:
    # Never all digits, so it cannot be taken for a Question pk.
    return f"new-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ReclusterResult:
    asks: int
    questions: int
    created: int
    moved: int
    mode: str
    suggested: int = 0


@dataclass
class _Day:
    """A re-cluster's working state: the day's asks and where they go."""

    asks: dict[str, Ask]
    keys: dict[str, str]
    previous: dict[str, str]
    locks: Locks
    closed: frozenset[str]
    # question pk -> ask ids, in the order the questions are written.
    members: dict[int, list[str]]
    created: set[int]
    # A new question titled as an answered one of the day -> that one: put
    # to a person, never merged (the answered question is closed).
    twins: dict[int, int] = field(default_factory=dict)


@transaction.atomic
def recluster_day(day: dt.date) -> ReclusterResult:
    """Cluster all asks of `day` again from scratch, honouring corrections.

    Question ids stay stable where the clusters stay the same. Asks a person
    placed or confirmed stay where they are (pinned), and so do the asks of
    a question whose answer is public (closed: the ledger counted them).
    A new question never takes the title of an open question of the day:
    it joins that question when every lock allows, and is suggested for an
    answered one. Suggestions are worked out afresh for every free ask."""
    asks = list(
        Ask.objects.filter(day=day)
        .only(
            "pk",
            "text",
            "question_id",
            "author_key",
            "assigned_by",
            "placement",
            "placement_score",
            "suggested_id",
            "suggested_score",
        )
        .order_by("pk")
    )
    previous = {str(a.pk): str(a.question_id) for a in asks if a.question_id}
    locks = locks_for(asks)
    closed = closed_questions(a.question_id for a in asks)
    engine, _row = new_engine(
        locks=locks,
        closed=closed,
        new_question_id=_new_id,
        remember=True,
        fillers=remarks_of(day, asks),
    )
    clusters = engine.recluster([(str(a.pk), a.text) for a in asks], previous=previous)
    open_ids = [c.question_id for c in clusters if c.question_id not in closed]
    suggestions = engine.suggestions(open_ids)
    _engines.pop(day, None)
    work = _Day(
        asks={str(a.pk): a for a in asks},
        keys={str(a.pk): match_key(a.text) for a in asks},
        previous=previous,
        locks=locks,
        closed=closed,
        members={},
        created=set(),
    )
    names = _write_questions(work, clusters)
    placed = _placements(work, engine)
    suggested = _suggest(work, suggestions, names)
    moved = 0
    changed: list[Ask] = []
    for question_id, ask_ids in work.members.items():
        for ask_id in ask_ids:
            ask = work.asks[ask_id]
            how, score = placed.get(ask_id, (ask.placement, ask.placement_score))
            target, target_score = suggested.get(ask_id, (None, None))
            if ask.question_id != question_id:
                moved += 1
            new = (question_id, how, score, target, target_score)
            old = (
                ask.question_id,
                ask.placement,
                ask.placement_score,
                ask.suggested_id,
                ask.suggested_score,
            )
            if new != old:
                (
                    ask.question_id,
                    ask.placement,
                    ask.placement_score,
                    ask.suggested_id,
                    ask.suggested_score,
                ) = new
                changed.append(ask)
    Ask.objects.bulk_update(
        changed,
        ["question", "placement", "placement_score", "suggested", "suggested_score"],
        batch_size=1000,
    )
    _retitle(set(work.members) - work.created - {int(q) for q in closed})
    return ReclusterResult(
        len(asks),
        len(work.members),
        len(work.created),
        moved,
        engine.mode,
        sum(1 for target, _ in suggested.values() if target is not None),
    )


def _write_questions(work: _Day, clusters: list[Cluster]) -> dict[str, int]:
    """Give every cluster its Question row, and return the engine's ids as
    question pks. A new cluster whose title is an open question's joins it
    when the locks allow every one of its asks (issue 16: "充电桩送不送？"
    twice, side by side, after a re-merge)."""
    existing = {
        q.pk: q
        for q in Question.objects.filter(
            pk__in=[int(c.question_id) for c in clusters if c.question_id.isdigit()]
        ).only("pk", "text", "covered_at")
    }
    names: dict[str, int] = {}
    titles: dict[str, list[int]] = defaultdict(list)  # title's key -> open questions
    answered: dict[str, int] = {}  # title's key -> an answered question
    fresh: list[Cluster] = []
    for cluster in clusters:
        if cluster.question_id.isdigit() and int(cluster.question_id) in existing:
            question = existing[int(cluster.question_id)]
            names[cluster.question_id] = question.pk
            work.members[question.pk] = list(cluster.ask_ids)
            if question.covered_at is None:
                titles[match_key(question.text)].append(question.pk)
            else:
                answered.setdefault(match_key(question.text), question.pk)
        else:
            fresh.append(cluster)
    for cluster in fresh:
        texts = [work.asks[a].text for a in cluster.ask_ids]
        title = representative(texts)
        same = titles[match_key(title)]
        home = next(
            (q for q in same if all(work.locks.allows(a, str(q)) for a in cluster.ask_ids)), None
        )
        if home is not None:
            names[cluster.question_id] = home
            work.members[home].extend(cluster.ask_ids)
            continue
        if same:  # kept apart by a person: call it by another of its wordings
            others = [t for t in texts if match_key(t) != match_key(title)]
            title = representative(others) if others else _numbered(title, len(same) + 1)
        question = Question.objects.create(text=title)
        names[cluster.question_id] = question.pk
        work.members[question.pk] = list(cluster.ask_ids)
        work.created.add(question.pk)
        titles[match_key(title)].append(question.pk)
        if match_key(title) in answered:
            work.twins[question.pk] = answered[match_key(title)]
    return names


def _numbered(title: str, n: int) -> str:
    """The last resort for a title every open question of that title was
    refused: the same words, numbered ("充电桩送不送？（2）")."""
    return f"{title}（{n}）" if is_chinese(match_key(title)) else f"{title} ({n})"


def _placements(work: _Day, engine: MergeEngine) -> dict[str, tuple[str, float | None]]:
    """How each ask that moved (or had no record) came to be in its question
    after a re-cluster: the first ask of a new question is its own; then an
    exact or near duplicate of another ask of the question, or the same
    meaning, scored as the mean of the engine's pair scores against up to
    five other wordings of the question. Asks that stay keep their record."""
    near = engine.thresholds.near
    placed: dict[str, tuple[str, float | None]] = {}
    meaning: dict[str, list[str]] = {}
    texts: dict[int, dict[str, str]] = {}  # question -> its wordings by key
    for question_id, ask_ids in work.members.items():
        keys = {work.keys[a] for a in ask_ids}
        for position, ask_id in enumerate(ask_ids):
            ask = work.asks[ask_id]
            stays = ask.question_id == question_id and ask.placement
            if stays or ask.assigned_by == Ask.Assignment.STAFF:
                continue
            key = work.keys[ask_id]
            others = keys - {key}
            if question_id in work.created and position == 0:
                placed[ask_id] = (Ask.Placement.NEW, None)
            elif sum(1 for a in ask_ids if work.keys[a] == key) > 1:
                placed[ask_id] = (Ask.Placement.EXACT, None)
            elif any(jaccard(shingles(key), shingles(o)) >= near for o in others):
                placed[ask_id] = (Ask.Placement.NEAR, None)
            elif not others:
                placed[ask_id] = (Ask.Placement.NEW, None)
            else:
                placed[ask_id] = (Ask.Placement.MEANING, None)
                if question_id not in texts:
                    texts[question_id] = {work.keys[a]: work.asks[a].text for a in ask_ids}
                meaning[ask_id] = [texts[question_id][o] for o in sorted(others)[:5]]
    if meaning and engine.mode == "semantic":
        pairs = [(work.asks[a].text, o) for a, against in meaning.items() for o in against]
        scores = iter(engine.score_pairs(pairs))
        for ask_id, against in meaning.items():
            values = [next(scores).score for _ in against]
            known = [v for v in values if v is not None]
            placed[ask_id] = (Ask.Placement.MEANING, sum(known) / len(known) if known else None)
    return placed


def _suggest(
    work: _Day, suggestions: dict[str, tuple[str, float]], names: dict[str, int]
) -> dict[str, tuple[int | None, float | None]]:
    """The review queue after a re-cluster: every free ask of a question the
    engine suggests for another (or titled as an answered one), unless a
    person refused that one for it."""
    out: dict[str, tuple[int | None, float | None]] = {}
    targets: dict[int, tuple[int, float | None]] = {
        new: (twin, None) for new, twin in work.twins.items()
    }
    size = {q: len(asks) for q, asks in work.members.items()}
    for source, (target, score) in suggestions.items():
        if source in names and target in names and names[source] != names[target]:
            targets[names[source]] = (names[target], score)
    for mover, (into, _score) in list(targets.items()):
        back = targets.get(into)
        # Each suggested for the other: the smaller question is the one to move.
        if back is not None and back[0] == mover and (size[mover], -mover) > (size[into], -into):
            del targets[mover]
    for question_id, ask_ids in work.members.items():
        for ask_id in ask_ids:
            ask = work.asks[ask_id]
            found = targets.get(question_id)
            free = ask.assigned_by != Ask.Assignment.STAFF and str(question_id) not in work.closed
            if found and free and work.locks.allows(ask_id, str(found[0])):
                out[ask_id] = found
            else:
                out[ask_id] = (None, None)
    return out


def _retitle(question_ids: Iterable[int]) -> None:
    """A question titled after a spam-like ask takes the best other wording
    of its asks, once it has one."""
    questions = [
        q
        for q in Question.objects.filter(pk__in=list(question_ids), covered_at__isnull=True).only(
            "pk", "text"
        )
        if not q.text or spam_like(q.text)
    ]
    if not questions:
        return
    texts: dict[int, list[str]] = defaultdict(list)
    for question_id, text in Ask.objects.filter(question__in=questions).values_list(
        "question", "text"
    ):
        texts[question_id].append(text)
    for question in questions:
        if texts.get(question.pk):
            title = representative(texts[question.pk])
            if title != question.text and not spam_like(title):
                Question.objects.filter(pk=question.pk).update(text=title)


# One engine per day per process, kept between calls so that placing a new
# ask costs one embedding, not the whole day's. It is rebuilt when a staff
# correction happened, a new transform was learned, or another process moved
# an ask it knows. It is kept only once the transaction that taught it
# commits: after a rollback it would name questions that are not there
# (found by tests/test_xss.py; desk/tests/test_assign_rollback.py shows it
# with a control case).
_engines: dict[dt.date, tuple[MergeEngine, tuple[int, int]]] = {}
_engines_lock = threading.Lock()


def _triage_marker() -> int:
    latest = TriageAction.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return latest * 1_000_000 + TriageAction.objects.filter(undone_at__isnull=False).count()


def _engine_for(day: dt.date, asks: list[Ask], closed: frozenset[str]) -> MergeEngine:
    marker = (_triage_marker(), current_transform(embedder())[0])
    placed = {str(a.pk): str(a.question_id) for a in asks if a.question_id is not None}
    cached = _engines.get(day)
    if cached is not None and cached[1] == marker:
        engine = cached[0]
        engine.closed = closed  # an answer published since closes its questions
        known = engine.ask_question
        if all(
            known.get(ask_id, question_id) == question_id for ask_id, question_id in placed.items()
        ):
            missing = {k: v for k, v in placed.items() if k not in known}
            if missing:  # placed by another process meanwhile: pin them where they are
                engine.locks = Locks(
                    pinned={**engine.locks.pinned, **missing}, forbidden=engine.locks.forbidden
                )
                for ask in asks:
                    if str(ask.pk) in missing:
                        engine.assign(str(ask.pk), ask.text)
            return engine
    locks = locks_for(asks)
    # Every ask already placed is pinned where it is: placing new asks never
    # moves an old one.
    engine, _row = new_engine(
        locks=Locks(pinned=dict(locks.pinned) | placed, forbidden=locks.forbidden),
        closed=closed,
        # A new question is a row at once, so the cached engine knows it by pk.
        new_question_id=lambda: str(Question.objects.create(text="").pk),
        fillers=remarks_of(day, asks),
    )
    engine.load(
        [(str(a.pk), a.text, str(a.question_id)) for a in asks if a.question_id is not None]
    )
    for old in sorted(_engines)[:-1]:  # keep today and yesterday
        if old != day:
            del _engines[old]
    _engines[day] = (engine, marker)
    return engine


_STAGES = {
    "exact": Ask.Placement.EXACT,
    "near": Ask.Placement.NEAR,
    "meaning": Ask.Placement.MEANING,
    "new": Ask.Placement.NEW,
}


def _record(ask: Ask, assignment: Assignment) -> int:
    """Put the engine's decision on the ask; returns the question's pk."""
    ask.question_id = int(assignment.question_id)
    ask.placement = _STAGES.get(assignment.stage, "")
    ask.placement_score = assignment.score if assignment.stage == "meaning" else None
    target = assignment.suggested
    if target is not None and target.isdigit() and int(target) != ask.question_id:
        ask.suggested_id, ask.suggested_score = int(target), assignment.suggested_score
    return ask.question_id


@transaction.atomic
def assign_unassigned(day: dt.date) -> int:
    """Place the day's new asks into questions, one by one, without moving
    any ask already placed. Returns how many were placed."""
    asks = list(
        Ask.objects.select_for_update()
        .filter(day=day)
        .only("pk", "text", "question_id", "author_key", "assigned_by")
        .order_by("pk")
    )
    todo = [a for a in asks if a.question_id is None]
    if not todo:
        return 0
    closed = closed_questions({a.question_id for a in asks})
    with _engines_lock:
        engine = _engine_for(day, asks, closed)
        entry = _engines.pop(day)  # back in the cache when this commits
        for ask in todo:
            assignment = engine.assign(str(ask.pk), ask.text)
            question_id = _record(ask, assignment)
            if assignment.stage == "new":
                Question.objects.filter(pk=question_id).update(text=title_of(ask.text))
        locks = engine.locks
    _follow_suggestions(todo, locks)
    Ask.objects.bulk_update(
        todo,
        ["question", "placement", "placement_score", "suggested", "suggested_score"],
        batch_size=1000,
    )
    _retitle({ask.question_id for ask in todo if ask.placement != Ask.Placement.NEW})  # type: ignore[misc]
    transaction.on_commit(lambda: _keep(day, entry))
    return len(todo)


def _follow_suggestions(asks: list[Ask], locks: Locks) -> None:
    """A new ask that joined a question waiting in the review queue waits
    with it: accepting the question's suggestion takes every one of them."""
    joined = [a for a in asks if a.suggested_id is None and a.placement != Ask.Placement.NEW]
    if not joined:
        return
    waiting: dict[int, tuple[int, float | None]] = {}
    for question_id, target, score in (
        Ask.objects.filter(question__in={a.question_id for a in joined}, suggested__isnull=False)
        .order_by("pk")
        .values_list("question", "suggested", "suggested_score")
    ):
        waiting.setdefault(question_id, (target, score))
    for ask in joined:
        found = waiting.get(ask.question_id)  # type: ignore[arg-type]
        if found and locks.allows(str(ask.pk), str(found[0])):
            ask.suggested_id, ask.suggested_score = found


def _keep(day: dt.date, entry: tuple[MergeEngine, tuple[int, int]]) -> None:
    with _engines_lock:
        _engines[day] = entry
