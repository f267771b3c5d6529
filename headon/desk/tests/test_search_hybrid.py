"""Search by meaning: stored answer vectors fused with the lexical index."""

from __future__ import annotations

import functools
import hashlib
import io
from unittest import mock

import numpy as np
from django.core.management import CommandError, call_command
from django.test import override_settings

from headon.desk.merging import load_embedder
from headon.desk.merging.embedders import ConcatEmbedder
from headon.desk.models import AnswerVector, Question
from headon.desk.services import answer_vectors, merging
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import published_answer
from headon.testing import PersonasTestCase

# Each pair: two words people use for one thing, in answers and queries.
# The pairs, which the lexical index also expands (SYNONYMS) ...
SYNONYMS = {
    "warranty": [("保修", "质保"), ("warranty", "guarantee")],
    "range": [("续航", "里程")],
}
# ... and pairs it does not know, which only the vectors can find.
UNLISTED = {"delivery": [("提车", "交车"), ("handover", "pickup")]}
ANSWERS = {
    "warranty": ("How long is the battery {en}?", "电池{zh}多久？"),
    "range": ("What is the {en} on a full charge?", "满电{zh}多少公里？"),
    "delivery": ("When is the {en} of my car?", "什么时候{zh}？"),
}
EN_RANGE = ("range", "mileage")
SUBJECTS = {
    "warranty": ["保修", "质保", "warranty", "guarantee"],
    "range": ["续航", "里程", "range", "mileage"],
    "delivery": ["提车", "交车", "handover", "pickup"],
}


class FakeEmbedder:
    """Texts on one subject point one way (whatever word they use for it);
    anything else gets its own direction, nearly orthogonal to the rest."""

    name = "fake"
    dim = 64

    def encode(self, texts):
        rows = []
        for text in texts:
            subject = next(
                (s for s, words in SUBJECTS.items() if any(w in text for w in words)), text
            )
            seed = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:4], "big")
            rows.append(np.random.default_rng(seed).standard_normal(self.dim))
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def publish(case, subject: str, en: str, zh: str):
    en_text, zh_text = ANSWERS[subject]
    question = Question.objects.create(text=zh_text.format(zh=zh))
    return published_answer(
        question,
        case.carol,
        case.dave,
        {
            "question_en": en_text.format(en=en),
            "question_zh": zh_text.format(zh=zh),
            "body_en": "See the answer.",
            "body_zh": "请看回答。",
        },
    )


@override_settings(HEADON_EMBEDDER=["none"])
class HybridSearchTests(PersonasTestCase):
    def use(self, model) -> None:
        for state in (merging._embedder_state, answer_vectors._model):
            state.clear()
            self.addCleanup(state.clear)
        merging._embedder_state["loaded"] = model

    def corpus(self, which: int):
        """The warranty, range and delivery answers, worded with the `which`
        word of each pair, and one on another subject."""
        self.use(FakeEmbedder())
        warranty = publish(
            self, "warranty", SYNONYMS["warranty"][1][which], SYNONYMS["warranty"][0][which]
        )
        ranged = publish(self, "range", EN_RANGE[which], SYNONYMS["range"][0][which])
        delivery = publish(
            self, "delivery", UNLISTED["delivery"][1][which], UNLISTED["delivery"][0][which]
        )
        publish_other = Question.objects.create(text="可以参观工厂吗")
        tour = published_answer(
            publish_other,
            self.carol,
            self.dave,
            {
                "question_en": "Can I tour the plant?",
                "question_zh": "可以参观工厂吗？",
                "body_en": "Yes, on open days.",
                "body_zh": "开放日可以。",
            },
        )
        return warranty, ranged, delivery, tour

    def test_synonyms_find_the_answer_in_both_directions(self) -> None:
        for which in (0, 1):
            with self.subTest(answers_use=which):
                answers = self.corpus(which)
                warranty, ranged, delivery, _tour = answers
                other = 1 - which
                listed = {
                    SYNONYMS["warranty"][0][other]: warranty.pk,
                    SYNONYMS["warranty"][1][other]: warranty.pk,
                    SYNONYMS["range"][0][other]: ranged.pk,
                }
                unlisted = {pair[other]: delivery.pk for pair in UNLISTED["delivery"]}
                for query, expected in {**listed, **unlisted}.items():
                    self.assertEqual(answering.search(query)[0][0], expected, query)
                    # The vectors alone find it too.
                    self.assertEqual(answer_vectors.nearest(query, limit=3)[0][0], expected)
                for query in unlisted:
                    # The control: the index alone does not know these words.
                    self.assertEqual(answering.lexical_search(query), [], query)
                query = f"电池{SYNONYMS['warranty'][0][other]}几年"
                self.assertEqual(answering.published_matches(query)[0][0].pk, warranty.pk)
                for answer in answers:
                    answer.delete()

    def test_the_index_expands_the_listed_synonyms_with_no_embedder(self) -> None:
        self.use(None)
        warranty = publish(self, "warranty", "warranty", "保修")
        ranged = publish(self, "range", "range", "续航")
        for query, expected in {"质保": warranty, "guarantee": warranty, "里程": ranged}.items():
            self.assertEqual(answering.search(query)[0][0], expected.pk, query)
            # The control: without the expansion the index finds nothing.
            with mock.patch.dict(answering.SYNONYMS, clear=True):
                self.assertEqual(answering.search(query), [], query)

    def test_a_query_about_nothing_answered_finds_nothing(self) -> None:
        self.corpus(0)
        self.assertEqual(answer_vectors.nearest("<script>alert(1)</script>", limit=10), [])
        self.assertEqual(answering.search("<script>alert(1)</script>"), [])
        self.assertEqual(answering.search("门票价格"), [])

    def test_vectors_are_stored_at_publication_and_read_from_the_cache(self) -> None:
        warranty, *_ = self.corpus(0)
        stored = AnswerVector.objects.get(answer=warranty)
        self.assertEqual(stored.embedder, "fake")
        self.assertEqual(len(stored.data) // 4 // stored.dim, 2)  # question in each language
        self.assertEqual(answering.search("质保")[0][0], warranty.pk)
        # A new answer is found at once: the cache sees the new row.
        later = publish(self, "warranty", "guarantee", "质保")
        self.assertIn(later.pk, [pk for pk, _ in answering.search("保修")])

    def test_with_no_embedder_nothing_is_stored_and_search_is_lexical(self) -> None:
        self.use(None)
        warranty = publish(self, "warranty", "warranty", "保修")
        self.assertFalse(AnswerVector.objects.exists())
        self.assertEqual(answering.search("电池质保"), answering.lexical_search("电池质保"))
        self.assertEqual(answering.search("电池保修")[0][0], warranty.pk)

    def test_the_command_stores_vectors_of_answers_published_before(self) -> None:
        self.use(None)
        delivery = publish(self, "delivery", "handover", "提车")
        with self.assertRaises(CommandError):
            call_command("search_vectors", stdout=io.StringIO())
        self.use(FakeEmbedder())
        self.assertEqual(answering.search("pickup"), [])  # no vectors yet
        out = io.StringIO()
        call_command("search_vectors", stdout=out)
        self.assertIn("fake vectors of 1 public answers", out.getvalue())
        self.assertEqual(answering.search("pickup")[0][0], delivery.pk)

    def test_a_process_without_the_engines_model_loads_use_alone(self) -> None:
        self.use(None)
        merging._embedder_state.clear()
        fake = FakeEmbedder()
        with (
            override_settings(HEADON_EMBEDDER=["e5+use", "e5"]),
            mock.patch.object(answer_vectors, "load_embedder", return_value=fake) as load,
        ):
            self.assertIs(answer_vectors.search_embedder(), fake)
            self.assertIs(answer_vectors.search_embedder(), fake)  # loaded once
        self.assertEqual(load.call_args_list, [mock.call(["use"], e5_engine=None)])
        # A process whose merge engine loaded e5+use lends its USE part.
        use = FakeEmbedder()
        use.name = "use-multilingual"
        e5 = FakeEmbedder()
        e5.name = "e5-small"
        merging._embedder_state["loaded"] = ConcatEmbedder([e5, use])
        self.assertIs(answer_vectors.search_embedder(), use)


@functools.cache
def sentence_model():
    return load_embedder(("e5+use",))


@override_settings(HEADON_EMBEDDER=["none"])
class RealModelTests(PersonasTestCase):
    """The same synonyms with the merge engine's own model, both directions."""

    def test_the_real_model_finds_the_synonyms(self) -> None:
        model = sentence_model()
        if model is None:
            self.skipTest("no sentence model loads on this machine")
        for state in (merging._embedder_state, answer_vectors._model):
            state.clear()
            self.addCleanup(state.clear)
        merging._embedder_state["loaded"] = model
        tour = published_answer(
            Question.objects.create(text="可以参观工厂吗"),
            self.carol,
            self.dave,
            {
                "question_en": "Can I tour the plant?",
                "question_zh": "可以参观工厂吗？",
                "body_en": "Yes, on open days.",
                "body_zh": "开放日可以。",
            },
        )
        for which in (0, 1):
            with self.subTest(answers_use=which):
                warranty = publish(
                    self, "warranty", SYNONYMS["warranty"][1][which], SYNONYMS["warranty"][0][which]
                )
                ranged = publish(self, "range", EN_RANGE[which], SYNONYMS["range"][0][which])
                other = 1 - which
                warranty_queries = [
                    f"电池{SYNONYMS['warranty'][0][other]}几年",
                    f"battery {SYNONYMS['warranty'][1][other]}",
                ]
                try:
                    for query in warranty_queries:
                        self.assertEqual(answering.search(query)[0][0], warranty.pk, query)
                        # USE knows these: its vectors alone find the answer.
                        found = answer_vectors.nearest(query, limit=3)
                        self.assertEqual(found[0][0], warranty.pk, query)
                    # USE puts 续航 and 里程 below its floor: the index's synonyms find it.
                    query = f"{SYNONYMS['range'][0][other]}有多少"
                    self.assertEqual(answering.search(query)[0][0], ranged.pk, query)
                    self.assertEqual(answering.search("<script>alert(1)</script>"), [])
                    self.assertNotIn(tour.pk, [pk for pk, _ in answering.search("电池质保")])
                finally:
                    warranty.delete()
                    ranged.delete()
