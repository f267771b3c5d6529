"""The semantic half of answer search: sentence vectors stored per answer.

Publishing an answer encodes its texts once (its question in both languages
and the questions people asked that staff linked to it) and stores them as
an AnswerVector. A search encodes only the query, one short text, and takes
each answer's closest text by cosine. Only answers from `FLOOR` up are
returned, so a query about nothing the desk answered finds nothing here.

The signal is the cheapest part of the merge engine's embedder (USE in
e5+use: about 7 ms per query on the bench machine, against about 30 ms for
e5+use), so a search stays well under 20 ms; a web process loads USE alone. With no embedder configured
(HEADON_EMBEDDER=none, the tests) nothing is stored and search is lexical.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from headon.desk.merging import load_embedder, match_key
from headon.desk.merging.embedders import Embedder
from headon.desk.models import Answer, AnswerVector
from headon.desk.services import merging

# Below this cosine an answer is not a semantic match. USE's cosine between
# unrelated questions on the desk's subjects sits around 0.2-0.45; a
# paraphrase or a synonym swap (保修/质保, warranty/guarantee) is above 0.6.
# Chosen on CLINC150's validation split and LCQMC dev (bench/search.py).
FLOOR = 0.5
ASKED = 20  # linked questions encoded per answer, as in the lexical index

_lock = threading.Lock()
_Index = tuple[np.ndarray, np.ndarray, np.ndarray]
_cache: dict[str, Any] = {}
_model: dict[str, Embedder | None] = {}


def search_embedder() -> Embedder | None:
    """What search encodes with: USE when it is configured, else the
    configured embedder; None in lexical mode. A process that loaded the
    merge engine's embedder (the worker) lends its USE part; one that did
    not (a web process) loads USE alone, not e5 beside it."""
    model = merging.embedder_if_loaded()
    if model is not None:
        parts: Sequence[Embedder] = getattr(model, "parts", ())
        return next((p for p in parts if p.name.startswith("use")), model)
    with _lock:
        if "loaded" not in _model:
            preference = [n for n in settings.HEADON_EMBEDDER if n != "none"]
            if any(n in ("e5+use", "use") for n in preference):
                preference = ["use"]
            _model["loaded"] = (
                load_embedder(preference, e5_engine=settings.HEADON_E5_ENGINE)
                if preference
                else None
            )
        return _model["loaded"]


def answer_texts(answer: Answer) -> list[str]:
    copy = answer.published or {}
    texts = [str(copy.get(k, "")) for k in ("question_en", "question_zh")]
    texts += answer.questions.filter(set_aside="").values_list("text", flat=True)[:ASKED]
    keys = [match_key(t) for t in texts]
    return list(dict.fromkeys(k for k in keys if k))


def refresh(answer: Answer) -> None:
    """Store the answer's vectors (at publication), or none in lexical mode."""
    model = search_embedder()
    AnswerVector.objects.filter(answer=answer).delete()
    texts = answer_texts(answer) if model is not None else []
    if model is None or not texts:
        return
    vectors = np.asarray(model.encode(texts), dtype=np.float32)
    AnswerVector.objects.create(
        answer=answer, embedder=model.name, dim=vectors.shape[1], data=vectors.tobytes()
    )


def _index(name: str) -> _Index:
    """(vectors, answer id per vector, first row per answer), cached per
    process until a vector is written or removed."""
    rows = AnswerVector.objects.filter(embedder=name, answer__published__isnull=False)
    signature = (name, *rows.aggregate(n=Count("id"), last=Max("id")).values())
    with _lock:
        if _cache.get("signature") != signature:
            blocks, owners, starts, at = [], [], [], 0
            for pk, dim, data in rows.order_by("id").values_list("answer", "dim", "data"):
                block = np.frombuffer(bytes(data), dtype=np.float32).reshape(-1, dim)
                blocks.append(block)
                owners.append(pk)
                starts.append(at)
                at += len(block)
            _cache["signature"] = signature
            _cache["index"] = (
                np.vstack(blocks) if blocks else np.zeros((0, 1), dtype=np.float32),
                np.asarray(owners, dtype=np.int64),
                np.asarray(starts, dtype=np.int64),
            )
        index: _Index = _cache["index"]
    return index


def nearest(query: str, *, limit: int, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
    """[(answer id, cosine)] of the answers closest to `query`, from FLOOR up."""
    model = search_embedder()
    key = match_key(query[:500])
    if model is None or not key:
        return []
    vectors, owners, starts = _index(model.name)
    if not len(owners):
        return []
    query_vector = np.asarray(model.encode([key])[0], dtype=np.float32)
    # einsum, not @: a matrix-vector product through BLAS woke its threads,
    # which spun against the model's: a hybrid search took 14 ms of CPU, now 7.
    cosines = np.einsum("ij,j->i", vectors, query_vector)
    best = np.maximum.reduceat(cosines, starts)
    skip = set(exclude)
    order = np.argsort(-best, kind="stable")
    found: list[tuple[int, float]] = []
    for i in order:
        if best[i] < FLOOR or len(found) >= limit:
            break
        if int(owners[i]) not in skip:
            found.append((int(owners[i]), float(best[i])))
    return found
