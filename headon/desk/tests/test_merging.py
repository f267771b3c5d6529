"""The merge engine's pure-Python core, with a tiny fake embedder instead of a model."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from headon.desk.merging import (
    Embedder,
    Locks,
    MergeEngine,
    Thresholds,
    exact_key,
    load_embedder,
    match_key,
)
from headon.desk.merging import embedders as embedders_module
from headon.desk.merging.embedders import ConcatEmbedder
from headon.desk.merging.engine import day_shift
from headon.desk.merging.normalise import is_chinese, tidy_title
from headon.desk.merging.overlap import overlap_vectors

# Three questions about a car launch; each topic is one direction in the fake space.
TOPICS = {
    "delivery": ["什么时候交付", "when will my car be delivered", "交车要等多久", "delivery date?"],
    "range": ["续航多少公里", "what is the real range", "满电能跑多远", "range on one charge"],
    "price": ["售价多少钱", "how much does it cost", "落地价是多少", "what is the price"],
}


class FakeEmbedder:
    """Maps each known text to its topic's direction plus a small, fixed per-text offset."""

    name = "fake"
    dim = 8

    def __init__(self) -> None:
        self.calls = 0
        self.vectors: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(0)
        for axis, texts in enumerate(TOPICS.values()):
            for text in texts:
                vec = np.zeros(self.dim, dtype=np.float32)
                vec[axis] = 1.0
                vec[3:] = rng.normal(0, 0.05, self.dim - 3)
                self.vectors[match_key(text)] = vec / np.linalg.norm(vec)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in self.vectors:
                out[i] = self.vectors[text]
            else:  # an unknown text points somewhere of its own
                out[i, 7] = 1.0
        return out


PLAIN = Thresholds(
    meaning=1.6,
    density_weight=0.0,
    neighbours=3,
    zh_density_weight=0.0,
    zh_overlap_weight=0.0,
    zh_scale=1.0,
    zh_offset=0.0,
    cross_offset=0.0,
)


def counter_ids():
    counter = itertools.count(1)
    return lambda: f"q{next(counter)}"


def make_engine(*, locks: Locks | None = None, lexical: bool = False) -> MergeEngine:
    # Plain cosine (density weight 0, no overlap or offsets) keeps the fake geometry
    # easy to reason about, in Chinese and English alike.
    return MergeEngine(
        embedder=None if lexical else FakeEmbedder(),
        thresholds=PLAIN,
        locks=locks,
        new_question_id=counter_ids(),
    )


def items():
    return [
        (f"{topic}-{i}", text) for topic, texts in TOPICS.items() for i, text in enumerate(texts)
    ]


def by_topic(clusters):
    return sorted(sorted(c.ask_ids) for c in clusters)


# -- normalisation -------------------------------------------------------------------


def test_full_width_letters_digits_and_spaces_become_half_width():
    assert match_key("ＨＥＬＬＯ　Ｗｏｒｌｄ　１２３") == "hello world 123"


def test_traditional_characters_match_their_simplified_form():
    assert match_key("這輛車甚麼時候交付？續航裡程多少") == match_key(
        "这辆车甚么时候交付?续航里程多少"
    )


def test_urls_mentions_topics_and_emoji_are_stripped():
    noisy = "//@小明: 什么时候交付？？😀👍🏽 [哈哈] #新车发布# https://t.cn/abc @张三 "
    assert match_key(noisy) == "什么时候交付"


def test_case_and_punctuation_do_not_change_the_key():
    assert exact_key("When is DELIVERY?!") == exact_key("when is delivery")
    assert exact_key("when is delivery") != exact_key("what is the range")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Are there ISOFIX points in the back? 🚗", "Are there ISOFIX points in the back?"),
        ("Is there a recall for the brakes? ??", "Is there a recall for the brakes?"),
        ("@小编 网上说用的是翻新电池？？ 👍😭", "网上说用的是翻新电池？"),
        ("#新车发布# 什麼時候交付？！[doge] https://t.cn/x", "什麼時候交付？"),
        ("what?! really??? ok", "what? really? ok"),
        ("🚗🚗", ""),
    ],
)
def test_a_title_keeps_the_words_as_written_and_drops_the_noise(text, title):
    assert tidy_title(text) == title


# -- grouping ------------------------------------------------------------------------


def test_exact_duplicates_share_a_question():
    engine = make_engine()
    first = engine.assign("a1", "什么时候交付？")
    second = engine.assign("a2", "什麼時候交付!!! 🚗")
    assert second.question_id == first.question_id
    assert second.stage == "exact"


def test_near_duplicates_share_a_question_without_the_model():
    engine = make_engine(lexical=True)
    first = engine.assign("a1", "请问这款新车的续航里程到底是多少公里呢")
    second = engine.assign("a2", "请问这款新车的续航里程到底是多少公里")
    assert second.question_id == first.question_id
    assert second.stage == "near"


def test_paraphrases_merge_by_meaning_and_different_questions_stay_apart():
    engine = make_engine()
    delivery = engine.assign("a1", "什么时候交付")
    assert engine.assign("a2", "when will my car be delivered").question_id == delivery.question_id
    price = engine.assign("a3", "售价多少钱")
    assert price.question_id != delivery.question_id
    assert price.stage == "new"


def test_recluster_groups_each_question_once():
    clusters = make_engine().recluster(items())
    assert by_topic(clusters) == [
        sorted(f"{topic}-{i}" for i in range(4)) for topic in sorted(TOPICS)
    ]


def test_recluster_keeps_question_ids_from_the_previous_run():
    previous = {ask_id: f"old-{ask_id.split('-')[0]}" for ask_id, _ in items()}
    clusters = make_engine().recluster(items(), previous=previous)
    assert {c.question_id for c in clusters} == {"old-delivery", "old-range", "old-price"}


# -- staff locks ---------------------------------------------------------------------------


def test_an_ask_pinned_by_staff_stays_in_its_question_in_a_recluster():
    locks = Locks(pinned={"price-0": "q-delivery-staff"})
    clusters = make_engine(locks=locks).recluster(items())
    owner = {ask: c.question_id for c in clusters for ask in c.ask_ids}
    assert owner["price-0"] == "q-delivery-staff"


def test_two_questions_staff_pinned_apart_never_merge():
    locks = Locks(pinned={"delivery-0": "q1", "delivery-1": "q2"})
    clusters = make_engine(locks=locks).recluster(items())
    owner = {ask: c.question_id for c in clusters for ask in c.ask_ids}
    assert owner["delivery-0"] == "q1"
    assert owner["delivery-1"] == "q2"


def test_an_ask_forbidden_from_a_question_never_lands_in_it():
    engine = make_engine(locks=Locks(forbidden={"a2": frozenset({"q1"})}))
    assert engine.assign("a1", "什么时候交付").question_id == "q1"
    # An exact duplicate, yet staff said it is not that question.
    assert engine.assign("a2", "什么时候交付").question_id != "q1"
    assert engine.assign("a3", "什么时候交付").question_id == "q1"


def test_a_forbidden_ask_is_taken_out_of_its_question_in_a_recluster():
    previous = {ask_id: f"old-{ask_id.split('-')[0]}" for ask_id, _ in items()}
    locks = Locks(forbidden={"range-1": frozenset({"old-range"})})
    clusters = make_engine(locks=locks).recluster(items(), previous=previous)
    owner = {ask: c.question_id for c in clusters for ask in c.ask_ids}
    assert owner["range-0"] == "old-range"
    assert owner["range-1"] != "old-range"


def test_a_pinned_ask_is_assigned_to_its_question_whatever_its_text():
    engine = make_engine(locks=Locks(pinned={"a9": "q-staff"}))
    engine.assign("a1", "什么时候交付")
    result = engine.assign("a9", "什么时候交付")
    assert (result.question_id, result.stage) == ("q-staff", "pinned")


# -- fallback -------------------------------------------------------------------------


def test_without_a_model_the_engine_says_so_and_runs_lexically(caplog):
    caplog.set_level(logging.WARNING)
    engine = make_engine(lexical=True)
    assert engine.mode == "lexical"
    assert "lexical mode" in caplog.text
    first = engine.assign("a1", "什么时候交付")
    assert engine.assign("a2", "售价多少钱").question_id != first.question_id
    assert engine.assign("a3", "什么时候交付?").stage == "exact"


def test_load_embedder_returns_none_and_warns_when_no_model_loads(monkeypatch, caplog):
    def broken(threads: int, engine: str | None) -> Embedder:
        raise ImportError("no model here")

    monkeypatch.setitem(embedders_module._FACTORIES, "e5", broken)
    monkeypatch.setitem(embedders_module._FACTORIES, "use", broken)
    caplog.set_level(logging.WARNING)
    assert load_embedder(("e5", "use")) is None
    assert "lexical mode" in caplog.text


def test_load_embedder_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="unknown embedder"):
        load_embedder(("word2vec",))


def test_pair_decisions_follow_the_same_stages_as_assignment():
    engine = make_engine()
    scores = engine.score_pairs(
        [
            ("什么时候交付?", "什麼時候交付"),  # exact after normalisation
            ("什么时候交付", "when will my car be delivered"),  # same meaning
            ("什么时候交付", "售价多少钱"),  # different questions
        ]
    )
    assert scores[0].same_key
    assert [engine.same_question(s) for s in scores] == [True, True, False]


# -- Chinese settings ------------------------------------------------------------------


class TableEmbedder:
    """Fixed unit vectors by match key; counts the texts it was asked to encode."""

    def __init__(self, name: str, table: dict[str, list[float]]) -> None:
        self.name = name
        self.dim = len(next(iter(table.values())))
        self.table = {
            k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in table.items()
        }
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, self.dim))


def test_a_chinese_ask_leans_on_the_first_model_and_skips_the_others():
    first = TableEmbedder("a", {"交付": [1, 0], "delivery": [0.6, 0.8]})
    second = TableEmbedder("b", {"交付": [0, 1], "delivery": [1, 0]})
    both = ConcatEmbedder([first, second])
    vectors = both.encode_weighted(["交付", "delivery"], [1.0, None])
    assert second.seen == ["delivery"]  # a share of 1 never runs the second model
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [1, 1], rtol=1e-6)
    # Chinese against other: sqrt(1 * 1/2) of the first model's cosine, none of the second's.
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.6 / np.sqrt(2), rel=1e-6)
    np.testing.assert_allclose(
        both.encode(["delivery"]), [[0.6 / 2**0.5, 0.8 / 2**0.5, 0.5**0.5, 0]], rtol=1e-6
    )


def test_the_script_of_a_key():
    assert is_chinese("model y 什么时候交付")
    assert is_chinese("交付")
    assert not is_chinese("does it support 微信")
    assert not is_chinese("")


def test_overlap_vectors_are_unit_length_and_close_for_shared_characters():
    left, right, other = overlap_vectors(
        ["左眼皮跳是什么征兆", "右眼皮跳是什么征兆", "续航多少公里"]
    )
    assert float(left @ left) == pytest.approx(1.0, rel=1e-6)
    assert float(left @ right) > 0.7
    assert abs(float(left @ other)) < 0.3
    assert not overlap_vectors([""]).any()


def test_chinese_wordings_that_share_most_characters_need_more_meaning():
    # A sentence model sees left and right eyelid as twins; the overlap term keeps them apart.
    table = {
        "左眼皮跳是什么征兆": [1, 0.1],
        "右眼皮跳是什么征兆": [1, 0.12],
        "眼皮为什么会跳": [1, 0.3],
    }
    plain = Thresholds(
        zh_overlap_weight=0.0, zh_density_weight=0.0, zh_scale=1.0, zh_offset=1.9, meaning=0.0
    )
    pair = [("左眼皮跳是什么征兆", "右眼皮跳是什么征兆")]
    without = MergeEngine(embedder=TableEmbedder("t", table), thresholds=plain)
    assert without.same_question(without.score_pairs(pair)[0])
    careful = MergeEngine(
        embedder=TableEmbedder("t", table),
        thresholds=Thresholds(**{**plain.__dict__, "zh_overlap_weight": 0.1}),
    )
    assert not careful.same_question(careful.score_pairs(pair)[0])


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_a_questions_score_is_the_mean_of_its_pair_scores_across_scripts(scale):
    # Average linkage must stay exact with stretches, overlaps and offsets by script.
    rng = np.random.default_rng(7)
    texts = ["什么时候交付", "交车要等多久", "when is delivery", "交付日期", "delivery date?"]
    keys = [match_key(t) for t in texts]
    table = {k: rng.normal(size=6).tolist() for k in keys}
    thresholds = Thresholds(
        meaning=-1e9,
        density_weight=0.0,
        zh_density_weight=0.0,
        overlap_weight=0.03,
        zh_overlap_weight=0.05,
        zh_scale=scale,
        zh_offset=0.4,
        cross_offset=0.25,
    )
    engine = MergeEngine(
        embedder=TableEmbedder("t", table),
        thresholds=thresholds,
        locks=Locks(pinned={f"a{i}": "q" for i in range(4)}),
    )
    for i, text in enumerate(texts[:4]):
        engine.assign(f"a{i}", text)
    assignment = engine.assign("new", texts[4])
    pairs = engine.score_pairs([(texts[4], t) for t in texts[:4]])
    assert assignment.question_id == "q"
    assert assignment.score == pytest.approx(np.mean([p.score for p in pairs]), abs=1e-5)


def test_a_misspelt_e5_engine_setting_stops_the_desk_with_its_name(settings, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from headon.desk.services import merging

    monkeypatch.setattr(merging, "_embedder_state", {})
    settings.HEADON_EMBEDDER = ["e5"]
    settings.HEADON_E5_ENGINE = "onnx-int4"
    with pytest.raises(ImproperlyConfigured, match="HEADON_E5_ENGINE='onnx-int4'"):
        merging.embedder()
    assert merging._embedder_state == {}  # nothing half-loaded is kept


# -- quiet days ------------------------------------------------------------------------

# Eight questions, each asked once in Chinese and once in English, none of them
# a wording of the demo's: a quiet day, or the first asks of a busy one.
QUIET_DAY = {
    "delivery": ["我的车什么时候能到？", "When will my order arrive?"],
    "range": ["满电能开多远", "How many km on a full charge?"],
    "price": ["现在买多少钱", "What does the base model cost?"],
    "warranty": ["电池保修几年", "How long is the battery guarantee?"],
    "charging": ["快充要多久充满", "How long does fast charging take?"],
    "tour": ["可以参观工厂吗", "Can the public tour the plant?"],
    "colour": ["有白色的吗", "Is there a white version?"],
    "seats": ["能坐几个人", "How many seats does it have?"],
}


@pytest.fixture(scope="module")
def sentence_model() -> Embedder:
    model = load_embedder(("e5+use",))
    if model is None:
        pytest.skip("no sentence model loads on this machine")
    return model


def quiet_asks() -> list[tuple[str, str]]:
    return [(f"{topic}-{i}", texts[i]) for i in range(2) for topic, texts in QUIET_DAY.items()]


def topics_of(groups: list[list[str]]) -> list[set[str]]:
    return [{ask_id.split("-")[0] for ask_id in group} for group in groups]


def test_a_quiet_day_keeps_its_questions_apart_when_asks_come_one_by_one(sentence_model):
    engine = MergeEngine(embedder=sentence_model)
    groups: dict[str, list[str]] = {}
    placed = {}
    for ask_id, text in quiet_asks():
        placed[ask_id] = engine.assign(ask_id, text)
        groups.setdefault(placed[ask_id].question_id, []).append(ask_id)
    assert all(len(topics) == 1 for topics in topics_of(list(groups.values())))
    # Still a desk that merges, or asks: a Chinese ask and its English twin share
    # a question, or the twin's question is suggested for a person to accept.
    first, twin = placed["delivery-0"].question_id, placed["delivery-1"]
    assert first in (twin.question_id, twin.suggested)


def test_a_quiet_day_is_not_swallowed_by_a_recluster(sentence_model):
    clusters = MergeEngine(embedder=sentence_model).recluster(quiet_asks())
    mixed = [t for t in topics_of([c.ask_ids for c in clusters]) if len(t) > 1]
    assert len(clusters) >= len(QUIET_DAY)
    assert len(mixed) <= 1  # "How long is ...?" twice may read as one question


def test_without_the_day_shift_a_quiet_day_merges_different_questions(sentence_model):
    # What the shift is for: a sparse day's r is low, and so was the bar for merging.
    unshifted = Thresholds(reference_density=0.0)
    clusters = MergeEngine(embedder=sentence_model, thresholds=unshifted).recluster(quiet_asks())
    assert any(len(t) > 1 for t in topics_of([c.ask_ids for c in clusters]))
    # At the best-F1 threshold of before the auto band (-0.15) it all became one question.
    loose = Thresholds(meaning=-0.15, suggest=-0.15, reference_density=0.0)
    clusters = MergeEngine(embedder=sentence_model, thresholds=loose).recluster(quiet_asks())
    assert len(clusters) < len(QUIET_DAY) / 2


def test_the_day_shift_raises_a_sparse_day_to_the_reference_and_never_lowers():
    t = Thresholds(reference_density=0.75)
    assert day_shift(np.array([], dtype=np.float32), t) == pytest.approx(0.75)
    assert day_shift(np.array([0.5, 0.55, 0.6], dtype=np.float32), t) == pytest.approx(0.2)
    assert day_shift(np.array([0.8, 0.9, 0.95], dtype=np.float32), t) == 0.0
    assert day_shift(np.array([0.5], dtype=np.float32), Thresholds(reference_density=0.0)) == 0.0


def test_assigning_after_a_recluster_uses_the_whole_days_shift(sentence_model):
    engine = MergeEngine(embedder=sentence_model)
    asks = quiet_asks()
    engine.recluster(asks)
    raw = engine.densities([text for _, text in asks])
    assert raw is not None
    assert engine._day_shift() == pytest.approx(day_shift(raw, engine.thresholds), abs=1e-6)


def test_misspelt_merge_settings_fail_the_system_checks_at_start(settings):
    from headon.desk.checks import check_merge_settings

    assert check_merge_settings() == []
    settings.HEADON_E5_ENGINE = "cuda"
    settings.HEADON_EMBEDDER = ["e5", "word2vec", "none"]
    errors = check_merge_settings()
    assert [e.id for e in errors] == ["desk.E001", "desk.E002"]
    assert "'cuda'" in errors[0].msg
    assert "'word2vec'" in errors[1].msg
    assert "none" not in errors[1].msg.split(":")[1]


def test_taking_up_a_placed_day_leaves_the_state_a_recluster_leaves():
    thresholds = replace(PLAIN, density_weight=1.0, meaning=-0.5)
    first = MergeEngine(embedder=FakeEmbedder(), thresholds=thresholds)
    clusters = first.recluster(items())
    texts = dict(items())
    placed = [(a, texts[a], c.question_id) for c in clusters for a in c.ask_ids]
    second = MergeEngine(embedder=FakeEmbedder(), thresholds=thresholds)
    second.load(placed)
    assert second.ask_question == first.ask_question
    for question_id in {c.question_id for c in clusters}:
        a, b = first._row[question_id], second._row[question_id]
        assert second._counts[b] == first._counts[a]
        assert np.allclose(second._sums[b], first._sums[a])
        assert second._rsums[b] == pytest.approx(first._rsums[a])
    new_text = "交车要等多久呢"
    assert second.assign("late", new_text) == first.assign("late", new_text)
