"""The merge engine's bands (auto, suggest, new), closed questions, and the
transform learned from confirmed history; pure Python with fixed vectors."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from headon.desk.merging import Locks, MergeEngine, Thresholds, Transform, fit_transform
from headon.desk.merging.calibrate import _scan, calibrate, pairwise_prf, precision_bound
from headon.desk.merging.learn import TransformError
from headon.desk.merging.normalise import match_key

# Plain cosine: a pair scores 2 cos. Auto from cos 0.8, suggest from cos 0.6.
BANDS = Thresholds(
    meaning=1.6,
    suggest=1.2,
    density_weight=0.0,
    zh_density_weight=0.0,
    neighbours=3,
    reference_density=0.0,
)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# "seat heating" and its rewording are one question; "heated steering wheel" is
# close (cos 0.7, the suggest band); "heat pump" is elsewhere.
VECTORS = {
    "are the rear seats heated": unit(1, 0, 0, 0),
    "rear seat heating": unit(0.95, np.sqrt(1 - 0.95**2), 0, 0),
    "is the steering wheel heated": unit(0.7, 0, np.sqrt(1 - 0.49), 0),
    "does it have a heat pump": unit(0, 0, 0, 1),
}


class Table:
    name = "table"
    dim = 4

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([VECTORS[t] for t in texts]) if texts else np.zeros((0, 4), np.float32)


def engine(**kwargs) -> MergeEngine:
    counter = itertools.count(1)
    return MergeEngine(
        embedder=Table(),
        thresholds=kwargs.pop("thresholds", BANDS),
        new_question_id=lambda: f"q{next(counter)}",
        **kwargs,
    )


SEATS, REWORDED, WHEEL, PUMP = VECTORS


# -- bands -------------------------------------------------------------------------


def test_an_ask_in_the_suggest_band_gets_its_own_question_naming_the_best_one():
    e = engine()
    first = e.assign("a1", SEATS)
    assert e.assign("a2", REWORDED).question_id == first.question_id  # auto: cos 0.95
    wheel = e.assign("a3", WHEEL)
    assert wheel.stage == "new"
    assert wheel.question_id != first.question_id
    assert wheel.suggested == first.question_id
    # Average linkage: the mean of 2 cos against both asks of the question.
    expected = float(VECTORS[WHEEL] @ VECTORS[SEATS] + VECTORS[WHEEL] @ VECTORS[REWORDED])
    assert wheel.suggested_score == pytest.approx(expected, abs=1e-5)
    assert e.ask_question["a3"] == wheel.question_id  # it stays apart until accepted


def test_an_ask_below_the_suggest_band_gets_no_suggestion():
    e = engine()
    e.assign("a1", SEATS)
    pump = e.assign("a2", PUMP)
    assert pump.stage == "new"
    assert pump.suggested is None
    assert pump.suggested_score is None


def test_an_ask_refused_from_a_question_is_never_suggested_for_it():
    e = engine(locks=Locks(forbidden={"a3": frozenset({"q1"})}))
    assert e.assign("a1", SEATS).question_id == "q1"
    wheel = e.assign("a3", WHEEL)
    assert wheel.stage == "new"
    assert wheel.suggested is None
    # Control: without the refusal the same ask is suggested for q1.
    e = engine()
    e.assign("a1", SEATS)
    assert e.assign("a3", WHEEL).suggested == "q1"


def test_suggestions_after_a_recluster_name_the_best_other_question():
    e = engine()
    previous = {"a1": "seats", "a2": "seats", "a3": "wheel", "a4": "pump"}
    clusters = e.recluster(
        [("a1", SEATS), ("a2", REWORDED), ("a3", WHEEL), ("a4", PUMP)], previous=previous
    )
    assert sorted(sorted(c.ask_ids) for c in clusters) == [["a1", "a2"], ["a3"], ["a4"]]
    found = e.suggestions(["wheel", "pump", "seats", "unknown"])
    assert set(found) == {"wheel", "seats"}
    assert found["wheel"][0] == "seats"
    assert found["seats"][0] == "wheel"
    assert BANDS.suggest <= found["wheel"][1] < BANDS.meaning


def test_suggestions_never_pair_a_refused_ask_with_its_question():
    locks = Locks(forbidden={"a3": frozenset({"seats"})})
    e = engine(locks=locks)
    previous = {"a1": "seats", "a2": "seats", "a3": "wheel", "a4": "pump"}
    e.recluster([("a1", SEATS), ("a2", REWORDED), ("a3", WHEEL), ("a4", PUMP)], previous=previous)
    assert e.suggestions(["wheel", "seats"]) == {}


def test_suggestions_follow_a_load_too():
    e = engine()
    e.load([("a1", SEATS, "seats"), ("a2", REWORDED, "seats"), ("a3", WHEEL, "wheel")])
    assert e.suggestions(["wheel"])["wheel"][0] == "seats"


# -- closed questions -----------------------------------------------------------------


def test_two_closed_questions_never_merge_in_a_recluster():
    items = [("a1", SEATS), ("a2", REWORDED)]
    previous = {"a1": "seats", "a2": "heated"}
    closed = engine(closed=frozenset({"seats", "heated"}))
    clusters = closed.recluster(items, previous=previous)
    assert sorted((c.question_id, c.ask_ids) for c in clusters) == [
        ("heated", ["a2"]),
        ("seats", ["a1"]),
    ]
    assert closed.suggestions(["seats", "heated"]) == {}
    # Control: open, the same two asks merge at an auto score.
    assert len(engine().recluster(items, previous=previous)) == 1


def test_a_closed_question_keeps_its_asks_and_takes_only_auto_scores():
    e = engine(closed=frozenset({"seats"}))
    previous = {"a1": "seats"}
    clusters = e.recluster([("a1", SEATS), ("a2", REWORDED), ("a3", WHEEL)], previous=previous)
    home = {a: c.question_id for c in clusters for a in c.ask_ids}
    assert home["a1"] == home["a2"] == "seats"  # cos 0.95: auto
    assert home["a3"] != "seats"
    pair = float(VECTORS[WHEEL] @ VECTORS[SEATS] + VECTORS[WHEEL] @ VECTORS[REWORDED])
    (other, score), *rest = e.suggestions([home["a3"]]).values()
    assert (other, rest) == ("seats", [])
    assert score == pytest.approx(pair, abs=1e-5)
    # Assigned live: the wheel ask is only suggested for the closed question.
    live = engine(closed=frozenset({"q1"}))
    live.assign("a1", SEATS)
    wheel = live.assign("a3", WHEEL)
    assert wheel.stage == "new"
    assert wheel.suggested == "q1"
    assert live.assign("a4", SEATS + "!!").question_id == "q1"  # an exact duplicate joins


# -- the learned transform -------------------------------------------------------------


def bilingual(classes: int, per_class: int, seed: int) -> tuple[np.ndarray, list[str], list[str]]:
    """Asks of ``classes`` questions in two languages: each language shifts every
    vector a long way along its own direction, further than questions differ."""
    rng = np.random.default_rng(seed)
    dim = 24
    centres = np.random.default_rng(99).normal(0, 1, (classes, dim))
    language = np.zeros((2, dim))
    language[0, :] = np.random.default_rng(7).normal(0, 0.8, dim)
    language[1] = -language[0]
    rows, labels, langs = [], [], []
    for c in range(classes):
        for i in range(per_class):
            lang = i % 2
            rows.append(centres[c] + language[lang] + rng.normal(0, 0.4, dim))
            labels.append(f"q{c}")
            langs.append("zh" if lang == 0 else "en")
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels, langs


class Lookup:
    """An embedder that looks each text's vector up."""

    name = "lookup"

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.dim = vectors.shape[1]
        self.table = {match_key(t): v for t, v in zip(texts, vectors, strict=True)}

    def encode(self, keys: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[k] for k in keys])


def twin_accuracy(x: np.ndarray, labels: list[str], langs: list[str]) -> float:
    """How often an ask is closer to its question in the other language than
    to any other question in its own language."""
    sims = x @ x.T
    hits = 0
    for i in range(len(x)):
        twin = max(
            sims[i, j] for j in range(len(x)) if labels[j] == labels[i] and langs[j] != langs[i]
        )
        rival = max(
            sims[i, j] for j in range(len(x)) if labels[j] != labels[i] and langs[j] == langs[i]
        )
        hits += twin > rival
    return hits / len(x)


def test_a_transform_fitted_on_history_brings_a_questions_languages_together():
    x, labels, _langs = bilingual(classes=12, per_class=10, seed=1)
    transform = fit_transform(x, labels)
    assert (transform.classes, transform.examples, transform.dims) == (12, 120, (24, 24))
    # New asks of the same questions, unseen in the fit.
    y, y_labels, y_langs = bilingual(classes=12, per_class=6, seed=2)
    before = twin_accuracy(y, y_labels, y_langs)
    after = twin_accuracy(transform.apply(y), y_labels, y_langs)
    assert before < 0.6 < 0.9 < after
    np.testing.assert_allclose(np.linalg.norm(transform.apply(y), axis=1), 1.0, rtol=1e-5)


def test_the_language_learned_from_history_helps_questions_it_never_saw():
    x, labels, _ = bilingual(classes=12, per_class=10, seed=1)
    transform = fit_transform(x[:60], labels[:60])  # the first six questions only
    y, y_labels, y_langs = bilingual(classes=12, per_class=6, seed=3)
    unseen = [i for i, label in enumerate(y_labels) if int(label[1:]) >= 6]
    y, y_labels, y_langs = y[unseen], [y_labels[i] for i in unseen], [y_langs[i] for i in unseen]
    assert twin_accuracy(transform.apply(y), y_labels, y_langs) > twin_accuracy(
        y, y_labels, y_langs
    )


def test_pairs_from_merges_and_splits_count_as_history():
    x, labels, _ = bilingual(classes=4, per_class=4, seed=5)
    plain = fit_transform(x, labels)
    # A person merged asks 0 and 4 (questions q0 and q1): they are pulled together.
    merged = fit_transform(x, labels, pairs_same=[(0, 4)])
    assert merged.pairs == 1

    def cosine(t: Transform) -> float:
        a, b = t.apply(x[[0, 4]])
        return float(a @ b)

    assert cosine(merged) > cosine(plain)


def test_a_transform_survives_its_bytes_and_refuses_others():
    x, labels, _ = bilingual(classes=5, per_class=4, seed=4)
    transform = fit_transform(x, labels).with_thresholds(meaning=0.1, suggest=-0.2, neighbours=7)
    again = Transform.from_bytes(transform.to_bytes())
    np.testing.assert_array_equal(again.matrix, transform.matrix)
    np.testing.assert_array_equal(again.mean, transform.mean)
    assert (again.classes, again.examples, again.pairs) == (5, 20, 0)
    assert dict(again.thresholds) == {"meaning": 0.1, "suggest": -0.2, "neighbours": 7}
    blob = transform.to_bytes()
    for bad in (b"", b"pickle", blob[:-4], blob.replace(b'"version": 1', b'"version": 9')):
        with pytest.raises(TransformError):
            Transform.from_bytes(bad)


def test_an_engine_takes_the_thresholds_calibrated_with_its_transform():
    x, labels, _ = bilingual(classes=5, per_class=4, seed=4)
    transform = fit_transform(x, labels).with_thresholds(meaning=0.25, neighbours=4)
    e = MergeEngine(embedder=Table(), transform=transform)
    assert (e.thresholds.meaning, e.thresholds.neighbours) == (0.25, 4)
    assert e.thresholds.suggest == Thresholds().suggest
    # Thresholds given to the engine win over the transform's.
    assert MergeEngine(embedder=Table(), thresholds=BANDS, transform=transform).thresholds == BANDS


def test_without_history_the_engine_is_unchanged_and_an_identity_transform_changes_nothing():
    items = [("a1", SEATS), ("a2", REWORDED), ("a3", WHEEL), ("a4", PUMP)]
    identity = Transform(
        matrix=np.eye(4, dtype=np.float32), mean=np.zeros(4, np.float32), classes=0, examples=0
    )
    plain, same = engine(), engine(transform=identity)
    assert engine(transform=None).thresholds == plain.thresholds == BANDS
    assert [(c.question_id, c.ask_ids) for c in plain.recluster(items)] == [
        (c.question_id, c.ask_ids) for c in same.recluster(items)
    ]
    a, b = plain.score_pairs([(SEATS, WHEEL)]), same.score_pairs([(SEATS, WHEEL)])
    assert a[0].score == pytest.approx(b[0].score, abs=1e-6)


def test_an_engine_with_a_transform_merges_twins_the_raw_one_keeps_apart():
    x, labels, _langs = bilingual(classes=6, per_class=10, seed=1)
    y, y_labels, y_langs = bilingual(classes=6, per_class=2, seed=8)  # one twin per question
    texts = [f"ask {i} {y_langs[i]}" for i in range(len(y))]
    twins = Lookup(texts, y)
    transform = fit_transform(x, labels)
    th = Thresholds(meaning=1.2, suggest=0.8, density_weight=0.0, reference_density=0.0)
    items = [(str(i), t) for i, t in enumerate(texts)]

    def pairs_together(e: MergeEngine) -> int:
        clusters = e.recluster(items)
        return sum(
            len({y_labels[int(a)] for a in c.ask_ids}) == 1 and len(c.ask_ids) == 2
            for c in clusters
        )

    assert pairs_together(MergeEngine(embedder=twins, thresholds=th)) == 0
    assert pairs_together(MergeEngine(embedder=twins, thresholds=th, transform=transform)) == 6


# -- calibration -----------------------------------------------------------------------


def test_calibration_chooses_bands_that_keep_their_promises_on_the_labelled_asks():
    from headon.desk.tests.test_merging import TOPICS, FakeEmbedder

    rows = [(text, topic) for topic, texts in TOPICS.items() for text in texts]
    # A near miss: a fourth topic's ask halfway to "price", labelled apart.
    rows.append(("is there a discount", "discount"))
    embedder = FakeEmbedder()
    embedder.vectors[match_key("is there a discount")] = unit(0, 0, 0.75, 0, 0, 0, 0, 0.66)
    chosen = calibrate(embedder, rows, base=Thresholds(neighbours=3), per_1000=100)
    assert chosen.precision >= 0.95
    assert chosen.f1 == pytest.approx(1.0)
    th = chosen.thresholds
    assert th.suggest <= th.meaning
    # At most 100 per 1,000 of 13 asks: one suggestion, the near miss.
    assert chosen.suggest_per_1000_assigned <= 100
    assert chosen.suggest_per_1000_reclustered <= 100
    e = MergeEngine(embedder=embedder, thresholds=th)
    for i, (text, _) in enumerate(rows[:-1]):
        e.assign(str(i), text)
    assert e.assign("x", "is there a discount").stage == "new"


def test_pairwise_precision_counts_pairs_of_asks():
    assert pairwise_prf(["a", "a", "b"], [1, 1, 1]) == pytest.approx((1 / 3, 1.0, 0.5))
    assert pairwise_prf(["a", "b"], [1, 2]) == (1.0, 1.0, 1.0)


# -- a re-cluster keeps only what live assignment would -----------------------------

# Angles in one plane, scored 2 cos under BANDS (auto from cos 0.8): two asks
# at 0 degrees, a third at -20 and four more at +25. The third joins the first
# two (cos 0.94), then the four join all three (average cos 0.84), and then the
# third scores only 0.785 against the other six: live assignment would never
# have put it there.
RIDER = {
    "apple": 0.0,
    "avocado": 0.0,
    "banana split": -20.0,
    "cherry": 25.0,
    "citrus": 25.0,
    "coconut": 25.0,
    "cranberry": 25.0,
}


class Plane:
    name = "plane"
    dim = 2

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        angles = np.radians([RIDER[t] for t in texts])
        return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def _recluster_rider(engine: MergeEngine) -> list[list[str]]:
    clusters = engine.recluster([(t, t) for t in RIDER])
    return sorted(sorted(c.ask_ids) for c in clusters)


def test_a_recluster_never_keeps_an_ask_below_the_auto_band_against_its_question():
    engine = MergeEngine(embedder=Plane(), thresholds=BANDS)
    assert _recluster_rider(engine) == [
        ["apple", "avocado", "cherry", "citrus", "coconut", "cranberry"],
        ["banana split"],
    ]
    # It is offered to a person instead: its score, 2 x 0.785, is in the suggest band.
    questions = [engine.ask_question[a] for a in ("banana split", "apple")]
    offered = engine.suggestions(questions)
    assert offered[questions[0]][0] == questions[1]
    assert 1.2 <= offered[questions[0]][1] < 1.6


def test_plain_average_linkage_would_have_kept_the_rider(monkeypatch):
    # The control: without the check the rider stays in the big question.
    def keep_all(self, parts, groups, *arrays):
        return [
            (None, sorted(i for p in merged for i in groups[p][1])) for merged in parts if merged
        ]

    monkeypatch.setattr(MergeEngine, "_keep_passing", keep_all)
    engine = MergeEngine(embedder=Plane(), thresholds=BANDS)
    assert _recluster_rider(engine) == [sorted(RIDER)]


# -- calibration's margin ----------------------------------------------------------


def test_the_precision_bound_is_below_the_precision_and_tighter_with_more_asks():
    # One wrong pair in twenty: 9 asks of "a" with 1 of "b", in one question.
    gold, pred = ["a"] * 9 + ["b"], [1] * 10
    precision = pairwise_prf(gold, pred)[0]
    small = precision_bound(gold, pred)
    large = precision_bound(gold * 20, [p + 10 * k for k in range(20) for p in pred])
    assert small < large < precision
    assert precision_bound(["a", "a", "b"], [1, 1, 2]) == 1.0


def test_the_scan_looks_past_a_few_wrong_near_duplicates_at_the_top():
    # At 2.0 only near duplicates merge: 2 pairs, one wrong. Further down many
    # more pairs merge, all right. The old scan stopped at 2.0 and merged nothing.
    def measure(t: float) -> tuple[float, float, float, float]:
        if t > 1.0:
            return (0.5, 0.01, 0.02, 0.2)
        if t > 0.0:
            return (0.99, 0.5, 0.66, 0.97)
        return (0.7, 0.9, 0.79, 0.6)

    chosen, metrics = _scan(measure, 0.95)
    assert 0.0 < chosen <= 1.0
    assert metrics[2] == 0.66


# -- a transform's bands and a small history ------------------------------------------


def few_questions_day() -> tuple[list[tuple[str, str]], list[tuple[str, str]], Any, Transform]:
    """A history of three questions; held-out asks of those three and two
    more; and a day of twelve questions (the demo's first night, in miniature)."""
    x, labels, _ = bilingual(classes=12, per_class=8, seed=1)
    history = [i for i, label in enumerate(labels) if int(label[1:]) < 3]
    y, day_labels, _ = bilingual(classes=12, per_class=4, seed=2)
    texts = [f"ask {i}" for i in range(len(y))]
    rows = list(zip(texts, day_labels, strict=True))
    held_out = [(t, q) for t, q in rows if int(q[1:]) < 5]
    transform = fit_transform(x[history], [labels[i] for i in history])
    return held_out, rows, Lookup(texts, y), transform


RAW = replace(BANDS, meaning=1.2, suggest=0.8)


def day_precision(embedder, rows, thresholds, transform=None) -> float:
    e = MergeEngine(embedder=embedder, thresholds=thresholds, transform=transform)
    label = {
        a: c.question_id
        for c in e.recluster([(str(i), t) for i, (t, _) in enumerate(rows)])
        for a in c.ask_ids
    }
    return pairwise_prf([q for _, q in rows], [label[str(i)] for i in range(len(rows))])[0]


def test_a_transforms_bands_let_through_no_more_wrong_pairs_than_the_engine_without_it():
    held_out, day, embedder, transform = few_questions_day()
    chosen = calibrate(embedder, held_out, transform=transform, base=RAW, untransformed=RAW)
    assert chosen.floors is not None
    th = chosen.thresholds
    assert th.meaning >= chosen.floors[0]
    assert th.suggest >= chosen.floors[1]
    keys = [match_key(t) for t, _ in held_out]
    labels = np.array([q for _, q in held_out], dtype=object)
    apart = np.triu(labels[:, None] != labels[None, :], k=1)
    before = MergeEngine(embedder=embedder, thresholds=RAW).key_scores(keys)
    after = MergeEngine(embedder=embedder, thresholds=th, transform=transform).key_scores(keys)
    assert before is not None
    assert after is not None
    before, after = before[apart], after[apart]
    assert (after >= th.meaning).sum() <= (before >= RAW.meaning).sum()
    assert (after >= th.suggest).sum() <= (before >= RAW.suggest).sum()
    # On the whole day of twelve questions the bands chosen on five hold up.
    floored = day_precision(embedder, day, th, transform)
    assert floored > 0.6


def test_without_the_floor_a_small_history_chooses_bands_that_merge_other_questions(monkeypatch):
    """The control: the same calibration without the floor chose an auto band
    that was right on the five held-out questions and wrong on the day."""
    from headon.desk.merging import calibrate as calibration

    held_out, day, embedder, transform = few_questions_day()
    floored = calibrate(embedder, held_out, transform=transform, base=RAW, untransformed=RAW)
    monkeypatch.setattr(calibration, "_floors", lambda *args: (-np.inf, -np.inf))
    loose = calibrate(embedder, held_out, transform=transform, base=RAW, untransformed=RAW)
    assert loose.precision == floored.precision == 1.0  # both perfect on what they saw
    assert loose.thresholds.meaning < floored.thresholds.meaning
    assert (
        day_precision(embedder, day, loose.thresholds, transform)
        < 0.5
        < day_precision(embedder, day, floored.thresholds, transform)
    )
