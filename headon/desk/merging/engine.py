"""The merge engine: which question does an ask ask?

Three stages, cheapest first, each with a threshold calibrated on labelled data
(``bench/merge.py``): the same match key (exact), a high Jaccard similarity of
character n-grams (near), then sentence embeddings (meaning) compared by
average linkage on a density-adjusted similarity (see ``Thresholds``).
Precision matters more than recall here: a wrong merge hides a person's
question, a missed one only shows it twice.

Staff corrections arrive as ``Locks``: an ask pinned to a question stays there,
an ask forbidden from a question never lands in it, whatever a later automatic
run computes.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from .embedders import Embedder, Vectors
from .minhash import MinHashIndex, jaccard, shingles
from .normalise import is_chinese, match_key
from .overlap import DIM as OVERLAP_DIM
from .overlap import overlap_vectors

__all__ = [
    "Assignment",
    "Cluster",
    "Locks",
    "MergeEngine",
    "PairScore",
    "Thresholds",
]

logger = logging.getLogger(__name__)

Stage = Literal["pinned", "exact", "near", "meaning", "new"]
Mode = Literal["semantic", "lexical"]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds; calibrate them in bench/ when the embedder changes.

    Two asks a and b score

        2 cos(a, b) - 2 o(a, b) - (w_a r_a + w_b r_b) - t(a, b)

    and ask the same question from ``meaning`` up. r is an ask's mean cosine to
    its ``neighbours`` nearest asks: with weight w = 1 a pair must be closer than
    each side usually is to its own neighbours (CSLS, Conneau et al. 2018), which
    lifted pairwise F1 on CLINC150 from 0.51 to 0.67. o is their surface overlap
    (``overlap.py``) times an overlap weight, and t a fixed offset by script pair.

    A day sparser than the one the thresholds were calibrated on has a lower r
    for every ask, so its bar for merging falls with it: every r of such a day
    is raised until their median is ``reference_density`` (``day_shift``).
    0 turns the shift off.

    Asks written mostly in Chinese characters may have settings of their own:
    their cosine may lean on the first model (``zh_model_share`` of e5-small in
    e5+use), take its own density weight and pay for the characters two
    wordings share (``zh_overlap_weight``): e5 scores "左眼皮跳是什么征兆" and
    "右眼皮跳是什么征兆" as twins. e5 squeezes Chinese cosines into a narrow
    band, so a Chinese-Chinese score can be stretched by ``zh_scale`` (a
    Chinese-other one by its square root) to weigh like the rest inside a mixed
    question. ``zh_offset`` applies to two Chinese asks, ``cross_offset`` to a
    Chinese and another; two other asks have no offset.

    The defaults treat every script alike, as the engine always did. On LCQMC
    the Chinese settings bench/merge.py chooses on dev pairs lift F1 from 0.806
    to 0.823, but on the demo's bilingual day they merged asks of different
    questions (pairwise precision 0.995 -> 0.844); decision 7 has the numbers.
    """

    near: float = 0.8
    # Chosen by bench/merge.py for e5+use on CLINC150's validation split (CC BY 3.0),
    # never on a test split; recalibrate when the embedder changes.
    meaning: float = -0.15
    # The median r of that same sample of 1,500 asks, measured, not searched.
    reference_density: float = 0.748
    neighbours: int = 10
    # The weight w of r: 1 is CSLS, 0 a plain cosine (x2).
    density_weight: float = 1.0
    overlap_weight: float = 0.0
    zh_model_share: float = 0.5
    zh_density_weight: float = 1.0
    zh_overlap_weight: float = 0.0
    zh_scale: float = 1.0
    zh_offset: float = 0.0
    cross_offset: float = 0.0


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
    question_id: str
    stage: Stage
    score: float


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


class _UnionFind:
    """Union-find whose roots may carry a fixed question id; two fixed roots never join."""

    def __init__(self, fixed: Sequence[str | None]) -> None:
        self.parent = list(range(len(fixed)))
        self.fixed = list(fixed)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri == rj or (self.fixed[ri] is not None and self.fixed[rj] is not None):
            return
        if self.fixed[rj] is not None:
            ri, rj = rj, ri
        self.parent[rj] = ri


class _Encoded(NamedTuple):
    """A batch of match keys as the meaning stage sees them (see ``Thresholds``)."""

    vectors: Vectors  # unit length; Chinese asks lean on the first model
    overlap: Vectors  # surface overlap vectors times the square root of their weight
    chinese: npt.NDArray[np.bool_]
    density_weight: npt.NDArray[np.float32]  # w per key


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
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self.locks = locks or Locks()
        self.mode: Mode = "semantic" if embedder is not None else "lexical"
        if embedder is None:
            logger.warning(
                "MergeEngine in lexical mode: no sentence embedder, paraphrases stay apart."
            )
        self._new_id = new_question_id or (lambda: uuid.uuid4().hex)
        self._reset()

    # -- incremental state -------------------------------------------------------

    def _reset(self) -> None:
        self.ask_question: dict[str, str] = {}
        self._key_question: dict[str, str] = {}
        self._near = MinHashIndex()
        self._near_question: list[str] = []
        self._row: dict[str, int] = {}
        self._questions: list[str] = []
        dim = self.embedder.dim if self.embedder is not None else 1
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
        self._rsums[row] += float(enc.density_weight[i]) * (raw + self._day_shift())
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
        enc = self._embed([match_key(text) for text in texts])
        return None if enc is None else enc.vectors

    def densities(self, texts: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """Each distinct text's r among the others, before any day shift, as
        ``recluster`` measures it (None in lexical mode): the median over a
        calibration day is ``Thresholds.reference_density``."""
        enc = self._embed(list(dict.fromkeys(match_key(text) for text in texts)))
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
        """Assign one new ask to a question, creating a question if none matches."""
        key = match_key(text)
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
        if enc is not None and self._questions:
            raw = self._density(enc.vectors[0])
            scores = self._question_scores(enc, 0, raw + self._day_shift())
            for row in np.argsort(-scores)[:5]:
                score = float(scores[row])
                if score < self.thresholds.meaning:
                    break
                question_id = self._questions[row]
                if self.locks.allows(ask_id, question_id):
                    self._add_vector(question_id, enc, 0, raw)
                    self._remember(ask_id, key, question_id)
                    return Assignment(question_id, "meaning", score)
        question_id = self._new_id()
        self._place(ask_id, key, question_id, enc)
        return Assignment(question_id, "new", 1.0)

    def load(self, placed: Sequence[tuple[str, str, str]]) -> None:
        """Take up a day whose asks are already placed, (ask id, text, question
        id) each, in one batch: the state a re-cluster that found these
        questions would leave, every r taken over the whole day. Much faster
        than assigning each placed ask as a pinned one, which embeds one text
        at a time."""
        ask_ids = [ask_id for ask_id, _, _ in placed]
        keys = [match_key(text) for _, text, _ in placed]
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

    # -- pairs -------------------------------------------------------------------

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        """Score text pairs the way the engine compares asks, in one batch.

        The batch stands in for a day: each text's density r is taken among all
        the texts of the batch, as ``recluster`` does among a day's asks.
        """
        keys = [(match_key(a), match_key(b)) for a, b in pairs]
        unique = list(dict.fromkeys(k for pair in keys for k in pair))
        row = {key: i for i, key in enumerate(unique)}
        cosines: list[float | None] = [None] * len(keys)
        scores: list[float | None] = [None] * len(keys)
        enc = self._embed(unique)
        if enc is not None:
            _, raw = _densities(enc.vectors, self.thresholds.neighbours)
            density = raw + day_shift(raw, self.thresholds)
            for i, (a, b) in enumerate(keys):
                ra, rb = row[a], row[b]
                cos = float(enc.vectors[ra] @ enc.vectors[rb])
                cosines[i] = cos
                scores[i] = (
                    2 * (cos - float(enc.overlap[ra] @ enc.overlap[rb]))
                    - float(enc.density_weight[ra] * density[ra])
                    - float(enc.density_weight[rb] * density[rb])
                    - float(
                        _offsets(
                            self.thresholds,
                            float(enc.chinese[ra]),
                            1.0,
                            float(enc.chinese[rb]),
                            1.0,
                        )
                    )
                )
        return [
            PairScore(a == b, jaccard(shingles(a), shingles(b)), cos, score)
            for (a, b), cos, score in zip(keys, cosines, scores, strict=True)
        ]

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

        Exact and near duplicates are grouped first; in semantic mode the groups
        are then merged by average linkage (see ``_average_linkage``) until no
        pair of questions scores ``thresholds.meaning``. Asks pinned by staff start
        in their question and two pinned questions never merge; an ask forbidden
        from a question is taken out of it afterwards, whatever it scored.
        ``previous`` (ask id -> question id) keeps question ids stable across runs.
        The engine's incremental state is replaced by the result.
        """
        ask_ids = [ask_id for ask_id, _ in items]
        keys = [match_key(text) for _, text in items]
        units, unit_fixed = self._units(ask_ids, keys)
        groups = self._near_groups(units, unit_fixed, keys)
        unique_keys = sorted({keys[i] for _, members in groups for i in members})
        enc = self._embed(unique_keys)
        raw = np.zeros(len(unique_keys), dtype=np.float32)
        if enc is None:
            clusters = groups
        else:
            neighbours, raw = _densities(enc.vectors, self.thresholds.neighbours)
            density = raw + np.float32(day_shift(raw, self.thresholds))
            key_row = {key: row for row, key in enumerate(unique_keys)}
            clusters = self._average_linkage(groups, keys, enc, density, neighbours, key_row)
        result = self._name_clusters(clusters, ask_ids, keys, previous or {})
        self._rebuild(result, ask_ids, keys, enc, raw, unique_keys)
        return result

    def _units(
        self, ask_ids: Sequence[str], keys: Sequence[str]
    ) -> tuple[list[list[int]], list[str | None]]:
        # A unit is either all asks pinned to one question or all free asks with one key.
        by_unit: dict[tuple[bool, str], list[int]] = defaultdict(list)
        for i, (ask_id, key) in enumerate(zip(ask_ids, keys, strict=True)):
            pinned = self.locks.pinned.get(ask_id)
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
        members = [list(m) for _, m in groups]
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
            offsets = _offsets(t, zh_sizes[a], sizes[a], zh_sizes[others], sizes[others])
            pairs = sizes[others] * sizes[a]
            scores = (2 * (sums[others] @ sums[a] - osums[others] @ osums[a]) - offsets) / pairs - (
                rsums[others] / sizes[others] + rsums[a] / sizes[a]
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
            members[a].extend(members[b])
            members[b] = []
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
        return [(fixed[g], sorted(members[g])) for g in range(count) if members[g]]

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


def day_shift(raw: npt.NDArray[np.float32], t: Thresholds) -> float:
    """How much every r of a day is raised: up to ``t.reference_density``, the
    median r of the day the thresholds were calibrated on, never down.

    r is the mean cosine to an ask's nearest asks, and a sparse day (early
    morning, a quiet channel, a small organisation) has few near asks: its r
    falls, and with it the bar for merging. Before the shift, 40 CLINC150 asks
    went into 4 questions (pairwise precision 0.01) and assigning asks one at a
    time to an empty day merged nearly everything; with it precision stays near
    the calibrated day's at every size (decision 7). A day denser than the
    reference keeps its own r, so a day's own paraphrases still raise its bar.
    """
    if not len(raw):
        return t.reference_density
    return max(0.0, t.reference_density - float(np.median(raw)))


def _offsets(
    t: Thresholds, zh_a: Any, size_a: Any, zh_b: Any, size_b: Any
) -> npt.NDArray[np.float32]:
    """The offsets t summed over every pair across two sets of asks, from their
    sizes and how many of each are Chinese (a single ask is a set of one)."""
    other_a, other_b = size_a - zh_a, size_b - zh_b
    total = t.zh_offset * zh_a * zh_b + t.cross_offset * (zh_a * other_b + other_a * zh_b)
    return np.asarray(total, dtype=np.float32)


def _densities(vectors: Vectors, k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Each row's k nearest rows, and its raw r: the mean cosine to them (0 alone)."""
    neighbours, sims = _top_k(vectors, k)
    if not sims.size:
        return neighbours, np.zeros(len(vectors), dtype=np.float32)
    return neighbours, sims.mean(axis=1).astype(np.float32)


def _top_k(
    vectors: Vectors, k: int, block: int = 2048
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Each row's k most similar rows (itself excluded) and their cosines, exact.

    Exact search in blocks of 2,048 rows keeps memory at 2,048 x n floats; at a
    day's size after de-duplication this is simpler than an ANN index and exact.
    """
    n = len(vectors)
    k = max(min(k, n - 1), 0)
    idx = np.zeros((n, k), dtype=np.intp)
    top = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return idx, top
    for start in range(0, n, block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        idx[start : start + block] = part
        top[start : start + block] = np.take_along_axis(sims, part, axis=1)
    return idx, top
