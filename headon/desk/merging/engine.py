"""The merge engine: which question does an ask ask?

Three stages, cheapest first, each with a threshold calibrated on labelled data
(``bench/merge.py``): the same match key (exact), a high Jaccard similarity of
character n-grams (near), then sentence embeddings (meaning) compared by
average linkage on a density-adjusted similarity (see ``Thresholds``).
Precision matters more than recall here: a wrong merge hides a person's
question, a missed one only shows it twice.

Meaning scores fall in three bands (``Thresholds.meaning`` and ``.suggest``):
auto, merged at once; suggest, an ask of its own with the best question named
for a person to accept (``Assignment.suggested``, ``MergeEngine.suggestions``);
new. A ``closed`` question (one with a published answer) is never placed into
below the auto band. A ``Transform`` learned from confirmed history
(``learn.py``) may reshape the meaning vectors first.

Staff corrections arrive as ``Locks``: an ask pinned to a question stays there,
an ask forbidden from a question never lands in it, whatever a later automatic
run computes.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from .embedders import Embedder, Vectors
from .fillers import without_fillers
from .learn import Transform
from .minhash import MinHashIndex, jaccard, shingles
from .normalise import is_chinese, match_key
from .overlap import DIM as OVERLAP_DIM
from .overlap import overlap_vectors
from .scoring import Thresholds, day_shift, lifted
from .scoring import UnionFind as _UnionFind
from .scoring import densities as _densities
from .scoring import offsets as _offsets

__all__ = [
    "Assignment",
    "Cluster",
    "Locks",
    "MergeEngine",
    "PairScore",
    "Thresholds",
    "day_shift",
]

logger = logging.getLogger(__name__)

Stage = Literal["pinned", "exact", "near", "meaning", "new"]
Mode = Literal["semantic", "lexical"]


@dataclass(frozen=True)
class Locks:
    """Staff corrections, as constraints no automatic run may break."""

    pinned: Mapping[str, str] = field(default_factory=dict)  # ask id -> question id
    forbidden: Mapping[str, frozenset[str]] = field(default_factory=dict)  # ask id -> ids

    def allows(self, ask_id: str, question_id: str) -> bool:
        pinned = self.pinned.get(ask_id)
        if pinned is not None:
            return pinned == question_id
        return question_id not in self.forbidden.get(ask_id, frozenset())


@dataclass(frozen=True)
class Assignment:
    """Where an ask went. An ask in a question of its own (stage "new") whose
    best question scored in the suggest band names it in ``suggested``: it
    stays apart until a person accepts."""

    question_id: str
    stage: Stage
    score: float
    suggested: str | None = None
    suggested_score: float | None = None


@dataclass
class Cluster:
    question_id: str
    ask_ids: list[str]


@dataclass(frozen=True)
class PairScore:
    """What the engine sees when comparing two asks; see ``MergeEngine.same_question``."""

    same_key: bool
    jaccard: float
    cosine: float | None
    score: float | None  # the density-adjusted similarity ``meaning`` applies to


class _Encoded(NamedTuple):
    """A batch of match keys as the meaning stage sees them (see ``Thresholds``)."""

    vectors: Vectors  # unit length; Chinese asks lean on the first model
    overlap: Vectors  # surface overlap vectors times the square root of their weight
    chinese: npt.NDArray[np.bool_]
    density_weight: npt.NDArray[np.float32]  # w per key


def _linkage(t: Thresholds, a: tuple[Any, ...], b: tuple[Any, ...]) -> Any:
    """The average pair score across two sets of asks, from each side's sums
    (vectors, overlap vectors, size, Chinese asks, weighted densities); the
    second side may be many sets at once (see ``_average_linkage``)."""
    s_a, o_a, n_a, zh_a, r_a = a
    s_b, o_b, n_b, zh_b, r_b = b
    offsets = _offsets(t, zh_a, n_a, zh_b, n_b)
    return (2 * (s_b @ s_a - o_b @ o_a) - offsets) / (n_b * n_a) - (r_b / n_b + r_a / n_a)


def _pair_scores(
    t: Thresholds, enc: _Encoded, density: Any, a: Any, b: Any, similarity: Any
) -> Any:
    """Pair scores of rows a and b of one batch (index arrays that broadcast,
    for pairs or a matrix), given cos(a, b) - o(a, b): see ``Thresholds``."""
    w = enc.density_weight * density
    zh = enc.chinese.astype(np.float32)
    return 2 * similarity - w[a] - w[b] - _offsets(t, zh[a], 1.0, zh[b], 1.0)


class MergeEngine:
    """Assigns asks to questions one at a time, or re-clusters a whole batch.

    ``mode`` is "semantic" when an embedder is available and "lexical" when not;
    in lexical mode only exact and near duplicates are merged.
    """

    def __init__(
        self,
        *,
        embedder: Embedder | None,
        thresholds: Thresholds | None = None,
        locks: Locks | None = None,
        new_question_id: Callable[[], str] | None = None,
        closed: frozenset[str] = frozenset(),
        transform: Transform | None = None,
        fillers: frozenset[str] = frozenset(),
    ) -> None:
        self.embedder = embedder
        self.transform = transform
        # Remarks that end asks, matched as if absent (fillers.py): "在线等".
        self.fillers = frozenset(fillers)
        if thresholds is None and transform is not None and transform.thresholds:
            # Scores under a transform have their own scale: its calibration holds.
            thresholds = Thresholds.from_values(transform.thresholds)
        self.thresholds = thresholds or Thresholds()
        # Questions closed to automatic placement below the auto band (answered ones).
        self.closed = frozenset(closed)
        self.locks = locks or Locks()
        self.mode: Mode = "semantic" if embedder is not None else "lexical"
        if embedder is None:
            logger.warning(
                "MergeEngine in lexical mode: no sentence embedder, paraphrases stay apart."
            )
        self._new_id = new_question_id or (lambda: uuid.uuid4().hex)
        self._reset()

    def _key(self, text: str) -> str:
        """The key an ask is matched on: its match key without the remarks
        that end it."""
        return match_key(without_fillers(text, self.fillers))

    # -- incremental state -------------------------------------------------------

    def _reset(self) -> None:
        self.ask_question: dict[str, str] = {}
        self._key_question: dict[str, str] = {}
        self._near = MinHashIndex()
        self._near_question: list[str] = []
        self._row: dict[str, int] = {}
        self._questions: list[str] = []
        dim = self.embedder.dim if self.embedder is not None else 1
        if self.transform is not None:
            dim = self.transform.dims[1]
        # Per question: the sums of its asks' vectors and overlap vectors, how many
        # asks and how many of them Chinese, and the sum of their density terms;
        # enough to compute the average-linkage score of a new ask exactly.
        self._sums = np.zeros((64, dim), dtype=np.float32)
        self._osums = np.zeros((64, self._overlap_dim()), dtype=np.float32)
        self._counts = np.zeros(64, dtype=np.float32)
        self._zh_counts = np.zeros(64, dtype=np.float32)
        self._rsums = np.zeros(64, dtype=np.float32)
        self._points = np.zeros((64, dim), dtype=np.float32)
        self._raw = np.zeros(64, dtype=np.float32)  # each point's r when it came
        self._npoints = 0
        self._shift = 0.0
        self._shift_at = 0

    def _question_row(self, question_id: str) -> int:
        row = self._row.get(question_id)
        if row is None:
            row = len(self._questions)
            if row == len(self._counts):  # grow by doubling, amortised O(1) per question
                self._sums = np.concatenate([self._sums, np.zeros_like(self._sums)])
                self._osums = np.concatenate([self._osums, np.zeros_like(self._osums)])
                self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)])
                self._zh_counts = np.concatenate([self._zh_counts, np.zeros_like(self._zh_counts)])
                self._rsums = np.concatenate([self._rsums, np.zeros_like(self._rsums)])
            self._row[question_id] = row
            self._questions.append(question_id)
        return row

    def _add_vector(self, question_id: str, enc: _Encoded, i: int, raw: float) -> None:
        row = self._question_row(question_id)
        self._sums[row] += enc.vectors[i]
        self._osums[row] += enc.overlap[i]
        self._counts[row] += 1
        self._zh_counts[row] += float(enc.chinese[i])
        r = float(lifted(raw, self._day_shift(), self.thresholds))
        self._rsums[row] += float(enc.density_weight[i]) * r
        if self._npoints == len(self._points):
            self._points = np.concatenate([self._points, np.zeros_like(self._points)])
            self._raw = np.concatenate([self._raw, np.zeros_like(self._raw)])
        self._points[self._npoints] = enc.vectors[i]
        self._raw[self._npoints] = raw
        self._npoints += 1

    def _day_shift(self) -> float:
        """What the day's densities are raised by: see ``day_shift``. Updated as
        the day grows by a thirty-second, so a median costs O(1) per ask."""
        if self._npoints >= self._shift_at:
            self._shift = day_shift(self._raw[: self._npoints], self.thresholds)
            self._shift_at = self._npoints + max(1, self._npoints // 32)
        return self._shift

    def _remember(self, ask_id: str, key: str, question_id: str) -> None:
        self.ask_question[ask_id] = question_id
        if key not in self._key_question:
            self._key_question[key] = question_id
            self._near.add(shingles(key))
            self._near_question.append(question_id)

    def _embed(self, keys: Sequence[str]) -> _Encoded | None:
        if self.embedder is None:
            return None
        t = self.thresholds
        chinese = np.array([is_chinese(key) for key in keys], dtype=np.bool_)
        encode_weighted = getattr(self.embedder, "encode_weighted", None)
        if encode_weighted is not None:
            shares = [t.zh_model_share if zh else None for zh in chinese]
            vectors = encode_weighted(keys, shares)
        else:
            vectors = self.embedder.encode(keys)
        if self.transform is not None:
            vectors = self.transform.apply(vectors)
        if not self._overlap_dim():
            overlap = np.zeros((len(keys), 0), dtype=np.float32)
        else:
            overlap = overlap_vectors(keys)
            weight = np.where(chinese, t.zh_overlap_weight, t.overlap_weight).astype(np.float32)
            overlap *= np.sqrt(weight)[:, None]
        if t.zh_scale != 1.0:
            # Chinese-Chinese scores are stretched by zh_scale, Chinese-other ones by its root.
            stretch = np.where(chinese, np.sqrt(t.zh_scale), 1.0).astype(np.float32)[:, None]
            vectors, overlap = vectors * stretch, overlap * stretch
        density_weight = np.where(chinese, t.zh_density_weight, t.density_weight).astype(np.float32)
        return _Encoded(vectors, overlap, chinese, density_weight)

    def _overlap_dim(self) -> int:
        # No overlap weight, no overlap columns: nothing to compute, store or multiply.
        t = self.thresholds
        return OVERLAP_DIM if (t.zh_overlap_weight or t.overlap_weight) else 0

    def meaning_vectors(self, texts: Sequence[str]) -> Vectors | None:
        """The vectors the meaning stage compares for these texts (None in lexical mode)."""
        enc = self._embed([self._key(text) for text in texts])
        return None if enc is None else enc.vectors

    def densities(self, texts: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """Each distinct text's r among the others, before any day shift, as
        ``recluster`` measures it (None in lexical mode): the median over a
        calibration day is ``Thresholds.reference_density``."""
        enc = self._embed(list(dict.fromkeys(self._key(text) for text in texts)))
        return None if enc is None else _densities(enc.vectors, self.thresholds.neighbours)[1]

    def _density(self, vector: npt.NDArray[np.float32]) -> float:
        """The raw r of a new ask among the day's distinct asks so far."""
        k = min(self.thresholds.neighbours, self._npoints)
        if k == 0:
            return 0.0
        # Exact search: a matrix-vector product over the day's distinct asks.
        sims = self._points[: self._npoints] @ vector
        return float(np.partition(sims, -k)[-k:].mean())

    def _question_scores(self, enc: _Encoded, i: int, density: float) -> npt.NDArray[np.float32]:
        n = len(self._questions)
        counts = self._counts[:n]
        safe = np.maximum(counts, 1)
        offsets = _offsets(self.thresholds, float(enc.chinese[i]), 1.0, self._zh_counts[:n], counts)
        scores = (
            2 * (self._sums[:n] @ enc.vectors[i] - self._osums[:n] @ enc.overlap[i]) - offsets
        ) / safe - (float(enc.density_weight[i]) * density + self._rsums[:n] / safe)
        return np.where(counts > 0, scores, -np.inf).astype(np.float32)

    def assign(self, ask_id: str, text: str) -> Assignment:
        """Assign one new ask to a question, creating a question if none matches.

        Three bands of meaning score: from ``thresholds.meaning`` up (auto) the
        ask joins the question at once; from ``thresholds.suggest`` up it gets
        a question of its own that names the best one as ``suggested``, for a
        person to accept; below, a question of its own. A ``closed`` question
        takes exact and near duplicates, pinned asks and auto scores only: no
        band below auto ever places an ask, so it is only ever suggested.
        """
        key = self._key(text)
        pinned = self.locks.pinned.get(ask_id)
        if pinned is not None:
            self._place(ask_id, key, pinned)
            return Assignment(pinned, "pinned", 1.0)
        found = self._key_question.get(key)
        if found is not None and self.locks.allows(ask_id, found):
            self._remember(ask_id, key, found)
            return Assignment(found, "exact", 1.0)
        for pos, score in self._near.query(shingles(key), self.thresholds.near):
            question_id = self._near_question[pos]
            if self.locks.allows(ask_id, question_id):
                self._remember(ask_id, key, question_id)
                return Assignment(question_id, "near", score)
        enc = self._embed([key])
        suggested: tuple[str, float] | None = None
        if enc is not None and self._questions:
            raw = self._density(enc.vectors[0])
            density = float(lifted(raw, self._day_shift(), self.thresholds))
            scores = self._question_scores(enc, 0, density)
            t = self.thresholds
            # Best first; a few more than the auto band needs, for locks to skip.
            for row in np.argsort(-scores)[:20]:
                score = float(scores[row])
                if score < min(t.meaning, t.suggest):
                    break
                question_id = self._questions[row]
                if not self.locks.allows(ask_id, question_id):
                    continue
                if score >= t.meaning:
                    self._add_vector(question_id, enc, 0, raw)
                    self._remember(ask_id, key, question_id)
                    return Assignment(question_id, "meaning", score)
                suggested = (question_id, score)
                break
        question_id = self._new_id()
        self._place(ask_id, key, question_id, enc)
        if suggested is not None:
            return Assignment(question_id, "new", 1.0, *suggested)
        return Assignment(question_id, "new", 1.0)

    def load(self, placed: Sequence[tuple[str, str, str]]) -> None:
        """Take up a day whose asks are already placed, (ask id, text, question
        id) each, in one batch: the state a re-cluster that found these
        questions would leave, every r taken over the whole day. Much faster
        than assigning each placed ask as a pinned one, which embeds one text
        at a time."""
        ask_ids = [ask_id for ask_id, _, _ in placed]
        keys = [self._key(text) for _, text, _ in placed]
        members: dict[str, list[str]] = defaultdict(list)
        for ask_id, _, question_id in placed:
            members[question_id].append(ask_id)
        unique_keys = sorted(set(keys))
        enc = self._embed(unique_keys)
        raw = np.zeros(len(unique_keys), dtype=np.float32)
        if enc is not None:
            raw = _densities(enc.vectors, self.thresholds.neighbours)[1]
        clusters = [Cluster(question_id, ids) for question_id, ids in members.items()]
        self._rebuild(clusters, ask_ids, keys, enc, raw, unique_keys)

    def _place(self, ask_id: str, key: str, question_id: str, enc: _Encoded | None = None) -> None:
        if enc is None:
            enc = self._embed([key])
        if enc is None:
            self._question_row(question_id)
        else:
            self._add_vector(question_id, enc, 0, self._density(enc.vectors[0]))
        self._remember(ask_id, key, question_id)

    def score_against(self, texts: Sequence[str]) -> dict[str, float]:
        """The average-linkage score of a group of texts (one question's
        wordings) against each question the engine holds, placing nothing:
        the mean over the distinct texts of the score ``assign`` would give
        each (its density taken among the engine's asks). Compare it with
        the bands as ``assign`` does. Empty in lexical mode or with no texts."""
        keys = list(dict.fromkeys(k for k in (self._key(text) for text in texts) if k))
        enc = self._embed(keys) if keys else None
        if enc is None or not self._questions:
            return {}
        total = np.zeros(len(self._questions), dtype=np.float32)
        for i in range(len(keys)):
            density = float(
                lifted(self._density(enc.vectors[i]), self._day_shift(), self.thresholds)
            )
            total += self._question_scores(enc, i, density)
        return {
            question_id: float(total[row]) / len(keys)
            for row, question_id in enumerate(self._questions)
            if np.isfinite(total[row])
        }

    def suggestions(self, question_ids: Iterable[str]) -> dict[str, tuple[str, float]]:
        """For each of these questions, the best other question whose
        average-linkage score is in the suggest band, [suggest, meaning), and
        its score; a question with none is left out. Works on the state
        ``recluster`` or ``load`` left. Never suggests a pair that a
        forbidden ask keeps apart (either way round) or two closed questions.
        """
        t = self.thresholds
        n = len(self._questions)
        counts = self._counts[:n]
        if self.embedder is None or not n or t.suggest >= t.meaning:
            return {}
        members: dict[str, list[str]] = defaultdict(list)
        for ask_id, question_id in self.ask_question.items():
            members[question_id].append(ask_id)
        blocked: dict[str, set[str]] = defaultdict(set)
        for ask_id, refused in self.locks.forbidden.items():
            home = self.ask_question.get(ask_id)
            if home is None:
                continue
            for other in refused:
                blocked[home].add(other)
                blocked[other].add(home)
        safe = np.maximum(counts, 1)
        out: dict[str, tuple[str, float]] = {}
        for question_id in question_ids:
            a = self._row.get(question_id)
            if a is None or not counts[a]:
                continue
            offsets = _offsets(t, self._zh_counts[a], counts[a], self._zh_counts[:n], counts)
            cross = self._sums[:n] @ self._sums[a] - self._osums[:n] @ self._osums[a]
            scores = (2 * cross - offsets) / (safe * counts[a]) - (
                self._rsums[:n] / safe + self._rsums[a] / counts[a]
            )
            scores = np.where((counts > 0) & (scores < t.meaning), scores, -np.inf)
            scores[a] = -np.inf
            for row in np.argsort(-scores)[:20]:
                score = float(scores[row])
                if score < t.suggest:
                    break
                other = self._questions[row]
                if other in blocked[question_id] or {question_id, other} <= self.closed:
                    continue
                out[question_id] = (other, score)
                break
        return out

    # -- pairs -------------------------------------------------------------------

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        """Score text pairs the way the engine compares asks, in one batch.

        The batch stands in for a day: each text's density r is taken among all
        the texts of the batch, as ``recluster`` does among a day's asks.
        """
        keys = [(self._key(a), self._key(b)) for a, b in pairs]
        unique = list(dict.fromkeys(k for pair in keys for k in pair))
        row = {key: i for i, key in enumerate(unique)}
        cosines: list[float | None] = [None] * len(keys)
        scores: list[float | None] = [None] * len(keys)
        enc = self._embed(unique)
        if enc is not None:
            density = self._batch_density(enc)
            left = np.array([row[a] for a, _ in keys], dtype=np.intp)
            right = np.array([row[b] for _, b in keys], dtype=np.intp)
            cosines, scores = [], []
            for start in range(0, len(keys), 4096):  # a few MB of gathered rows at a time
                a, b = left[start : start + 4096], right[start : start + 4096]
                cos = np.einsum("ij,ij->i", enc.vectors[a], enc.vectors[b])
                similarity = cos - np.einsum("ij,ij->i", enc.overlap[a], enc.overlap[b])
                cosines += cos.tolist()
                scores += _pair_scores(self.thresholds, enc, density, a, b, similarity).tolist()
        return [
            PairScore(a == b, jaccard(shingles(a), shingles(b)), cos, score)
            for (a, b), cos, score in zip(keys, cosines, scores, strict=True)
        ]

    def key_scores(self, keys: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """The pair score of every two of these match keys, as a matrix (None
        in lexical mode); the keys stand in for a day, as in ``score_pairs``.
        n x n floats: for calibration's few thousand keys, not a whole day."""
        enc = self._embed(list(keys))
        if enc is None:
            return None
        rows = np.arange(len(keys))
        similarity = enc.vectors @ enc.vectors.T - enc.overlap @ enc.overlap.T
        density = self._batch_density(enc)
        scores: npt.NDArray[np.float32] = _pair_scores(
            self.thresholds, enc, density, rows[:, None], rows[None, :], similarity
        ).astype(np.float32)
        return scores

    def _batch_density(self, enc: _Encoded) -> npt.NDArray[np.float32]:
        """Each key's r among the batch, shifted as the day's would be."""
        _, raw = _densities(enc.vectors, self.thresholds.neighbours)
        shifted: npt.NDArray[np.float32] = lifted(
            raw, day_shift(raw, self.thresholds), self.thresholds
        )
        return shifted

    def same_question(self, pair: PairScore) -> bool:
        if pair.same_key or pair.jaccard >= self.thresholds.near:
            return True
        return pair.score is not None and pair.score >= self.thresholds.meaning

    # -- batch ---------------------------------------------------------------------

    def recluster(
        self,
        items: Sequence[tuple[str, str]],
        *,
        previous: Mapping[str, str] | None = None,
    ) -> list[Cluster]:
        """Cluster a batch of (ask id, text) from scratch, honouring the locks.

        Asks ``previous`` put in a ``closed`` question stay in it like pinned
        ones, so two closed questions never merge; other asks join it only as
        exact or near duplicates or at auto scores (the only ones that merge).

        Exact and near duplicates are grouped first; in semantic mode the groups
        are then merged by average linkage (see ``_average_linkage``) until no
        pair of questions scores ``thresholds.meaning``. Asks pinned by staff start
        in their question and two pinned questions never merge; an ask forbidden
        from a question is taken out of it afterwards, whatever it scored.
        ``previous`` (ask id -> question id) keeps question ids stable across runs.
        The engine's incremental state is replaced by the result.
        """
        ask_ids = [ask_id for ask_id, _ in items]
        keys = [self._key(text) for _, text in items]
        units, unit_fixed = self._units(ask_ids, keys, previous or {})
        groups = self._near_groups(units, unit_fixed, keys)
        unique_keys = sorted({keys[i] for _, members in groups for i in members})
        enc = self._embed(unique_keys)
        raw = np.zeros(len(unique_keys), dtype=np.float32)
        if enc is None:
            clusters = groups
        else:
            neighbours, raw = _densities(enc.vectors, self.thresholds.neighbours)
            density = lifted(raw, day_shift(raw, self.thresholds), self.thresholds)
            key_row = {key: row for row, key in enumerate(unique_keys)}
            clusters = self._average_linkage(groups, keys, enc, density, neighbours, key_row)
        result = self._name_clusters(clusters, ask_ids, keys, previous or {})
        self._rebuild(result, ask_ids, keys, enc, raw, unique_keys)
        return result

    def _units(
        self, ask_ids: Sequence[str], keys: Sequence[str], previous: Mapping[str, str]
    ) -> tuple[list[list[int]], list[str | None]]:
        # A unit is either all asks anchored to one question or all free asks with
        # one key. Pinned asks are anchored, and so are the asks of a closed
        # question: it keeps them, and two closed questions never merge.
        by_unit: dict[tuple[bool, str], list[int]] = defaultdict(list)
        for i, (ask_id, key) in enumerate(zip(ask_ids, keys, strict=True)):
            pinned = self.locks.pinned.get(ask_id)
            if pinned is None and previous.get(ask_id) in self.closed:
                pinned = previous[ask_id]
            by_unit[(True, pinned) if pinned is not None else (False, key)].append(i)
        units = list(by_unit.values())
        fixed = [name if is_pinned else None for (is_pinned, name) in by_unit]
        return units, fixed

    def _near_groups(
        self, units: list[list[int]], fixed: list[str | None], keys: Sequence[str]
    ) -> list[tuple[str | None, list[int]]]:
        index = MinHashIndex()
        owner: list[int] = []
        uf = _UnionFind(fixed)
        for unit_no, members in enumerate(units):
            for key in dict.fromkeys(keys[i] for i in members):
                grams = shingles(key)
                for pos, _ in index.query(grams, self.thresholds.near):
                    uf.union(unit_no, owner[pos])
                index.add(grams)
                owner.append(unit_no)
        grouped: dict[int, list[int]] = defaultdict(list)
        for unit_no, members in enumerate(units):
            grouped[uf.find(unit_no)].extend(members)
        return [(uf.fixed[root], sorted(members)) for root, members in grouped.items()]

    def _average_linkage(
        self,
        groups: list[tuple[str | None, list[int]]],
        keys: Sequence[str],
        enc: _Encoded,
        density: npt.NDArray[np.float32],
        neighbours: npt.NDArray[np.intp],
        key_row: Mapping[str, int],
    ) -> list[tuple[str | None, list[int]]]:
        """Merge groups, best pair first, while their average-linkage score passes.

        The average of the pair score (``Thresholds``) over all pairs across two
        clusters is ``(2 S_A.S_B - 2 O_A.O_B - T_AB) / (n_A n_B) - R_A/n_A - R_B/n_B``
        with S and O the sums of vectors and overlap vectors, R the sum of w r and
        T_AB the offsets summed from each side's count of Chinese asks, so it is
        exact without an n x n matrix. Only clusters joined by a nearest-neighbour
        edge are candidates, which keeps the cost near n * k.
        """
        vectors = enc.vectors
        count = len(groups)
        sums = np.zeros((count, vectors.shape[1]), dtype=np.float32)
        osums = np.zeros((count, enc.overlap.shape[1]), dtype=np.float32)
        sizes = np.zeros(count, dtype=np.float32)
        zh_sizes = np.zeros(count, dtype=np.float32)
        rsums = np.zeros(count, dtype=np.float32)
        group_of_point = np.zeros(len(vectors), dtype=np.intp)
        weighted_density = enc.density_weight * density
        for g, (_, group) in enumerate(groups):
            rows = sorted({key_row[keys[i]] for i in group})
            sums[g] = vectors[rows].sum(axis=0)
            osums[g] = enc.overlap[rows].sum(axis=0)
            sizes[g] = len(rows)
            zh_sizes[g] = enc.chinese[rows].sum()
            rsums[g] = weighted_density[rows].sum()
            group_of_point[rows] = g
        fixed = [f for f, _ in groups]
        parts = [[g] for g in range(count)]
        first = (sums.copy(), osums.copy(), sizes.copy(), zh_sizes.copy(), rsums.copy())
        version = [0] * count
        adjacency: list[set[int]] = [set() for _ in range(count)]
        for point, row in enumerate(neighbours):
            a = int(group_of_point[point])
            for b in (int(group_of_point[n]) for n in row):
                if a != b:
                    adjacency[a].add(b)
                    adjacency[b].add(a)

        t = self.thresholds

        def link(a: int, others: list[int]) -> npt.NDArray[np.float32]:
            scores = _linkage(
                t,
                (sums[a], osums[a], sizes[a], zh_sizes[a], rsums[a]),
                (sums[others], osums[others], sizes[others], zh_sizes[others], rsums[others]),
            )
            result: npt.NDArray[np.float32] = np.asarray(scores, dtype=np.float32)
            return result

        heap: list[tuple[float, int, int, int, int]] = []
        for a in range(count):
            others = sorted(b for b in adjacency[a] if b > a)
            for b, score in zip(others, link(a, others).tolist(), strict=True):
                heap.append((-score, a, b, 0, 0))
        heapq.heapify(heap)
        while heap:
            neg, a, b, va, vb = heapq.heappop(heap)
            if -neg < self.thresholds.meaning:
                break
            if a == b or version[a] != va or version[b] != vb:
                continue  # one side has merged since; its fresh pairs are in the heap
            if fixed[a] is not None and fixed[b] is not None:
                continue  # staff keep these two questions apart
            if sizes[b] > sizes[a]:
                a, b = b, a
            sums[a] += sums[b]
            osums[a] += osums[b]
            sizes[a] += sizes[b]
            zh_sizes[a] += zh_sizes[b]
            rsums[a] += rsums[b]
            fixed[a] = fixed[a] if fixed[a] is not None else fixed[b]
            version[a] += 1
            version[b] = -(1 << 30)  # dead: matches no heap entry
            adjacency[a] = (adjacency[a] | adjacency[b]) - {a, b}
            for c in adjacency[b] - {a}:
                adjacency[c].discard(b)
                adjacency[c].add(a)
            adjacency[b] = set()
            others = sorted(adjacency[a])
            for c, score in zip(others, link(a, others).tolist(), strict=True):
                lo, hi = (a, c) if a < c else (c, a)
                heapq.heappush(heap, (-score, lo, hi, version[lo], version[hi]))
            parts[a].extend(parts[b])
            parts[b] = []
        return self._keep_passing(parts, groups, first, sums, osums, sizes, zh_sizes, rsums)

    def _keep_passing(
        self,
        parts: list[list[int]],
        groups: list[tuple[str | None, list[int]]],
        first: tuple[npt.NDArray[np.float32], ...],
        sums: npt.NDArray[np.float32],
        osums: npt.NDArray[np.float32],
        sizes: npt.NDArray[np.float32],
        zh_sizes: npt.NDArray[np.float32],
        rsums: npt.NDArray[np.float32],
    ) -> list[tuple[str | None, list[int]]]:
        """Each merged question, less the groups that do not pass on their own.

        Average linkage joins two clusters when their average pair scores
        ``meaning``, so a group can ride in on its cluster's strength though
        it scores below the auto band against the rest of the question. Live
        assignment would never have put it there, so neither does a
        re-cluster: such a group (never one staff pinned) becomes a question
        of its own, which ``suggestions`` can then offer a person.
        """
        f_sums, f_osums, f_sizes, f_zh, f_rsums = first
        t = self.thresholds
        result: list[tuple[str | None, list[int]]] = []
        for g, merged in enumerate(parts):
            if not merged:
                continue
            kept: list[int] = []
            for part in merged:
                free = groups[part][0] is None
                rest = sizes[g] - f_sizes[part]
                if len(merged) > 1 and free and rest > 0:
                    score = _linkage(
                        t,
                        (f_sums[part], f_osums[part], f_sizes[part], f_zh[part], f_rsums[part]),
                        (
                            sums[g] - f_sums[part],
                            osums[g] - f_osums[part],
                            rest,
                            zh_sizes[g] - f_zh[part],
                            rsums[g] - f_rsums[part],
                        ),
                    )
                    if float(score) < t.meaning:
                        result.append((None, sorted(groups[part][1])))
                        continue
                kept.extend(groups[part][1])
            if kept:
                fixed = next((groups[p][0] for p in merged if groups[p][0] is not None), None)
                result.append((fixed, sorted(kept)))
        return result

    def _name_clusters(
        self,
        clusters: Sequence[tuple[str | None, list[int]]],
        ask_ids: Sequence[str],
        keys: Sequence[str],
        previous: Mapping[str, str],
    ) -> list[Cluster]:
        used = {fixed for fixed, _ in clusters if fixed is not None}
        result: list[Cluster] = []
        ejected: dict[str, list[str]] = defaultdict(list)
        for fixed, members in sorted(clusters, key=lambda c: min(c[1])):
            question_id = fixed
            if question_id is None:
                votes = Counter(previous[ask_ids[i]] for i in members if ask_ids[i] in previous)
                question_id = next((q for q, _ in votes.most_common() if q not in used), None)
                question_id = question_id or self._new_id()
                used.add(question_id)
            kept = []
            for i in members:
                if self.locks.allows(ask_ids[i], question_id):
                    kept.append(ask_ids[i])
                else:  # a staff "not this question" beats any similarity
                    ejected[keys[i]].append(ask_ids[i])
            if kept:
                result.append(Cluster(question_id, kept))
        result.extend(Cluster(self._new_id(), asks) for asks in ejected.values())
        return result

    def _rebuild(
        self,
        clusters: Sequence[Cluster],
        ask_ids: Sequence[str],
        keys: Sequence[str],
        enc: _Encoded | None,
        raw: npt.NDArray[np.float32],
        unique_keys: Sequence[str],
    ) -> None:
        self._reset()
        # The whole day's shift, as the batch used, until the day grows by a 32nd.
        self._shift = day_shift(raw, self.thresholds)
        self._shift_at = len(unique_keys) + max(1, len(unique_keys) // 32)
        key_of = dict(zip(ask_ids, keys, strict=True))
        key_row = {key: row for row, key in enumerate(unique_keys)}
        for cluster in clusters:
            self._question_row(cluster.question_id)
            seen: set[str] = set()
            for ask_id in cluster.ask_ids:
                key = key_of[ask_id]
                self._remember(ask_id, key, cluster.question_id)
                if enc is not None and key not in seen:
                    seen.add(key)
                    row = key_row[key]
                    self._add_vector(cluster.question_id, enc, row, float(raw[row]))
