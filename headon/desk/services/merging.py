"""Asks into questions, with the merge engine and staff corrections.

The engine works on string ids: an existing question is `str(pk)`, a new
one a fresh uuid that becomes a Question row here. Asks placed by staff are
pinned, and asks moved away from a question are forbidden from it, so no
automatic run overturns a correction.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from headon.desk.checks import check_merge_settings
from headon.desk.merging import Locks, MergeEngine, load_embedder
from headon.desk.merging.embedders import Embedder
from headon.desk.merging.normalise import match_key, tidy_title
from headon.desk.models import Ask, Question, TriageAction
from headon.desk.spam import spam_score

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


def merge_mode() -> str:
    return "semantic" if embedder() is not None else "lexical"


def locks_for(asks: Iterable[Ask]) -> Locks:
    """Staff placements pin asks; staff moves forbid the question left."""
    asks = list(asks)
    pinned = {
        str(a.pk): str(a.question_id)
        for a in asks
        if a.assigned_by == Ask.Assignment.STAFF and a.question_id
    }
    forbidden: dict[str, set[str]] = defaultdict(set)
    ids = {str(a.pk) for a in asks}
    for action in TriageAction.objects.filter(
        undone_at__isnull=True, kind__in=[TriageAction.Kind.SPLIT, TriageAction.Kind.MOVE]
    ).only("before"):
        for ask_id, (question_id, _by) in action.before.get("asks", {}).items():
            if ask_id in ids and question_id:
                forbidden[ask_id].add(str(question_id))
    return Locks(pinned=pinned, forbidden={k: frozenset(v) for k, v in forbidden.items()})


def _new_id() -> str:
    # Never all digits, so it cannot be taken for a Question pk.
    return f"new-{uuid.uuid4().hex}"


def _title(text: str) -> str:
    return (tidy_title(text) or text.strip())[:500]


def _representative(texts: list[str]) -> str:
    """A question's text: the most asked wording (by match key, so emoji
    and mentions do not split it), in its shortest tidy spelling."""
    # A likely-spam row never names a question while a clean one can.
    texts = [t for t in texts if not spam_score(t).likely] or texts
    keys = Counter(match_key(t) for t in texts)
    best = keys.most_common(1)[0][0]
    return min((_title(t) for t in texts if match_key(t) == best), key=len)


@dataclass(frozen=True)
class ReclusterResult:
    asks: int
    questions: int
    created: int
    moved: int
    mode: str


@transaction.atomic
def recluster_day(day: dt.date) -> ReclusterResult:
    """Cluster all asks of `day` again from scratch, honouring corrections.
    Question ids stay stable where the clusters stay the same."""
    asks = list(
        Ask.objects.filter(day=day).only("pk", "text", "question_id", "assigned_by").order_by("pk")
    )
    engine = MergeEngine(embedder=embedder(), locks=locks_for(asks), new_question_id=_new_id)
    previous = {str(a.pk): str(a.question_id) for a in asks if a.question_id}
    clusters = engine.recluster([(str(a.pk), a.text) for a in asks], previous=previous)
    _engines.pop(day, None)
    by_id = {str(a.pk): a for a in asks}
    existing = set(
        Question.objects.filter(pk__in=[int(q) for q in set(previous.values())]).values_list(
            "pk", flat=True
        )
    )
    created = moved = 0
    changed: list[Ask] = []
    for cluster in clusters:
        members = [by_id[ask_id] for ask_id in cluster.ask_ids]
        if cluster.question_id.isdigit() and int(cluster.question_id) in existing:
            question_id = int(cluster.question_id)
        else:
            question_id = Question.objects.create(
                text=_representative([a.text for a in members])
            ).pk
            created += 1
        for ask in members:
            if ask.question_id != question_id:
                moved += 1
                ask.question_id = question_id
                changed.append(ask)
    Ask.objects.bulk_update(changed, ["question"], batch_size=1000)
    return ReclusterResult(len(asks), len(clusters), created, moved, engine.mode)


# One engine per day per process, kept between calls so that placing a new
# ask costs one embedding, not the whole day's. It is rebuilt when a staff
# correction happened or another process moved an ask it knows. It is kept
# only once the transaction that taught it commits: after a rollback it
# would name questions that are not there (found by tests/test_xss.py;
# desk/tests/test_assign_rollback.py shows it with a control case).
_engines: dict[dt.date, tuple[MergeEngine, int]] = {}
_engines_lock = threading.Lock()


def _triage_marker() -> int:
    latest = TriageAction.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return latest * 1_000_000 + TriageAction.objects.filter(undone_at__isnull=False).count()


def _engine_for(day: dt.date, asks: list[Ask]) -> MergeEngine:
    marker = _triage_marker()
    placed = {str(a.pk): str(a.question_id) for a in asks if a.question_id is not None}
    cached = _engines.get(day)
    if cached is not None and cached[1] == marker:
        engine = cached[0]
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
    engine = MergeEngine(
        embedder=embedder(),
        locks=Locks(pinned=dict(locks.pinned) | placed, forbidden=locks.forbidden),
        # A new question is a row at once, so the cached engine knows it by pk.
        new_question_id=lambda: str(Question.objects.create(text="").pk),
    )
    engine.load(
        [(str(a.pk), a.text, str(a.question_id)) for a in asks if a.question_id is not None]
    )
    for old in sorted(_engines)[:-1]:  # keep today and yesterday
        if old != day:
            del _engines[old]
    _engines[day] = (engine, marker)
    return engine


@transaction.atomic
def assign_unassigned(day: dt.date) -> int:
    """Place the day's new asks into questions, one by one, without moving
    any ask already placed. Returns how many were placed."""
    asks = list(
        Ask.objects.select_for_update()
        .filter(day=day)
        .only("pk", "text", "question_id", "assigned_by")
        .order_by("pk")
    )
    todo = [a for a in asks if a.question_id is None]
    if not todo:
        return 0
    with _engines_lock:
        engine = _engine_for(day, asks)
        entry = _engines.pop(day)  # back in the cache when this commits
        for ask in todo:
            assignment = engine.assign(str(ask.pk), ask.text)
            ask.question_id = int(assignment.question_id)
            if assignment.stage == "new":
                Question.objects.filter(pk=ask.question_id).update(text=_title(ask.text))
    Ask.objects.bulk_update(todo, ["question"], batch_size=1000)
    transaction.on_commit(lambda: _keep(day, entry))
    return len(todo)


def _keep(day: dt.date, entry: tuple[MergeEngine, int]) -> None:
    with _engines_lock:
        _engines[day] = entry
